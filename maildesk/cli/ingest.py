"""`maildesk ingest` (one message from an MTA pipe) and `maildesk import` (an archive)."""

from __future__ import annotations

import collections
import gc
import sys
from itertools import islice
from pathlib import Path

import click
from sqlalchemy.exc import OperationalError

from maildesk.cli import output
from maildesk.cli.context import Desk, pass_desk
from maildesk.errors import TryLater, UserError
from maildesk.intake import GROUP_SIZE
from maildesk.readahead import ReadAhead
from maildesk.sources.archive import archive_messages


@click.command()
@click.argument("file", default="-", metavar="[FILE|-]")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
@pass_desk
@click.pass_context
def ingest(ctx: click.Context, desk: Desk, file: str, as_json: bool) -> None:
    """Store one message from FILE or standard input (for MTA pipes).

    Exit 0 only after the message is committed (stored, a duplicate, or
    quarantined with its reason). Any other problem, including a bad config
    or an unavailable database, exits 75 (EX_TEMPFAIL) so that the MTA keeps
    the message and retries instead of bouncing it.
    """
    try:
        raw = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
        outcome = desk.pipeline().ingest(raw, "pipe")
    except (UserError, TryLater, OSError, OperationalError) as exc:
        if isinstance(exc, UserError):
            lines = [str(p) for p in exc.problems]
        elif isinstance(exc, (TryLater, OperationalError)):
            lines = [output.database_trouble(exc)]
        else:
            lines = [str(exc)]
        for line in lines:
            output.error(line)
        output.error("message not stored; exiting 75 so that the sender retries")
        ctx.exit(output.TEMPFAIL)
        return
    if as_json:
        output.print_json(
            {
                "status": outcome.status,
                "ticket": outcome.ticket_id,
                "message_id": outcome.message_id,
                "new_ticket": outcome.new_ticket,
                "detail": outcome.detail,
            }
        )
    else:
        ticket = f" ticket {outcome.ticket_id}" if outcome.ticket_id else ""
        output.say(f"{outcome.status}{ticket}: {outcome.detail}")


@click.command("import")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the totals as JSON.")
@click.option("--no-progress", is_flag=True, help="No progress bar (it is off when not a tty).")
@click.option(
    "--live",
    is_flag=True,
    help="Treat the mail as arriving now: acknowledgements, notifications, SLA clocks.",
)
@pass_desk
def import_archive(desk: Desk, path: Path, as_json: bool, no_progress: bool, live: bool) -> None:
    """Import an mbox file or a Maildir folder as history; threads as live mail would.

    Each mail keeps its own date, nothing is sent to anyone, and SLA deadlines
    already past are history, not breaches (--live for new mail instead). Safe
    to run again: messages already stored are counted as duplicates.
    """
    total, messages = archive_messages(path)
    groups = iter(lambda: list(islice(messages, GROUP_SIZE)), [])
    counts: collections.Counter[str] = collections.Counter()
    show = not no_progress and not as_json and sys.stderr.isatty()
    # An archive makes many short-lived objects: the cycle collector looks a thirtieth
    # as often (a twentieth of the import's time went to it; large mails still collect
    # at once, intake.LARGE_MAIL).
    gc.set_threshold(20_000, 20, 20)
    # The parsing worker forks before the database is opened.
    with (
        ReadAhead(desk.settings) as ahead,
        output.progress("importing", total, show=show) as advance,
    ):
        pipeline = desk.pipeline()
        for chunk, reads in ahead.read(groups):
            source = f"import:{path.name}"
            for outcome in pipeline.ingest_many(chunk, source, history=not live, reads=reads):
                counts[outcome.status] += 1
                advance()
    summary = {
        k: counts.get(k, 0) for k in ("stored", "duplicate", "bounce", "held", "quarantined")
    }
    if as_json:
        output.print_json({"total": total, **summary})
    else:
        output.print_table(
            ["MESSAGES", *[k.upper() for k in summary]], [[total, *summary.values()]]
        )
