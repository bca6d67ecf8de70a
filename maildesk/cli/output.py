"""Output for people (tables) and for scripts (--json), and exit codes."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.table import Table

# Exit codes, documented in the README.
OK = 0
FAILED = 1  # something could not be done (ticket not found, a server unreachable)
USER_ERROR = 2  # bad config, rules, templates or command line
TEMPFAIL = 75  # EX_TEMPFAIL: try again later (the database is unavailable)

stdout = Console(highlight=False, soft_wrap=False)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)


def timestamp(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with an explicit offset, the one time format of --json."""
    return value.isoformat(timespec="seconds") if value is not None else None


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


def print_table(
    columns: Sequence[str], rows: Iterable[Sequence[Any]], *, empty: str = "nothing to show"
) -> None:
    rows = list(rows)
    if not rows:
        stdout.print(empty, markup=False)
        return
    table = Table(*columns, box=None, pad_edge=False, header_style="bold")
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    stdout.print(table)


def error(line: str) -> None:
    stderr.print(f"maildesk: {line}", markup=False)
