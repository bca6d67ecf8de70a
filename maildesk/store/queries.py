"""Read-only views of tickets for the CLI and reports, as plain records."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session, selectinload

from maildesk.store.db import flushed
from maildesk.store.models import Customer, Event, Message, QuarantinedMessage, Ticket


@dataclass(frozen=True)
class TicketRow:
    id: int
    subject: str
    status: str
    priority: str
    tier: str | None
    requester: str | None
    assignee: str | None
    created_at: datetime
    updated_at: datetime
    message_count: int
    sla_policy: str | None = None
    first_response_due: datetime | None = None
    first_response_at: datetime | None = None
    next_response_due: datetime | None = None
    resolution_due: datetime | None = None


@dataclass(frozen=True)
class AttachmentRow:
    filename: str
    size: int
    content_type: str


@dataclass(frozen=True)
class MessageRow:
    id: int
    direction: str
    message_id: str | None
    from_address: str
    from_name: str | None
    to: Sequence[str]
    cc: Sequence[str]
    subject: str
    date: datetime | None
    visible_text: str
    is_note: bool
    attachments: Sequence[AttachmentRow]


@dataclass(frozen=True)
class EventRow:
    id: int
    at: datetime
    actor: str
    kind: str
    detail: dict[str, Any]


@dataclass(frozen=True)
class HeldRow:
    """A mail held on the ticket: its sender may not write there until admitted."""

    id: int
    sender: str | None
    received_at: datetime
    state: str  # held | rejected
    reason: str


@dataclass(frozen=True)
class TicketDetail:
    ticket: TicketRow
    messages: Sequence[MessageRow]
    events: Sequence[EventRow]
    held: Sequence[HeldRow] = ()


def _counts() -> Any:
    return (
        select(Message.ticket_id, func.count(Message.id).label("n"))
        .group_by(Message.ticket_id)
        .subquery()
    )


def list_tickets(
    session: Session,
    *,
    statuses: Sequence[str] = (),
    tiers: Sequence[str] = (),
    limit: int | None = None,
) -> list[TicketRow]:
    """Tickets, newest first, optionally filtered by status and tier."""
    counts = _counts()
    query = (
        select(Ticket, Customer.address, func.coalesce(counts.c.n, 0))
        .outerjoin(Customer, Ticket.requester_id == Customer.id)
        .outerjoin(counts, counts.c.ticket_id == Ticket.id)
        .order_by(Ticket.id.desc())
    )
    if statuses:
        query = query.where(Ticket.status.in_(statuses))
    if tiers:
        query = query.where(Ticket.tier.in_(tiers))
    if limit is not None:
        query = query.limit(limit)
    return [_ticket_row(t, address, n) for t, address, n in session.execute(query)]


def ticket_detail(session: Session, ticket_id: int) -> TicketDetail | None:
    """One ticket with its messages and audit events; None if there is no such ticket."""
    ticket = session.scalar(
        select(Ticket)
        .where(Ticket.id == ticket_id)
        .options(
            selectinload(Ticket.requester),
            selectinload(Ticket.messages).selectinload(Message.attachments),
            selectinload(Ticket.events),
        )
    )
    if ticket is None:
        return None
    requester = ticket.requester.address if ticket.requester else None
    held = session.scalars(
        select(QuarantinedMessage)
        .where(
            QuarantinedMessage.ticket_id == ticket_id,
            QuarantinedMessage.kind == "held",
            QuarantinedMessage.state.in_(("held", "rejected")),
        )
        .order_by(QuarantinedMessage.id)
    )
    return TicketDetail(
        ticket=_ticket_row(ticket, requester, len(ticket.messages)),
        messages=[_message_row(m) for m in ticket.messages],
        events=[_event_row(e) for e in ticket.events],
        held=[HeldRow(h.id, h.sender, h.received_at, h.state, h.reason) for h in held],
    )


def _ticket_row(ticket: Ticket, requester: str | None, count: int) -> TicketRow:
    return TicketRow(
        id=ticket.id,
        subject=ticket.subject,
        status=ticket.status,
        priority=ticket.priority,
        tier=ticket.tier,
        requester=requester,
        assignee=ticket.assignee,
        created_at=ticket.created_at,
        updated_at=ticket.updated_at,
        message_count=int(count),
        sla_policy=ticket.sla_policy,
        first_response_due=ticket.first_response_due,
        first_response_at=ticket.first_response_at,
        next_response_due=ticket.next_response_due,
        resolution_due=ticket.resolution_due,
    )


def _message_row(message: Message) -> MessageRow:
    return MessageRow(
        id=message.id,
        direction=message.direction,
        message_id=message.message_id,
        from_address=message.from_address,
        from_name=message.from_name,
        to=tuple(message.to),
        cc=tuple(message.cc),
        subject=message.subject,
        date=message.date,
        visible_text=message.visible_text,
        is_note=message.is_note,
        attachments=tuple(
            AttachmentRow(a.filename, a.size, a.content_type) for a in message.attachments
        ),
    )


def _event_row(event: Event) -> EventRow:
    return EventRow(event.id, event.at, event.actor, event.kind, dict(event.detail))


def opened_since(session: Session, start: datetime) -> list[Ticket]:
    """Tickets created at or after ``start``, oldest first (the SLA report's sample)."""
    query = select(Ticket).where(Ticket.created_at >= start).order_by(Ticket.id)
    return list(session.scalars(query))


def open_tickets_of(session: Session, address: str) -> list[Ticket]:
    """The open tickets (new, open, pending) this address asked for, oldest first."""
    query = (
        select(Ticket)
        .join(Customer, Ticket.requester_id == Customer.id)
        .where(
            Customer.address == address.lower(),
            Ticket.status.in_(("new", "open", "pending")),
            Ticket.merged_into.is_(None),
        )
        .order_by(Ticket.id)
        .options(selectinload(Ticket.requester))
    )
    return list(session.scalars(query))


def incidents_of(session: Session, problem_id: int) -> list[Ticket]:
    """The tickets linked to a problem, oldest first."""
    query = (
        select(Ticket)
        .where(Ticket.incident_of == problem_id)
        .order_by(Ticket.id)
        .options(selectinload(Ticket.requester))
    )
    return list(session.scalars(query))


_SAME_PROBLEM = (
    select(func.count())
    .select_from(Ticket)
    .where(
        Ticket.problem_key == bindparam("key"),
        Ticket.created_at >= bindparam("since"),
        Ticket.merged_into.is_(None),
    )
)


def same_problem_count(session: Session, key: str, since: datetime) -> int:
    """How many tickets ``same_problem_since`` would list: asked of every new ticket,
    so a count with a statement built once (ix_tickets_problem_key_created_at)."""
    found = flushed(session).scalar(_SAME_PROBLEM, {"key": key, "since": since})
    return int(found or 0)


def same_problem_since(session: Session, key: str, since: datetime) -> list[Ticket]:
    """Tickets opened since a moment whose subjects share a problem key, oldest first
    (ix_tickets_problem_key_created_at)."""
    query = (
        select(Ticket)
        .where(
            Ticket.problem_key == key,
            Ticket.created_at >= since,
            Ticket.merged_into.is_(None),
        )
        .order_by(Ticket.id)
    )
    return list(session.scalars(query))
