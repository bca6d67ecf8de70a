"""The audit log's writes: one row per thing that happened to a ticket.

Events, participants and outbox rows are append-only, so they go in past the
ORM's unit of work. Events and participants are more: nearly every mail writes
one of each, so they wait in the session (``append_row``) and go in as one
executemany at the commit, or before anything of this session reads (any ORM
execution, and the plain reads of participants: store/tickets.py). Outbox
rows go in at once (rate limits count them). Everything runs inside the
caller's transaction; a rollback forgets what waited.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.orm import ORMExecuteState, Session

from maildesk.store.models import Base, Event

WAITING = "maildesk.appends"  # Session.info: table -> rows waiting to go in
BATCHED = frozenset({"events", "participants"})


def insert_now(session: Session, model: type[Base], values: dict[str, Any]) -> None:
    """Write an append-only row at once, past the unit of work: for rows that nothing
    reads back as objects in the transaction that writes them (outbox), where the
    ORM's bookkeeping cost more than the insert."""
    session.connection().execute(model.metadata.tables[model.__tablename__].insert(), values)


def append_row(session: Session, model: type[Base], values: dict[str, Any]) -> None:
    """An event or participant row, written with the others at the next read or commit."""
    assert model.__tablename__ in BATCHED
    session.info.setdefault(WAITING, {}).setdefault(model.__tablename__, []).append(values)


def write_appended(session: Session) -> None:
    """The rows ``append_row`` holds, inserted now (a statement per table)."""
    waiting = session.info.pop(WAITING, None)
    if not waiting:
        return
    connection = session.connection()
    for name, rows in waiting.items():
        connection.execute(Base.metadata.tables[name].insert(), rows)


@event.listens_for(Session, "do_orm_execute")
def _before_reading(state: ORMExecuteState) -> None:
    write_appended(state.session)


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    write_appended(session)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(WAITING, None)


def add_event(
    session: Session,
    ticket_id: int | None,
    actor: str,
    kind: str,
    detail: dict[str, Any],
    now: datetime,
) -> None:
    append_row(
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
