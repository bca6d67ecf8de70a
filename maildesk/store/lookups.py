"""Threading look-ups: is this mail stored, which tickets do its Message-IDs name.

Read-only, inside the caller's transaction; each answers one question the
pipeline asks before it writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from sqlalchemy import Connection, bindparam, func, literal, select
from sqlalchemy.orm import Session

from maildesk.mail import TicketFacts
from maildesk.store.models import Message, OutboxMessage, QuarantinedMessage, Ticket
from maildesk.store.tickets import participants_of


def _rows(session: Session) -> Connection:
    """For look-ups of plain rows: the session's connection, without the ORM's
    compile and autoflush steps. Safe because every row they read is written at
    once: messages and quarantine go in on creation, outbox rows are Core inserts
    (and participants_of writes the participants that wait first)."""
    return session.connection()


# Built once: the pipeline asks these of every mail, and building a statement
# costs three times as much as running it on SQLite.
_STORED = (
    select(literal("message"))
    .where(Message.dedupe_key == bindparam("key"))
    .union_all(
        select(literal("quarantine")).where(QuarantinedMessage.dedupe_key == bindparam("key"))
    )
    .limit(1)
)
_SAME_TEXT = (
    select(func.count())
    .select_from(Message)
    .where(
        Message.body_hash == bindparam("hash"),
        Message.received_at >= bindparam("since"),
        Message.direction == "in",
    )
)


_STORED_AND_SAME = select(
    _STORED.scalar_subquery(),
    _SAME_TEXT.scalar_subquery(),
)


def stored_and_same_text(
    session: Session, dedupe_key: str, body_hash: str, since: datetime
) -> tuple[str | None, int]:
    """``already_stored`` and ``same_text_count`` in one statement: both are asked of
    nearly every customer mail."""
    params = {"key": dedupe_key, "hash": body_hash, "since": since}
    where, count = _rows(session).execute(_STORED_AND_SAME, params).one()
    return (str(where) if where is not None else None), int(count or 0)


def already_stored(session: Session, dedupe_key: str) -> str | None:
    """Where a message with this key already is: "message", "quarantine" or None."""
    found = _rows(session).scalar(_STORED, {"key": dedupe_key})
    return str(found) if found is not None else None


def stored_raw(session: Session, dedupe_key: str) -> bytes | None:
    """The raw bytes kept under this key, as a message or in the quarantine."""
    found = _rows(session).scalar(select(Message.raw).where(Message.dedupe_key == dedupe_key))
    if found is None:
        found = _rows(session).scalar(
            select(QuarantinedMessage.raw).where(QuarantinedMessage.dedupe_key == dedupe_key)
        )
    return bytes(found) if found is not None else None


_REFERENCED = (
    select(literal(0), Message.message_id, Message.ticket_id)
    .where(Message.message_id.in_(bindparam("ids", expanding=True)))
    .union_all(
        select(literal(1), OutboxMessage.message_id, OutboxMessage.ticket_id).where(
            OutboxMessage.message_id.in_(bindparam("ids", expanding=True)),
            OutboxMessage.ticket_id.is_not(None),
        )
    )
)
_MESSAGE_IDS = (
    select(Message.ticket_id, Message.message_id)
    .where(Message.ticket_id.in_(bindparam("numbers", expanding=True)))
    .union_all(
        select(OutboxMessage.ticket_id, OutboxMessage.message_id).where(
            OutboxMessage.ticket_id.in_(bindparam("numbers", expanding=True))
        )
    )
)


def reference_hits(session: Session, ids: Iterable[str]) -> dict[str, int]:
    """Message-ID -> ticket for every id we stored or sent (a stored one first)."""
    wanted = list(dict.fromkeys(ids))[:200]
    if not wanted:
        return {}
    query = _rows(session).execute(_REFERENCED, {"ids": wanted})
    hits: dict[str, int] = {}
    for _, message_id, ticket_id in sorted(query, key=lambda row: row[0]):
        if message_id is not None and ticket_id is not None:
            hits.setdefault(message_id, ticket_id)
    return hits


def ticket_facts(session: Session, tickets: Mapping[int, Ticket]) -> dict[int, TicketFacts]:
    """What threading needs to know of each ticket: its people and its Message-IDs."""
    if not tickets:
        return {}
    numbers = list(tickets)
    ids: dict[int, set[str]] = {n: set() for n in numbers}
    for number, message_id in _rows(session).execute(_MESSAGE_IDS, {"numbers": numbers}):
        if message_id and number in ids:
            ids[number].add(message_id)
    people_of = participants_of(session, numbers)
    facts: dict[int, TicketFacts] = {}
    for number, ticket in tickets.items():
        people = people_of[number]
        if ticket.requester is not None:
            people.add(ticket.requester.address)
        facts[number] = TicketFacts(
            id=number,
            status=ticket.status,
            closed_at=ticket.closed_at,
            people=frozenset(people),
            message_ids=frozenset(ids[number]),
            requester=ticket.requester.address if ticket.requester is not None else None,
        )
    return facts


def same_text_count(session: Session, body_hash: str, since: datetime) -> int:
    """Customer mail with this text fingerprint since a moment (ix_messages_body_hash_...)."""
    return int(_rows(session).scalar(_SAME_TEXT, {"hash": body_hash, "since": since}) or 0)
