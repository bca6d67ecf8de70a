"""Reads and state changes for quarantined and held messages."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from maildesk.store.models import QuarantinedMessage


def quarantined(
    session: Session, *, states: Sequence[str] = ("held",), ticket: int | None = None
) -> list[QuarantinedMessage]:
    query = select(QuarantinedMessage).order_by(QuarantinedMessage.id)
    if states:
        query = query.where(QuarantinedMessage.state.in_(states))
    if ticket is not None:
        query = query.where(QuarantinedMessage.ticket_id == ticket)
    return list(session.scalars(query))


def release(session: Session, row: QuarantinedMessage) -> None:
    """Take a row out of the quarantine; its key is freed so the mail can be stored."""
    row.state = "released"
    row.dedupe_key = None
    session.flush()
