"""A ticket's business-time durations, settled once as its timers settle.

The report reads first-response and resolution minutes from the ticket
instead of walking the business calendar for every ticket again: a year of
tickets is then a query, not a calendar walk per row. A duration is
counted when the moment it ends is set, and cleared when that moment is
taken back (a resolved ticket reopened), to be counted again when it ends
again.

Business time is the policy's clock (24/7 policies count all hours),
from the ticket's arrival; time spent pending is included, the way the
customer lived it.
"""

from __future__ import annotations

from datetime import datetime

from maildesk.sla.calendar import AlwaysOpen, BusinessCalendar
from maildesk.store.models import Ticket

Clock = BusinessCalendar | AlwaysOpen


def minutes(clock: Clock, start: datetime, end: datetime) -> float:
    return round(clock.between(start, end).total_seconds() / 60, 2)


def done_at(ticket: Ticket) -> datetime | None:
    return ticket.resolved_at or ticket.closed_at


def settle(ticket: Ticket, clock: Clock) -> None:
    """Count what has ended and is not counted yet; forget what was taken back.
    ``clock`` is the ticket's policy's (timers.clock_of)."""
    if ticket.first_response_at is None:
        ticket.first_response_minutes = None
    elif ticket.first_response_minutes is None:
        ticket.first_response_minutes = minutes(clock, ticket.created_at, ticket.first_response_at)
    done = done_at(ticket)
    if done is None:
        ticket.resolution_minutes = None
    elif ticket.resolution_minutes is None:
        ticket.resolution_minutes = minutes(clock, ticket.created_at, done)
