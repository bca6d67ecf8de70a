"""SLA timers, digests and satisfaction surveys."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from maildesk.store.models.base import Base, _in, utcnow

if TYPE_CHECKING:
    from maildesk.store.models.tickets import Ticket

# waiting: a ticket pending on its customer is reminded of, then closed (sla/waiting.py).
SLA_TARGETS = ("first_response", "next_response", "resolution", "waiting")
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


class ReportMailing(Base):
    """One row per week the weekly report went out: the unique key makes it once a week
    across daemons; its outbox mails are queued in the transaction that writes it."""

    __tablename__ = "report_mailings"
    __table_args__ = (UniqueConstraint("week"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    week: Mapped[str] = mapped_column(String(10))  # YYYY-Www, ISO, of the week reported
    sent_at: Mapped[datetime]
    recipients: Mapped[int] = mapped_column(Integer, default=0)


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
