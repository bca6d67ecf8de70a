"""`maildesk sla`: how the desk keeps its promises."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import click

from maildesk.cli import output
from maildesk.cli.context import Desk, parse_day, parse_moment, pass_desk
from maildesk.errors import Problem, UserError
from maildesk.sla import report
from maildesk.sla.calendar import BusinessCalendar
from maildesk.store.queries import opened_since


@click.group()
def sla() -> None:
    """SLA reports."""


@sla.command("report")
@click.option(
    "--since",
    metavar="DATE",
    help="Tickets opened on or after this day (YYYY-MM-DD, calendar time zone) "
    "[default: 30 days ago].",
)
@click.option("--tier", "tiers", multiple=True, metavar="T", help="Only this tier (repeatable).")
@click.option(
    "--now",
    "now_text",
    metavar="TIMESTAMP",
    help="Judge running targets as of this moment (ISO 8601) [default: now].",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts (times in seconds).")
@pass_desk
def sla_report(
    desk: Desk, since: str | None, tiers: tuple[str, ...], now_text: str | None, as_json: bool
) -> None:
    """Per tier and policy: tickets, first-response and resolution compliance,
    and median and p90 first-response time in business time.

    A ticket counts under the tier the rules gave it, even if a breach moved
    it up. A target still running is left out of the percentage.
    """
    settings = desk.settings
    unknown = [t for t in tiers if settings.tier(t) is None]
    if unknown:
        known = ", ".join(t.name for t in settings.tiers) or "none"
        raise UserError(
            [Problem("--tier", f"unknown tier {t!r} (known: {known})") for t in unknown]
        )
    calendar = BusinessCalendar.from_settings(settings)
    now = parse_moment(now_text, "--now")
    start = _since(since, calendar, now)
    with desk.sessions()() as session:
        tickets = [
            t
            for t in opened_since(session, start)
            if not tiers or (t.first_tier or t.tier) in tiers
        ]
        rows = report.build(tickets, settings, calendar, now)
    if as_json:
        output.print_json({"since": output.timestamp(start), "rows": [_json(r) for r in rows]})
        return
    output.say(f"tickets opened since {start.astimezone(calendar.zone):%Y-%m-%d %H:%M %Z}")
    output.print_table(
        ["TIER", "POLICY", "TICKETS", "FIRST RESPONSE MET", "RESOLUTION MET", "MEDIAN", "P90"],
        (
            [
                r.tier,
                r.policy,
                r.tickets,
                _met(r.first_met, r.first_known, r.first_compliance),
                _met(r.resolution_met, r.resolution_known, r.resolution_compliance),
                _duration(r.median_first),
                _duration(r.p90_first),
            ]
            for r in rows
        ),
        empty="no tickets in this period",
    )


def _since(text: str | None, calendar: BusinessCalendar, now: datetime) -> datetime:
    if text is None:
        day = now.astimezone(calendar.zone).date() - timedelta(days=30)
    else:
        day = parse_day(text, "--since")
    return datetime.combine(day, time(0), tzinfo=calendar.zone).astimezone(UTC)


def _met(met: int, known: int, pct: float | None) -> str:
    return f"{pct:.1f}% ({met}/{known})" if pct is not None else "-"


def _duration(value: timedelta | None) -> str:
    """1:05 style: hours and minutes of business time."""
    if value is None:
        return "-"
    minutes = round(value.total_seconds() / 60)
    return f"{minutes // 60}h{minutes % 60:02d}m"


def _json(row: report.Row) -> dict[str, Any]:
    def seconds(value: timedelta | None) -> float | None:
        return value.total_seconds() if value is not None else None

    return {
        "tier": row.tier,
        "policy": row.policy,
        "tickets": row.tickets,
        "first_response": {
            "met": row.first_met,
            "counted": row.first_known,
            "compliance_percent": row.first_compliance,
            "median_seconds": seconds(row.median_first),
            "p90_seconds": seconds(row.p90_first),
            "answered": len(row.first_times),
        },
        "resolution": {
            "met": row.resolution_met,
            "counted": row.resolution_known,
            "compliance_percent": row.resolution_compliance,
        },
    }
