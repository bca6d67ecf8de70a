"""The quarantine in one place: mail kept as raw bytes with its reason, held or not.

Writes, reads and state changes for quarantined and held messages, inside the
caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from maildesk.charsets import storable
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


def quarantine(
    session: Session,
    raw: bytes,
    *,
    source: str,
    reason: str,
    now: datetime,
    detail: str | None = None,
    kind: str = "quarantined",
    message_id: str | None = None,
    dedupe_key: str | None = None,
    ticket_id: int | None = None,
    sender: str | None = None,
) -> QuarantinedMessage:
    row = QuarantinedMessage(
        sender=storable(sender) if sender else None,
        received_at=now,
        source=storable(source)[:100],
        reason=storable(reason[:2000]),
        detail=storable(detail) if detail else None,
        raw=raw,
        kind=kind,
        message_id=storable(message_id) if message_id else None,
        dedupe_key=dedupe_key,
        ticket_id=ticket_id,
    )
    session.add(row)
    session.flush()
    return row


def held_from(
    session: Session, ticket_id: int, address: str, states: Sequence[str]
) -> list[QuarantinedMessage]:
    """A sender's held mail on a ticket, oldest first, locked for the caller's change."""
    return list(
        session.scalars(
            select(QuarantinedMessage)
            .where(
                QuarantinedMessage.ticket_id == ticket_id,
                QuarantinedMessage.sender == address,
                QuarantinedMessage.kind == "held",
                QuarantinedMessage.state.in_(states),
            )
            .order_by(QuarantinedMessage.id)
            .with_for_update()
        )
    )


def held_before(session: Session, ticket_id: int, address: str) -> bool:
    """Agents were already told of this sender on this ticket, or turned them away."""
    found = session.scalar(
        select(QuarantinedMessage.id)
        .where(
            QuarantinedMessage.ticket_id == ticket_id,
            QuarantinedMessage.sender == address,
            QuarantinedMessage.kind == "held",
            QuarantinedMessage.state.in_(("held", "rejected")),
        )
        .limit(1)
    )
    return found is not None


def quarantined_row(
    session: Session, number: int, *, lock: bool = False
) -> QuarantinedMessage | None:
    """One row by its number; ``lock``: for a change (two admins admitting one mail
    at once store it once on PostgreSQL)."""
    return session.get(QuarantinedMessage, number, with_for_update=lock)


def kept_under(session: Session, dedupe_key: str) -> QuarantinedMessage | None:
    """The row that keeps the mail with this key, if it is in the quarantine."""
    return session.scalar(
        select(QuarantinedMessage).where(QuarantinedMessage.dedupe_key == dedupe_key)
    )
