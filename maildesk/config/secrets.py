"""Passwords from the config, the environment or a file, read only when needed.

`maildesk tickets list` must work in a shell that lacks the daemon's
environment, so secrets are not read while loading; `check` and `run` call
``secret_problems`` first, so a missing variable is still reported before
anything starts.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from maildesk.config.model import Credentials, Settings
from maildesk.errors import Problem, UserError


def read_password(creds: Credentials, key: str) -> str | None:
    """The password for the credentials at config key ``key``; ``UserError`` if unreadable."""
    if creds.password is not None:
        return creds.password
    if creds.password_env is not None:
        value = os.environ.get(creds.password_env)
        if value is None:
            raise UserError(
                [
                    Problem(
                        f"{key}.password_env",
                        f"environment variable {creds.password_env} is not set",
                    )
                ]
            )
        return value
    if creds.password_file is not None:
        try:
            # One trailing newline is what `echo secret > file` adds; it is not the password.
            return (
                creds.password_file.read_text(encoding="utf-8")
                .removesuffix("\n")
                .removesuffix("\r")
            )
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror.lower() if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise UserError(
                [Problem(f"{key}.password_file", f"cannot read {creds.password_file}: {reason}")]
            ) from None
    return None


def credential_keys(settings: Settings) -> Iterator[tuple[str, Credentials]]:
    for index, box in enumerate(settings.mailboxes):
        yield f"mailboxes[{index}]", box
    yield "smtp", settings.smtp


def secret_problems(settings: Settings) -> list[Problem]:
    """Every password that cannot be read, as problems naming the config file and key."""
    problems: list[Problem] = []
    for key, creds in credential_keys(settings):
        try:
            read_password(creds, key)
        except UserError as exc:
            problems.extend(Problem(str(settings.source), str(p)) for p in exc.problems)
    return problems
