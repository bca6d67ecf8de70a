"""The real `maildesk` command in its own process, and the list of its commands."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click


def maildesk(
    *args: str, cwd: Path | None = None, **kwargs: object
) -> subprocess.CompletedProcess[str]:
    """The real command, in its own process, as a user would run it."""
    return subprocess.run(
        [sys.executable, "-m", "maildesk", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
        **kwargs,
    )  # type: ignore[call-overload]


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix]
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found += _commands(command, (*prefix, name))
        else:
            found.append((*prefix, name))
    return found
