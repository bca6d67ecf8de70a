"""The daily SLA digest: per tier, what is open, at risk and breached, once a day.

Sent at ``sla.digest_at`` on business days; the (tier, day) row makes it once
across restarts and processes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from maildesk.config.model import Settings
from maildesk.config.semantics import parse_clock_time, parse_duration
from maildesk.mail import Fired
from maildesk.outbox.mails import Mailer
from maildesk.sla import notices
from maildesk.sla.calendar import BusinessCalendar
from maildesk.store.db import transaction
from maildesk.store.events import add_event
from maildesk.store.models import SlaDigest, SlaTimer, Ticket

OPEN_STATUSES = ("new", "open", "pending")


@dataclass
class Digests:
    settings: Settings
    sessions: sessionmaker[Session]
    mailer: Mailer
    calendar: Callable[[], BusinessCalendar]  # the calendar in force now

    def due_day(self, now: datetime) -> str | None:
        """Today's date in the calendar's zone if a digest is due now, else None."""
        at = parse_clock_time(self.settings.sla.digest_at or "")
        if at is None:
            return None
        cal = self.calendar()
        local = now.astimezone(cal.zone)
        day = local.date()
        if day.weekday() not in cal.days or day in cal.holidays or local.time() < at:
            return None
        return day.isoformat()

    def send(self, now: datetime) -> list[Fired]:
        day = self.due_day(now)
        if day is None:
            return []
        done: list[Fired] = []
        for tier in self.settings.tiers:
            try:
                with transaction(self.sessions) as session:
                    done += self._one(session, tier.name, day, now)
            except IntegrityError:  # another scheduler sent this tier's digest just now
                continue
        return done

    def due_in(self, session: Session, now: datetime) -> list[Fired]:
        day = self.due_day(now)
        if day is None:
            return []
        done: list[Fired] = []
        for tier in self.settings.tiers:
            done += self._one(session, tier.name, day, now)
        return done

    def _one(self, session: Session, tier_name: str, day: str, now: datetime) -> list[Fired]:
        sent = session.scalar(
            select(SlaDigest.id).where(SlaDigest.tier == tier_name, SlaDigest.day == day)
        )
        if sent is not None:
            return []
        digest = self.build(session, tier_name, day, now)
        session.add(SlaDigest(tier=tier_name, day=day, sent_at=now, tickets=len(digest.open)))
        tier = self.settings.tier(tier_name)
        to = list(
            dict.fromkeys(
                [*(tier.agents if tier else ()), *([tier.lead] if tier and tier.lead else [])]
            )
        )
        if not digest.open or not to:  # nothing open: no mail, but the day is done
            session.flush()
            return []
        notices.send_digest(self.mailer, session, digest, to, now)
        add_event(
            session,
            None,
            "maildesk",
            "sla_digest",
            {"tier": tier_name, "day": day, "open": len(digest.open), "to": to},
            now,
        )
        session.flush()
        detail = (
            f"{len(digest.open)} open, {len(digest.at_risk)} at risk, "
            f"{len(digest.breached)} breached"
        )
        return [Fired("digest", tier_name, "", None, tuple(to), detail)]

    def build(self, session: Session, tier: str, day: str, now: datetime) -> notices.Digest:
        tickets = list(
            session.scalars(
                select(Ticket)
                .where(Ticket.tier == tier, Ticket.status.in_(OPEN_STATUSES))
                .order_by(Ticket.created_at, Ticket.id)
            )
        )
        ids = [t.id for t in tickets]
        next_due: dict[int, datetime] = {}
        breached: set[int] = set()
        for chunk in range(0, len(ids), 500):
            part = ids[chunk : chunk + 500]
            for ticket_id, due, state in session.execute(
                select(SlaTimer.ticket_id, SlaTimer.due_at, SlaTimer.state).where(
                    SlaTimer.ticket_id.in_(part),
                    SlaTimer.kind == "breach",
                    SlaTimer.state.in_(("pending", "paused", "fired")),
                )
            ):
                if state == "fired":
                    breached.add(ticket_id)
                elif state == "pending" and (
                    ticket_id not in next_due or due < next_due[ticket_id]
                ):
                    next_due[ticket_id] = due
        window = parse_duration(self.settings.sla.at_risk_within) or timedelta(days=1)
        cal = self.calendar()
        fmt = self.settings.helpdesk.token_format
        language = self.settings.helpdesk.default_language or "en"
        lines = {
            t.id: notices.ticket_line(t, next_due.get(t.id), now, fmt, cal, language)
            for t in tickets
        }
        return notices.Digest(
            tier=tier,
            day=day,
            open=[lines[t.id] for t in tickets],
            at_risk=[
                lines[t.id]
                for t in tickets
                if t.id not in breached and t.id in next_due and next_due[t.id] <= now + window
            ],
            breached=[lines[t.id] for t in tickets if t.id in breached],
        )
