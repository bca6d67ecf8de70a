"""Who takes a new ticket, so that a small team covers the week without everyone
getting every mail.

Per tier (``assign``): nobody (manual), the agents in turn (round_robin), or
the one with the fewest open tickets (least_open), among the agents at work
now (``[[agents]]`` hours, else the desk's calendar) and not away (`maildesk
agents away`, or their own auto-reply: away for a day). Outside business
hours an urgent ticket goes to the tier's ``on_call`` agent at once, whatever
the mode. A rule's ``assign`` wins over all of it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from maildesk.config.model import Settings
from maildesk.config.semantics import parse_hours
from maildesk.desk import Desk
from maildesk.sla.calendar import WEEKDAYS, BusinessCalendar
from maildesk.store import agents as store
from maildesk.store.events import add_event
from maildesk.store.models import Ticket

AUTO_REPLY_AWAY = timedelta(days=1)  # an agent's out-of-office: away for a day, renewed


def working(settings: Settings, calendar: BusinessCalendar, address: str, now: datetime) -> bool:
    """Is this agent at work now, by their own hours or the desk's ``calendar``?"""
    own = next((a for a in settings.agents if a.address == address), None)
    if own is not None and (own.days is not None or own.hours is not None):
        hours = tuple(r for r in (parse_hours(h) for h in own.hours or ()) if r is not None)
        calendar = replace(
            calendar,
            days=frozenset(WEEKDAYS.index(d) for d in own.days) if own.days else calendar.days,
            hours=tuple(sorted(hours)) if own.hours else calendar.hours,
        )
    return _open(calendar, now)


def _open(calendar: BusinessCalendar, now: datetime) -> bool:
    return calendar.is_open(now)


def choose(desk: Desk, session: Session, ticket: Ticket, now: datetime) -> tuple[str | None, str]:
    """(the agent, how) for a new ticket; (None, why not) when nobody is picked."""
    tier = desk.settings.tier(ticket.tier) if ticket.tier else None
    if tier is None:
        return None, "no tier"
    if ticket.priority == "urgent" and tier.on_call and not _open(desk.router.calendar, now):
        return tier.on_call, "on call: urgent, outside business hours"
    if tier.assign == "manual" or not tier.agents:
        return None, "manual"
    gone = store.away(session, tier.agents, now)
    calendar = desk.router.calendar
    present = [a for a in tier.agents if a not in gone and working(desk.settings, calendar, a, now)]
    if not present:
        return None, "no agent of the tier is at work now"
    if tier.assign == "least_open":
        counts = store.open_counts(session, present)
        return min(present, key=lambda a: (counts[a], present.index(a))), "least open"
    last = store.last_assignee(session, tier.name, tier.agents)
    order = list(tier.agents)
    if last in order:
        cut = order.index(last) + 1
        order = order[cut:] + order[:cut]
    return next(a for a in order if a in present), "round robin"


def assign(desk: Desk, session: Session, ticket: Ticket, now: datetime) -> bool:
    """Give the new ticket to an agent, recorded; True if someone took it."""
    agent, how = choose(desk, session, ticket, now)
    if agent is None:
        return False
    ticket.assignee = agent
    add_event(
        session, ticket.id, "maildesk", "assignee", {"from": None, "to": agent, "how": how}, now
    )
    return True


def away_by_auto_reply(desk: Desk, session: Session, address: str, now: datetime) -> None:
    """An agent's out-of-office came in: no new tickets for them for a day."""
    store.set_away(session, address, now + AUTO_REPLY_AWAY, "automatic reply", now)
    add_event(
        session,
        None,
        address,
        "agent_away",
        {"until": (now + AUTO_REPLY_AWAY).isoformat(), "why": "automatic reply"},
        now,
    )
