"""Output for people (tables) and for scripts (--json), and exit codes."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:  # rich is imported when something is printed: a faster start
    from rich.console import Console

# Control characters in customer text must not reach a terminal as escapes.
_CONTROL = dict.fromkeys(c for c in range(32) if c not in (9, 10))
_CONTROL.update({127: None})

# Exit codes, documented in the README.
OK = 0
FAILED = 1  # something could not be done (ticket not found, a server unreachable)
USER_ERROR = 2  # bad config, rules, templates or command line
TEMPFAIL = 75  # EX_TEMPFAIL: try again later (the database is unavailable)


def _console(stream: TextIO) -> Console:
    """A console on the stream as it is now; tables never wrap when piped into a script."""
    from rich.console import Console

    width = None if stream.isatty() else 4096
    return Console(file=stream, width=width, highlight=False, soft_wrap=True)


def printable(text: str) -> str:
    return text.translate(_CONTROL)


def cell(text: str) -> str:
    """One table cell on one line: a newline in a rule name or a reason would
    break every row after it (and grep), so lines are joined with ⏎."""
    lines = [line.strip() for line in printable(text).replace("\t", " ").splitlines()]
    return " ⏎ ".join(line for line in lines if line)


def say(text: str, *, style: str | None = None) -> None:
    """A line for people on stdout; never interpreted as markup (it may be customer text)."""
    from rich.text import Text

    _console(sys.stdout).print(Text(printable(text)), style=style)


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
        say(empty)
        return
    from rich.table import Table
    from rich.text import Text

    table = Table(*columns, box=None, pad_edge=False, header_style="bold")
    for row in rows:
        # Text(), not str: a subject like "[bold]" is customer data, not markup.
        table.add_row(*(Text(cell("" if v is None else str(v))) for v in row))
    console = _console(sys.stdout)
    with console.capture() as captured:
        console.print(table)
    # Rich pads every cell to its column's width; trailing blanks only get in grep's way.
    sys.stdout.write("\n".join(line.rstrip() for line in captured.get().splitlines()) + "\n")


def error(line: str) -> None:
    sys.stderr.write(f"maildesk: {line}\n")


def database_trouble(exc: BaseException) -> str:
    """One line for an unreachable database: the driver's first line, without
    SQLAlchemy's wrapper, statement and "Background on this error" link."""
    cause = getattr(exc, "orig", None) or exc.__cause__ or exc
    lines = [line.strip() for line in str(cause).strip().splitlines() if line.strip()]
    first = lines[0] if lines else type(cause).__name__
    first = re.sub(r"^\([\w.]+\) ", "", first.removeprefix("database unavailable: "))
    return f"database unavailable: {first}"


@contextmanager
def progress(label: str, total: int, *, show: bool) -> Iterator[Callable[[], None]]:
    """A bar on stderr for long work, only when shown (a terminal); yields advance()."""
    if not show:
        yield lambda: None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda: bar.advance(task)
