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

from sqlalchemy import update
from sqlalchemy.orm import Session

from maildesk.store.events import add_event
from maildesk.store.models import SlaTimer, Survey, Ticket

FLAG = "maildesk.history"  # in Session.info while a history mail is stored


def mark(session: Session) -> None:
    session.info[FLAG] = True


def silent(session: Session) -> bool:
    """True while a history mail is stored: nothing may be sent for it."""
    return bool(session.info.get(FLAG))


def settle(session: Session, ticket_id: int, when: datetime, now: datetime) -> None:
    """Timers already past (real) now are history, not breaches; no survey for old mail;
    the ticket was last updated when this mail was written, not today."""
    ticket = session.get(Ticket, ticket_id)
    if ticket is not None and ticket.created_at <= when:
        ticket.updated_at = when  # an explicit value: the column's onupdate=now stays out
    timers = session.execute(
        update(SlaTimer)
        .where(
            SlaTimer.ticket_id == ticket_id,
            SlaTimer.state.in_(("pending", "paused")),
            SlaTimer.due_at <= now,
        )
        .values(state="cancelled", done_at=now, paused_at=None)
    )
    surveys = session.execute(
        update(Survey)
        .where(Survey.ticket_id == ticket_id, Survey.state == "scheduled")
        .values(state="cancelled")
    )
    settled = int(timers.rowcount or 0)  # type: ignore[attr-defined]
    if settled or surveys.rowcount:  # type: ignore[attr-defined]
        add_event(
            session,
            ticket_id,
            "maildesk",
            "history",
            {"timers": settled, "surveys": int(surveys.rowcount or 0)},  # type: ignore[attr-defined]
            now,
        )
