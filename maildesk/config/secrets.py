"""Passwords from the config, the environment or a file, read only when needed.

`maildesk tickets list` must work in a shell that lacks the daemon's
environment, so secrets are not read while loading; `check` and `run` call
``secret_problems`` first, so a missing variable is still reported before
anything starts.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Iterator

from maildesk.config.model import Credentials, Mailbox, Settings
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


def mailbox_secret(box: Mailbox, key: str) -> str | None:
    """The password, or for XOAUTH2 a fresh access token, read at every (re)connect.

    The token command is expected to print a valid token, refreshing it when
    it has expired (e.g. `oauth2l fetch`, or a script around a refresh token);
    a login that fails with an expired token is retried with a new one.
    """
    if box.auth != "xoauth2":
        return read_password(box, key)
    if box.oauth2_token_file is not None:
        try:
            return box.oauth2_token_file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror.lower() if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise UserError(
                [
                    Problem(
                        f"{key}.oauth2_token_file", f"cannot read {box.oauth2_token_file}: {reason}"
                    )
                ]
            ) from None
    command = box.oauth2_token_command or ""
    try:
        done = subprocess.run(
            shlex.split(command), capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, ValueError, subprocess.TimeoutExpired) as exc:
        raise UserError(
            [Problem(f"{key}.oauth2_token_command", f"cannot run {command!r}: {exc}")]
        ) from None
    token = done.stdout.strip()
    if done.returncode != 0 or not token:
        why = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[0]
        raise UserError([Problem(f"{key}.oauth2_token_command", f"gave no token ({why[:200]})")])
    return token


def credential_keys(settings: Settings) -> Iterator[tuple[str, Credentials]]:
    for index, box in enumerate(settings.mailboxes):
        yield f"mailboxes[{index}]", box
    yield "smtp", settings.smtp


def secret_problems(settings: Settings) -> list[Problem]:
    """Every password that cannot be read, as problems naming the config file and key."""
    problems: list[Problem] = []
    for key, creds in credential_keys(settings):
        try:
            if isinstance(creds, Mailbox):
                mailbox_secret(creds, key)
            else:
                read_password(creds, key)
        except UserError as exc:
            problems.extend(Problem(str(settings.source), str(p)) for p in exc.problems)
    return problems
