"""Writes for ingest: tickets, messages, customers, participants, events, quarantine.

Everything here runs inside the caller's transaction; nothing commits.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from maildesk.parse import Address, ParsedMail
from maildesk.store.models import (
    Attachment,
    Customer,
    Event,
    Message,
    OutboxMessage,
    Participant,
    QuarantinedMessage,
    Ticket,
)
from maildesk.thread import TicketFacts


def already_stored(session: Session, dedupe_key: str) -> str | None:
    """Where a message with this key already is: "message", "quarantine" or None."""
    if session.scalar(select(Message.id).where(Message.dedupe_key == dedupe_key)) is not None:
        return "message"
    found = session.scalar(
        select(QuarantinedMessage.id).where(QuarantinedMessage.dedupe_key == dedupe_key)
    )
    return "quarantine" if found is not None else None


def reference_hits(session: Session, ids: Iterable[str]) -> dict[str, int]:
    """Message-ID -> ticket for every id we stored or sent."""
    wanted = list(dict.fromkeys(ids))[:200]
    if not wanted:
        return {}
    hits: dict[str, int] = {}
    for message_id, ticket_id in session.execute(
        select(Message.message_id, Message.ticket_id).where(Message.message_id.in_(wanted))
    ):
        if message_id is not None:
            hits.setdefault(message_id, ticket_id)
    for sent_id, sent_ticket in session.execute(
        select(OutboxMessage.message_id, OutboxMessage.ticket_id).where(
            OutboxMessage.message_id.in_(wanted), OutboxMessage.ticket_id.is_not(None)
        )
    ):
        if sent_ticket is not None:
            hits.setdefault(sent_id, sent_ticket)
    return hits


def ticket_facts(session: Session, numbers: Iterable[int]) -> dict[int, TicketFacts]:
    facts: dict[int, TicketFacts] = {}
    for number in set(numbers):
        ticket = session.get(Ticket, number)
        if ticket is None:
            continue
        people = {p.address for p in ticket.participants}
        if ticket.requester is not None:
            people.add(ticket.requester.address)
        ids = set(session.scalars(select(Message.message_id).where(Message.ticket_id == number)))
        ids |= set(
            session.scalars(
                select(OutboxMessage.message_id).where(OutboxMessage.ticket_id == number)
            )
        )
        facts[number] = TicketFacts(
            id=number,
            status=ticket.status,
            closed_at=ticket.closed_at,
            people=frozenset(people),
            message_ids=frozenset(i for i in ids if i),
        )
    return facts


def customer_for(session: Session, who: Address, now: datetime) -> Customer:
    """The customer with this address, created on first contact."""
    customer = session.scalar(select(Customer).where(Customer.address == who.address))
    if customer is None:
        customer = Customer(
            address=who.address, name=who.name or None, created_at=now, updated_at=now
        )
        session.add(customer)
        session.flush()
    elif who.name and not customer.name:
        customer.name = who.name
    return customer


def add_participant(
    session: Session, ticket: Ticket, who: Address, role: str, now: datetime
) -> None:
    known = session.scalar(
        select(Participant.id).where(
            Participant.ticket_id == ticket.id, Participant.address == who.address
        )
    )
    if known is None:
        session.add(
            Participant(
                ticket_id=ticket.id,
                address=who.address,
                name=who.name or None,
                role=role,
                added_at=now,
            )
        )


def add_event(
    session: Session,
    ticket_id: int | None,
    actor: str,
    kind: str,
    detail: dict[str, Any],
    now: datetime,
) -> None:
    session.add(Event(ticket_id=ticket_id, actor=actor, kind=kind, detail=detail, at=now))


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
) -> QuarantinedMessage:
    row = QuarantinedMessage(
        received_at=now,
        source=source,
        reason=reason[:2000],
        detail=detail,
        raw=raw,
        kind=kind,
        message_id=message_id,
        dedupe_key=dedupe_key,
        ticket_id=ticket_id,
    )
    session.add(row)
    session.flush()
    return row
