"""A click group whose commands are imported when used, not at every start.

`maildesk import` need not load the daemon's scheduler, SMTP server and
metrics, nor `maildesk --help` the whole pipeline. The group lists its
commands from a table of (module, function, one-line help); a test holds
that help to the command's own.
"""

from __future__ import annotations

import importlib
from typing import Any

import click


class LazyGroup(click.Group):
    def __init__(
        self, *args: Any, commands_from: dict[str, tuple[str, str, str]], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.table = commands_from

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self.table)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.table:
            return None
        module, name, _ = self.table[cmd_name]
        command = getattr(importlib.import_module(f"maildesk.cli.{module}"), name)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The listing from the table: no command module is imported for --help."""
        if not self.table:
            return
        limit = formatter.width - 6 - max(len(name) for name in self.table)
        rows = []
        for name in sorted(self.table):
            text: str = self.table[name][2]
            # click's own shortening, on a stand-in that has only the help
            rows.append((name, click.Command(name, help=text).get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)
