"""The README promises: CI runs exactly its test command, and its commands exist."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_ci_runs_the_readme_test_command() -> None:
    readme = (REPO / "README.md").read_text()
    marker = "The test command (CI runs exactly this"
    block = readme.split(marker, 1)[1]
    command = re.search(r"```sh\n(.+?)\n```", block, re.S)
    assert command is not None
    ci_lines = (REPO / ".ci" / "run").read_text().splitlines()
    assert ci_lines[-1] == command.group(1).strip()


def test_readme_mentions_every_command() -> None:
    from maildesk.cli.main import cli
    from tests.support.cli import _commands

    readme = (REPO / "README.md").read_text()
    for command in _commands(cli):
        if command:
            assert f"maildesk {' '.join(command)}" in readme, command
