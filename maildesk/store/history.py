"""Archive import as history, in the store: old mail keeps its own time and wakes nobody.

`maildesk import` of last month's mbox must not notify agents of 300 "new"
tickets, date them today, or schedule 300 breach escalations for promises
nobody made. In history mode each mail is stored at its own Date (never
later than now), the outbox writer
queues nothing (see ``silent``), and once the mail is stored the ticket's
SLA timers whose moment has passed are cancelled as history (not breached)
and no survey is scheduled. A timer still ahead stays: the ticket may be
open for real.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, inspect, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from maildesk.store.events import add_event
from maildesk.store.models import SlaTimer, Survey, Ticket

FLAG = "maildesk.history"  # in Session.info while a history mail is stored
# Built once: run for nearly every mail of an archive. On the tables, not the
# models: the ORM would match each against the objects in the session first.
_timers = SlaTimer.metadata.tables[SlaTimer.__tablename__]
_surveys = Survey.metadata.tables[Survey.__tablename__]
_TIMERS = (
    update(_timers)
    .where(
        _timers.c.ticket_id == bindparam("ticket"),
        _timers.c.state.in_(("pending", "paused")),
        _timers.c.due_at <= bindparam("now"),
    )
    .values(state="cancelled", done_at=bindparam("now"), paused_at=None)
)
_SURVEYS = (
    update(_surveys)
    .where(_surveys.c.ticket_id == bindparam("ticket"), _surveys.c.state == "scheduled")
    .values(state="cancelled")
)


def mark(session: Session, now: datetime) -> None:
    """History mail is stored in this session; ``now`` is the real time (the mail's is its Date)."""
    session.info[FLAG] = now


def silent(session: Session) -> bool:
    """True while a history mail is stored: nothing may be sent for it."""
    return bool(session.info.get(FLAG))


def settle(session: Session, ticket: Ticket, when: datetime) -> None:
    """Timers already past (real) now are history, not breaches; no survey for old mail;
    the ticket was last updated when this mail was written, not today.

    Only a ticket with an SLA policy has timers (sla/timers.py plans none without
    one) and only a resolved or closed one a scheduled survey (reopening cancels
    it): the other statements are skipped, as they were a quarter of an import's."""
    now = session.info[FLAG]
    changed = inspect(ticket).modified  # a new ticket's SLA due times, say
    if ticket.created_at <= when and (changed or ticket.updated_at != when):
        ticket.updated_at = when
        if changed:  # written with them even when equal: else onupdate=now would be
            flag_modified(ticket, "updated_at")
    # (Equal and nothing else changed: left alone, or each flush would visit the ticket.)
    settled = surveyed = 0
    if ticket.sla_policy is not None:
        timers = session.execute(_TIMERS, {"ticket": ticket.id, "now": now})
        settled = int(timers.rowcount or 0)  # type: ignore[attr-defined]
    if ticket.status in ("resolved", "closed"):
        surveys = session.execute(_SURVEYS, {"ticket": ticket.id})
        surveyed = int(surveys.rowcount or 0)  # type: ignore[attr-defined]
    if settled or surveyed:
        detail = {"timers": settled, "surveys": surveyed}
        add_event(session, ticket.id, "maildesk", "history", detail, now)


def settle_id(session: Session, ticket_id: int, when: datetime) -> None:
    """``settle`` for a mail that touched a ticket without being stored in it."""
    ticket = session.get(Ticket, ticket_id)
    if ticket is not None:
        settle(session, ticket, when)
