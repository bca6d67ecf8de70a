"""`maildesk agents`: who works which tier, who is at work now, who is away."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import click

from maildesk.cli import output
from maildesk.cli.context import Desk, parse_day, parse_moment, pass_desk
from maildesk.errors import Problem, UserError
from maildesk.sla.calendar import BusinessCalendar
from maildesk.store import agents as store
from maildesk.store.db import transaction
from maildesk.tickets.assignment import working


@click.group()
def agents() -> None:
    """The tiers' agents: at work, away, open tickets."""


def _everyone(desk: Desk) -> list[str]:
    settings = desk.settings
    found = [a for t in settings.tiers for a in (*t.agents, t.lead, t.on_call) if a]
    return list(dict.fromkeys(found))


def _known(desk: Desk, address: str) -> str:
    address = address.lower()
    if address not in _everyone(desk):
        known = ", ".join(_everyone(desk)) or "none in [[tiers]]"
        raise UserError([Problem("ADDRESS", f"{address} is no agent of this desk ({known})")])
    return address


@agents.command("list")
@click.option("--now", "now_text", metavar="TIME", help="As of this moment [default: now].")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@pass_desk
def agents_list(desk: Desk, now_text: str | None, as_json: bool) -> None:
    """Every agent: their tiers, open tickets, at work now, away until."""
    now = parse_moment(now_text, "--now")
    calendar = BusinessCalendar.from_settings(desk.settings)
    everyone = _everyone(desk)
    with desk.sessions()() as session:
        counts = store.open_counts(session, everyone)
        gone = store.away(session, everyone, now)
    data: list[dict[str, Any]] = []
    for address in everyone:
        tiers = [t.name for t in desk.settings.tiers if address in (*t.agents, t.lead, t.on_call)]
        data.append(
            {
                "address": address,
                "tiers": tiers,
                "open_tickets": counts[address],
                "at_work": address not in gone and working(desk.settings, calendar, address, now),
                "away_until": output.timestamp(gone[address]) if address in gone else None,
            }
        )
    if as_json:
        output.print_json(data)
        return
    output.print_table(
        ["AGENT", "TIERS", "OPEN", "AT WORK", "AWAY UNTIL"],
        (
            [
                d["address"],
                ", ".join(d["tiers"]),
                d["open_tickets"],
                "yes" if d["at_work"] else "no",
                (d["away_until"] or "-")[:16],
            ]
            for d in data
        ),
        empty="no agents in [[tiers]]",
    )


@agents.command("away")
@click.argument("address")
@click.option(
    "--until", "until", required=True, metavar="DATE", help="Back on this day (or at this time)."
)
@click.option("--reason", default="away", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@pass_desk
def agents_away(desk: Desk, address: str, until: str, reason: str, as_json: bool) -> None:
    """No new tickets for ADDRESS until DATE (a day means its start, in the desk's zone)."""
    address = _known(desk, address)
    back = _until(desk, until)
    now = datetime.now(UTC)
    if back <= now:
        raise UserError([Problem("--until", f"{until} is not in the future")])
    with transaction(desk.sessions()) as session:
        store.set_away(session, address, back, reason, now)
    if as_json:
        output.print_json({"address": address, "away_until": output.timestamp(back)})
        return
    output.say(f"{address} is away until {output.timestamp(back)}: no new tickets for them")


@agents.command("back")
@click.argument("address")
@pass_desk
@click.pass_context
def agents_back(ctx: click.Context, desk: Desk, address: str) -> None:
    """ADDRESS is at work again (exit 1 if they were not away)."""
    address = _known(desk, address)
    with transaction(desk.sessions()) as session:
        was = store.set_back(session, address)
    if not was:
        output.error(f"{address} was not away")
        ctx.exit(output.FAILED)
    output.say(f"{address} is back: new tickets may go to them again")


def _until(desk: Desk, text: str) -> datetime:
    """2026-12-24 (the start of that day in the desk's zone) or a full ISO time."""
    zone = ZoneInfo(desk.settings.calendar.timezone or desk.settings.helpdesk.timezone)
    if len(text.strip()) == 10:
        return datetime.combine(parse_day(text.strip(), "--until"), time(0), zone)
    return parse_moment(text, "--until")
