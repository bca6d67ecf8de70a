"""The database schema: tickets and everything that hangs off them.

The same models run on SQLite (the embedded default) and PostgreSQL. Changes
to this file need an Alembic migration in ``migrations/versions``; a test
compares the two so that they cannot drift apart.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    true,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from maildesk.mail import PRIORITIES, TICKET_STATUSES

DIRECTIONS = ("in", "out")
MESSAGE_KINDS = ("mail", "auto", "bounce")
OUTBOX_STATES = ("pending", "sent", "failed")
QUARANTINE_STATES = ("held", "released", "deleted", "rejected")
QUARANTINE_KINDS = ("quarantined", "held")

# Named constraints, so that migrations can address them on every database.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps are stored in UTC and always come back timezone-aware.

    SQLite has no time zones; without this a naive datetime read back from
    SQLite would compare wrongly with an aware one from PostgreSQL.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use an aware UTC time")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime,
        dict[str, Any]: JSON,
        list[str]: JSON,
    }


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


class OutboxMessage(Base):
    """An outgoing mail, written in the same transaction as the change that caused it.

    ``message_id`` is fixed when the row is written, so a resend after a
    crash carries the same Message-ID and receivers can drop the duplicate.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        CheckConstraint(_in("state", OUTBOX_STATES), name="state"),
        Index("ix_outbox_state_next_attempt_at", "state", "next_attempt_at"),
        Index("ix_outbox_ticket_id", "ticket_id"),  # a ticket's mail; automatic-reply limits
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(50))
    message_id: Mapped[str] = mapped_column(String(998), unique=True)
    sender: Mapped[str] = mapped_column(String(320))
    recipients: Mapped[list[str]] = mapped_column(default=list)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    state: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


class MailBudget(Base):
    """How much automatic mail went to one ticket or address in one clock hour.

    ``key`` is ``ticket:1042`` or ``to:alice@example.org``; an upsert per mail
    counts, so that a loop is stopped by a limit whatever its headers say.
    """

    __tablename__ = "mail_budget"

    key: Mapped[str] = mapped_column(String(340), primary_key=True)
    hour: Mapped[datetime] = mapped_column(primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class MailboxState(Base):
    """Where an IMAP folder was read up to; a changed UIDVALIDITY means start over."""

    __tablename__ = "mailbox_state"
    __table_args__ = (UniqueConstraint("mailbox", "folder"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mailbox: Mapped[str] = mapped_column(String(200))
    folder: Mapped[str] = mapped_column(String(500))
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    last_uid: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class MailboxClaim(Base):
    """One process's claim on one IMAP message, so that several daemons share a mailbox.

    Written before the message is fetched, marked done after it was stored and
    moved; a claim whose owner died is taken over (see store/mailboxes.py).
    """

    __tablename__ = "mailbox_claims"

    mailbox: Mapped[str] = mapped_column(String(200), primary_key=True)
    folder: Mapped[str] = mapped_column(String(500), primary_key=True)
    uidvalidity: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    uid: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    owner: Mapped[str] = mapped_column(String(200))
    claimed_at: Mapped[datetime] = mapped_column()
    done: Mapped[bool] = mapped_column(Boolean, default=False)


class QuarantinedMessage(Base):
    """A mail that could not be handled: raw bytes and the reason, for `quarantine retry`."""

    __tablename__ = "quarantine"
    __table_args__ = (
        CheckConstraint(_in("state", QUARANTINE_STATES), name="state"),
        CheckConstraint(_in("kind", QUARANTINE_KINDS), name="kind"),
        Index("ix_quarantine_state", "state"),
        Index("ix_quarantine_ticket_id", "ticket_id"),  # a ticket's held mail
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    source: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text)
    detail: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[str | None] = mapped_column(String(998))
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    state: Mapped[str] = mapped_column(String(20), default="held")
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    # quarantined: could not be handled; held: kept for review (a stranger on a ticket,
    # a forged agent); state rejected: an agent kept a held mail out (still stored)
    kind: Mapped[str] = mapped_column(
        String(20), default="quarantined", server_default="quarantined"
    )
    # The same bad mail delivered twice is held once.
    dedupe_key: Mapped[str | None] = mapped_column(String(255), unique=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"))
    # The From address of a held mail: `#admit ADDRESS` finds it by this.
    sender: Mapped[str | None] = mapped_column(String(320))


SLA_TARGETS = ("first_response", "next_response", "resolution")
TIMER_STATES = ("pending", "paused", "fired", "cancelled")


class SlaTimer(Base):
    """One moment an SLA needs attention: a reminder before a deadline, or the breach.

    Indexed by (state, due_at) so that a scheduler tick reads only what is due,
    however many tickets are open.
    """

    __tablename__ = "sla_timers"
    __table_args__ = (
        CheckConstraint(_in("target", SLA_TARGETS), name="target"),
        CheckConstraint(_in("state", TIMER_STATES), name="state"),
        CheckConstraint(_in("kind", ("reminder", "breach")), name="kind"),
        Index("ix_sla_timers_state_due_at", "state", "due_at"),
        Index("ix_sla_timers_ticket_id", "ticket_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    target: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(10))
    fraction: Mapped[float] = mapped_column(Float, default=1.0)
    due_at: Mapped[datetime]
    state: Mapped[str] = mapped_column(String(10), default="pending")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    done_at: Mapped[datetime | None]
    # While the ticket waits for the customer: when the clock stopped.
    paused_at: Mapped[datetime | None]


class SlaDigest(Base):
    """One row per tier and day a digest went out: the unique key makes it once a day."""

    __tablename__ = "sla_digests"
    __table_args__ = (UniqueConstraint("tier", "day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tier: Mapped[str] = mapped_column(String(50))
    day: Mapped[str] = mapped_column(String(10))  # YYYY-MM-DD in the calendar's zone
    sent_at: Mapped[datetime]
    tickets: Mapped[int] = mapped_column(Integer, default=0)


SURVEY_STATES = ("scheduled", "sent", "answered", "cancelled")


class Survey(Base):
    """The one satisfaction survey of a ticket: scheduled when it is resolved, sent by the
    scheduler when due, answered by the customer's reply."""

    __tablename__ = "surveys"
    __table_args__ = (
        CheckConstraint(_in("state", SURVEY_STATES), name="state"),
        Index("ix_surveys_state_due_at", "state", "due_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), unique=True
    )
    state: Mapped[str] = mapped_column(String(10), default="scheduled")
    due_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    message_id: Mapped[str | None] = mapped_column(String(998))
    score: Mapped[int | None] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime | None]

    ticket: Mapped[Ticket] = relationship()
