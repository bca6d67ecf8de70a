"""Mail in flight: the outbox, sending budgets, mailbox positions and claims, the quarantine."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from maildesk.store.models.base import (
    OUTBOX_STATES,
    QUARANTINE_KINDS,
    QUARANTINE_STATES,
    Base,
    _in,
    utcnow,
)


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
