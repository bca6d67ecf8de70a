"""`maildesk report`: the period at a glance, as one HTML file or JSON."""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import click

from maildesk.cli import output
from maildesk.cli.context import Desk, parse_day, parse_moment, pass_desk
from maildesk.errors import Problem, UserError
from maildesk.reports.data import collect
from maildesk.reports.page import render
from maildesk.sla.calendar import BusinessCalendar


@click.command()
@click.option("--since", metavar="DATE", required=True, help="First day (YYYY-MM-DD).")
@click.option("--until", metavar="DATE", help="Last day, included [default: today].")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the report to this HTML file (self-contained: open it anywhere).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the same numbers as JSON.")
@click.option("--now", "now_text", metavar="TIMESTAMP", help="Judge running targets as of then.")
@pass_desk
def report(
    desk: Desk,
    since: str,
    until: str | None,
    out: Path | None,
    as_json: bool,
    now_text: str | None,
) -> None:
    """The support report for tickets opened in the period: tiles against the
    period before, tickets per day by tier, first response against the SLA
    target, SLA compliance, agents, backlog by age, satisfaction,
    self-service, tags, frequent and rising problems, the busiest hours.

    Days are in the business calendar's time zone. Agent figures and
    durations are business time; the backlog is what is open now (--now)."""
    if out is None and not as_json:
        raise click.UsageError("say where the report goes: --out report.html, or --json")
    settings = desk.settings
    calendar = BusinessCalendar.from_settings(settings)
    now = parse_moment(now_text, "--now")
    first = parse_day(since, "--since")
    last = parse_day(until, "--until") if until else now.astimezone(calendar.zone).date()
    if last < first:
        raise UserError([Problem("--until", f"{last} is before --since {first}")])
    start = datetime.combine(first, time(0), tzinfo=calendar.zone).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=calendar.zone).astimezone(UTC)
    with desk.sessions()() as session:
        data = collect(session, settings, calendar, start, end, now)
    if out is not None:
        html = render(data, f"{settings.helpdesk.name}: support report")
        _write(out, html)
        if not as_json:
            output.say(f"wrote {out} ({data.tickets} tickets, {first} to {last})")
    if as_json:
        output.print_json(data.as_json())


def _write(path: Path, text: str) -> None:
    """Atomically: a browser reloading the file never sees half of it."""
    folder = path.resolve().parent
    if not folder.is_dir():
        raise UserError([Problem("--out", f"no such folder: {folder}")])
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
