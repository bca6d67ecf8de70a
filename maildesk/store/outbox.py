"""The outbox table: rows written with the change that caused them, claimed for sending.

Sending is at least once with a stable Message-ID: a crash after the relay
accepted a message but before the row is marked sent makes the next run send
it again with the same Message-ID, which receiving clients show once. The
spool writes a file named after the Message-ID, so there a repeat is a no-op.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from maildesk.store.events import add_event, insert_now
from maildesk.store.models import OutboxMessage, Ticket


def enqueue(
    session: Session,
    *,
    ticket_id: int | None,
    kind: str,
    message_id: str,
    sender: str,
    recipients: list[str],
    raw: bytes,
    now: datetime,
    failed: str | None = None,
) -> None:
    """Written at once (see insert_now); committed with the change that caused it.

    ``failed``: the mail could not even be composed (a template error); the row
    says so in ``outbox list`` instead of the mail vanishing, and is never sent."""
    insert_now(
        session,
        OutboxMessage,
        {
            "ticket_id": ticket_id,
            "kind": kind,
            "message_id": message_id,
            "sender": sender,
            "recipients": recipients,
            "raw": raw,
            "state": "failed" if failed else "pending",
            "attempts": 0,
            "created_at": now,
            "next_attempt_at": now,
            "last_error": failed,
        },
    )


def recent_count(session: Session, kind: str, requester_id: int, since: datetime) -> int:
    """How many mails of this kind went (or will go) since a moment about tickets
    this customer asked: a few index lookups (their tickets, those tickets' mail),
    however busy the hour was."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .join(Ticket, Ticket.id == OutboxMessage.ticket_id)
            .where(
                Ticket.requester_id == requester_id,
                OutboxMessage.kind == kind,
                OutboxMessage.created_at >= since,
            )
        )
        or 0
    )


def due(session: Session, now: datetime, limit: int = 50) -> list[OutboxMessage]:
    """Rows to send now, oldest first. On PostgreSQL they are locked, so another
    process skips them; SQLite reads them unlocked, so a caller takes them by a
    conditional update (Sender._claim)."""
    query = (
        select(OutboxMessage)
        .where(OutboxMessage.state == "pending", OutboxMessage.next_attempt_at <= now)
        .order_by(OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(session.scalars(query))


def mark_sent(row: OutboxMessage, now: datetime) -> None:
    row.state, row.sent_at, row.last_error = "sent", now, None


def mark_failed_attempt(
    session: Session,
    row: OutboxMessage,
    error: str,
    now: datetime,
    first: timedelta,
    longest: timedelta,
    give_up: timedelta,
) -> None:
    row.last_error = error[:2000]
    if now - row.created_at >= give_up:
        row.state = "failed"
        add_event(
            session,
            row.ticket_id,
            "maildesk",
            "delivery_failed",
            {
                "kind": row.kind,
                "to": row.recipients,
                "error": row.last_error,
                "attempts": row.attempts,
            },
            now,
        )
        return
    delay = min(first * (2 ** (row.attempts - 1)), longest)
    row.next_attempt_at = now + delay


def waiting(session: Session, now: datetime) -> list[OutboxMessage]:
    """Every row due now, the soonest first, unlocked: what a dry run would send."""
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.state == "pending", OutboxMessage.next_attempt_at <= now)
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        )
    )


def listed(session: Session, states: Sequence[str], limit: int) -> list[OutboxMessage]:
    """Rows in these states, newest first (`maildesk outbox list`)."""
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.state.in_(states))
            .order_by(OutboxMessage.id.desc())
            .limit(limit)
        )
    )


def other_states(session: Session, states: Sequence[str]) -> dict[str, int]:
    """How many rows are in each state but these: what a list hides."""
    rows = session.execute(
        select(OutboxMessage.state, func.count())
        .where(OutboxMessage.state.not_in(states))
        .group_by(OutboxMessage.state)
    )
    return {state: int(count) for state, count in rows}


def sent_as(session: Session, message_ids: Sequence[str], kinds: Sequence[str]) -> bool:
    """Did we send one of these Message-IDs as one of these kinds of mail?"""
    found = session.scalar(
        select(OutboxMessage.kind)
        .where(OutboxMessage.message_id.in_(message_ids), OutboxMessage.kind.in_(kinds))
        .limit(1)
    )
    return found is not None
