"""Tickets and what hangs off them: customers, messages, attachments, people, events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from maildesk.mail import PRIORITIES, TICKET_STATUSES
from maildesk.store.models.base import DIRECTIONS, MESSAGE_KINDS, Base, _in, utcnow


class AgentAbsence(Base):
    """An agent away (`maildesk agents away`, or their own auto-reply): no new tickets
    are given to them until ``until``."""

    __tablename__ = "agent_absences"

    address: Mapped[str] = mapped_column(String(320), primary_key=True)
    until: Mapped[datetime]
    reason: Mapped[str] = mapped_column(Text, default="")
    since: Mapped[datetime] = mapped_column(default=utcnow)


class Customer(Base):
    """Someone who writes to support; ``address`` is stored lower-cased."""

    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    address: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    organization: Mapped[str | None] = mapped_column(String(200))
    category: Mapped[str | None] = mapped_column(String(50))
    language: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Ticket(Base):
    """One request; ``id`` is the ticket number shown in the subject token."""

    __tablename__ = "tickets"
    __table_args__ = (
        CheckConstraint(_in("status", TICKET_STATUSES), name="status"),
        CheckConstraint(_in("priority", PRIORITIES), name="priority"),
        Index("ix_tickets_status_tier", "status", "tier"),
        Index("ix_tickets_requester_id", "requester_id"),
        Index("ix_tickets_incident_of", "incident_of"),
        Index("ix_tickets_problem_key_created_at", "problem_key", "created_at"),
        Index("ix_tickets_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="new")
    priority: Mapped[str] = mapped_column(String(20), default="normal")
    tier: Mapped[str | None] = mapped_column(String(50))
    # The tier the rules gave it: SLA reports count a breach against this tier, not the
    # one the escalation moved the ticket to.
    first_tier: Mapped[str | None] = mapped_column(String(50))
    requester_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    assignee: Mapped[str | None] = mapped_column(String(320))
    language: Mapped[str | None] = mapped_column(String(20))
    sla_policy: Mapped[str | None] = mapped_column(String(50))
    tags: Mapped[list[str]] = mapped_column(default=list)
    # Extra addresses told about this ticket (set by rules: then: notify).
    notify: Mapped[list[str]] = mapped_column(default=list, server_default="[]")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    first_response_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    # Deadlines from the SLA policy, in real time (business hours already counted in).
    first_response_due: Mapped[datetime | None]
    resolution_due: Mapped[datetime | None]
    next_response_due: Mapped[datetime | None]
    # How it was resolved: "self_served" when the customer's reply closed it.
    resolution: Mapped[str | None] = mapped_column(String(20))
    # False when a rule said survey: false.
    survey: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # Why no automatic mail (status notice, survey) may go to the requester: the mail
    # that opened it failed authentication or was spam. Lifted by an agent's answer.
    quiet: Mapped[str | None] = mapped_column(Text)
    # Folded into another ticket (#merge): mail to this one's token lands there.
    merged_into: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"))
    # A known problem (#problem), and the problem an incident belongs to (#link).
    problem: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    incident_of: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"))
    # The subject's stemmed words, sorted: tickets about one problem share it (kb/terms.py).
    problem_key: Mapped[str | None] = mapped_column(String(200))
    # Settled as the timers settle (sla/durations.py), so reports read them instead of
    # counting business hours again: minutes of business time (24/7 policies: all
    # hours) from arrival to the first answer, and to the resolution.
    first_response_minutes: Mapped[float | None] = mapped_column(Float)
    resolution_minutes: Mapped[float | None] = mapped_column(Float)
    # The agent whose answer was the first response.
    first_responder: Mapped[str | None] = mapped_column(String(320))

    requester: Mapped[Customer | None] = relationship()
    messages: Mapped[list[Message]] = relationship(
        back_populates="ticket", order_by="Message.id", cascade="all, delete-orphan"
    )
    participants: Mapped[list[Participant]] = relationship(
        back_populates="ticket", cascade="all, delete-orphan"
    )
    events: Mapped[list[Event]] = relationship(
        back_populates="ticket", order_by="Event.id", cascade="all, delete-orphan"
    )


class Message(Base):
    """One mail in or out of a ticket; the raw bytes are the truth, the rest is derived.

    ``dedupe_key`` (the Message-ID, or a content hash when there is none) is
    unique: the same mail arriving twice is stored once.
    """

    __tablename__ = "messages"
    __table_args__ = (
        CheckConstraint(_in("direction", DIRECTIONS), name="direction"),
        CheckConstraint(_in("kind", MESSAGE_KINDS), name="kind"),
        Index("ix_messages_message_id", "message_id"),
        Index("ix_messages_ticket_id", "ticket_id"),
        Index("ix_messages_body_hash_received_at", "body_hash", "received_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    direction: Mapped[str] = mapped_column(String(3))
    dedupe_key: Mapped[str] = mapped_column(String(255), unique=True)
    message_id: Mapped[str | None] = mapped_column(String(998))
    in_reply_to: Mapped[str | None] = mapped_column(String(998))
    references: Mapped[list[str]] = mapped_column(default=list)
    from_address: Mapped[str] = mapped_column(String(320), default="")
    from_name: Mapped[str | None] = mapped_column(String(200))
    to: Mapped[list[str]] = mapped_column(default=list)
    cc: Mapped[list[str]] = mapped_column(default=list)
    subject: Mapped[str] = mapped_column(Text, default="")
    date: Mapped[datetime | None]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    source: Mapped[str | None] = mapped_column(String(100))
    visible_text: Mapped[str] = mapped_column(Text, default="")
    full_text: Mapped[str] = mapped_column(Text, default="")
    html: Mapped[str | None] = mapped_column(Text)
    raw: Mapped[bytes | None] = mapped_column(LargeBinary)
    is_note: Mapped[bool] = mapped_column(Boolean, default=False)
    # mail | auto (a loop suspect: never answered automatically) | bounce
    kind: Mapped[str] = mapped_column(String(10), default="mail", server_default="mail")
    guard_reasons: Mapped[list[str]] = mapped_column(default=list, server_default="[]")
    # Of the new text, normalized: the same text again and again within an hour is a robot.
    body_hash: Mapped[str | None] = mapped_column(String(32))

    ticket: Mapped[Ticket] = relationship(back_populates="messages")
    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="message", order_by="Attachment.id", cascade="all, delete-orphan"
    )


class Attachment(Base):
    __tablename__ = "attachments"
    __table_args__ = (Index("ix_attachments_message_id", "message_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(255), default="application/octet-stream")
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    content_id: Mapped[str | None] = mapped_column(String(998))
    inline: Mapped[bool] = mapped_column(Boolean, default=False)
    content: Mapped[bytes | None] = mapped_column(LargeBinary)

    message: Mapped[Message] = relationship(back_populates="attachments")


class Participant(Base):
    """Who is on a ticket: the requester, people in Cc, agents who worked on it."""

    __tablename__ = "participants"
    __table_args__ = (
        UniqueConstraint("ticket_id", "address"),
        CheckConstraint(_in("role", ("requester", "cc", "agent")), name="role"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    address: Mapped[str] = mapped_column(String(320))
    name: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    added_at: Mapped[datetime] = mapped_column(default=utcnow)

    ticket: Mapped[Ticket] = relationship(back_populates="participants")


class Event(Base):
    """The audit log: who changed what, when. ``ticket_id`` is empty for desk-wide events."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_ticket_id", "ticket_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(320))
    kind: Mapped[str] = mapped_column(String(50))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)

    ticket: Mapped[Ticket | None] = relationship(back_populates="events")
