"""Writes for ingest: tickets, messages, customers, participants, events, quarantine.

Everything here runs inside the caller's transaction; nothing commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, literal, select
from sqlalchemy.orm import Session

from maildesk.charsets import storable
from maildesk.mail import Address, ParsedMail, TicketFacts
from maildesk.store.models import (
    Attachment,
    Base,
    Customer,
    Event,
    Message,
    OutboxMessage,
    Participant,
    QuarantinedMessage,
    Ticket,
)


def _rows(session: Session) -> Connection:
    """For look-ups of plain rows: the session's connection, without the ORM's
    compile and autoflush steps. Safe because every row they read is written at
    once: messages and quarantine flush on creation, events, participants and
    outbox rows are Core inserts."""
    return session.connection()


def insert_now(session: Session, model: type[Base], values: dict[str, Any]) -> None:
    """Write an append-only row at once, past the unit of work: for rows that nothing
    reads back as objects in the transaction that writes them (events, participants,
    outbox), where the ORM's bookkeeping cost more than the insert."""
    session.connection().execute(model.metadata.tables[model.__tablename__].insert(), values)


def already_stored(session: Session, dedupe_key: str) -> str | None:
    """Where a message with this key already is: "message", "quarantine" or None."""
    found = _rows(session).scalar(
        select(literal("message"))
        .where(Message.dedupe_key == dedupe_key)
        .union_all(select(literal("quarantine")).where(QuarantinedMessage.dedupe_key == dedupe_key))
        .limit(1)
    )
    return str(found) if found is not None else None


def stored_raw(session: Session, dedupe_key: str) -> bytes | None:
    """The raw bytes kept under this key, as a message or in the quarantine."""
    found = _rows(session).scalar(select(Message.raw).where(Message.dedupe_key == dedupe_key))
    if found is None:
        found = _rows(session).scalar(
            select(QuarantinedMessage.raw).where(QuarantinedMessage.dedupe_key == dedupe_key)
        )
    return bytes(found) if found is not None else None


def reference_hits(session: Session, ids: Iterable[str]) -> dict[str, int]:
    """Message-ID -> ticket for every id we stored or sent (a stored one first)."""
    wanted = list(dict.fromkeys(ids))[:200]
    if not wanted:
        return {}
    stored = select(literal(0), Message.message_id, Message.ticket_id).where(
        Message.message_id.in_(wanted)
    )
    query = stored.union_all(
        select(literal(1), OutboxMessage.message_id, OutboxMessage.ticket_id).where(
            OutboxMessage.message_id.in_(wanted), OutboxMessage.ticket_id.is_not(None)
        )
    )
    hits: dict[str, int] = {}
    for _, message_id, ticket_id in sorted(_rows(session).execute(query), key=lambda row: row[0]):
        if message_id is not None and ticket_id is not None:
            hits.setdefault(message_id, ticket_id)
    return hits


def load_tickets(session: Session, numbers: Iterable[int]) -> dict[int, Ticket]:
    """The tickets that exist among these numbers.

    The caller keeps the dict while it works: the session holds loaded rows
    only weakly, and a ticket let go would be read again.
    """
    found = {n: session.get(Ticket, n) for n in set(numbers)}
    return {n: t for n, t in found.items() if t is not None}


def ticket_facts(session: Session, tickets: Mapping[int, Ticket]) -> dict[int, TicketFacts]:
    """What threading needs to know of each ticket: its people and its Message-IDs."""
    if not tickets:
        return {}
    numbers = list(tickets)
    ids: dict[int, set[str]] = {n: set() for n in numbers}
    stored = select(Message.ticket_id, Message.message_id).where(Message.ticket_id.in_(numbers))
    query = stored.union_all(
        select(OutboxMessage.ticket_id, OutboxMessage.message_id).where(
            OutboxMessage.ticket_id.in_(numbers)
        )
    )
    for number, message_id in _rows(session).execute(query):
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
    return int(
        _rows(session).scalar(
            select(func.count())
            .select_from(Message)
            .where(
                Message.body_hash == body_hash,
                Message.received_at >= since,
                Message.direction == "in",
            )
        )
        or 0
    )


def customer_for(session: Session, who: Address, now: datetime) -> Customer:
    """The customer with this address; on first contact a new one, inserted with the
    ticket that needs it (its ``id`` is None until then)."""
    customer = session.scalar(select(Customer).where(Customer.address == who.address))
    if customer is None:
        customer = Customer(
            address=who.address, name=who.name or None, created_at=now, updated_at=now
        )
        session.add(customer)
    elif who.name and not customer.name:
        customer.name = who.name
    return customer


def participants_of(session: Session, numbers: Iterable[int]) -> dict[int, set[str]]:
    """Ticket -> the addresses of its participants."""
    found: dict[int, set[str]] = {n: set() for n in numbers}
    for number, address in _rows(session).execute(
        select(Participant.ticket_id, Participant.address).where(
            Participant.ticket_id.in_(list(found))
        )
    ):
        found[number].add(address)
    return found


def add_participant(
    session: Session, ticket_id: int, who: Address, role: str, now: datetime
) -> None:
    insert_now(
        session,
        Participant,
        {
            "ticket_id": ticket_id,
            "address": who.address,
            "name": who.name or None,
            "role": role,
            "added_at": now,
        },
    )


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


def store_message(
    session: Session,
    ticket: Ticket,
    mail: ParsedMail,
    *,
    visible: str,
    kind: str,
    reasons: tuple[str, ...],
    source: str,
    now: datetime,
    direction: str = "in",
    is_note: bool = False,
    body_hash: str | None = None,
) -> Message:
    message = Message(
        ticket_id=ticket.id,
        direction=direction,
        is_note=is_note,
        dedupe_key=mail.dedupe_key,
        message_id=mail.message_id,
        in_reply_to=mail.in_reply_to,
        references=list(mail.references),
        from_address=mail.sender.address if mail.sender else "",
        from_name=(mail.sender.name or None) if mail.sender else None,
        to=[str(a) for a in mail.to],
        cc=[str(a) for a in mail.cc],
        subject=mail.subject,
        date=mail.date,
        received_at=now,
        source=source,
        visible_text=visible,
        full_text=mail.text,
        html=mail.html,
        raw=mail.raw,
        kind=kind,
        guard_reasons=list(reasons),
        body_hash=body_hash,
    )
    for part in mail.parts:
        message.attachments.append(
            Attachment(
                filename=part.filename,
                content_type=part.content_type[:255],
                size=part.size,
                content_id=part.content_id,
                inline=part.inline,
                content=part.content,
            )
        )
    session.add(message)
    session.flush()
    return message


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
