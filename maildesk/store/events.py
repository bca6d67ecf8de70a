"""The audit log's writes: one row per thing that happened to a ticket.

Events, participants and outbox rows are append-only and read back by no one in
the transaction that writes them, so they are inserted at once, past the ORM's
unit of work. Everything runs inside the caller's transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from maildesk.store.models import Base, Event


def insert_now(session: Session, model: type[Base], values: dict[str, Any]) -> None:
    """Write an append-only row at once, past the unit of work: for rows that nothing
    reads back as objects in the transaction that writes them (events, participants,
    outbox), where the ORM's bookkeeping cost more than the insert."""
    session.connection().execute(model.metadata.tables[model.__tablename__].insert(), values)


def add_event(
    session: Session,
    ticket_id: int | None,
    actor: str,
    kind: str,
    detail: dict[str, Any],
    now: datetime,
) -> None:
    insert_now(
        session,
        Event,
        {"ticket_id": ticket_id, "actor": actor, "kind": kind, "detail": detail, "at": now},
    )


def event_count(session: Session, kind: str, actor: str, since: datetime) -> int:
    """How often ``actor`` caused an event of this kind since a moment."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(Event)
            .where(Event.kind == kind, Event.actor == actor, Event.at >= since)
        )
        or 0
    )
