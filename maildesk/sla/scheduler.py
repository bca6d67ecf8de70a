"""The SLA clock's tick: claim due timers, remind, escalate; the daily digests (digests.py).

APScheduler (daemon.py) only decides *when* to tick; what is due and what
already happened is in the database. Each ticket with due timers is handled
in its own transaction: the ticket row is locked (``FOR UPDATE SKIP
LOCKED`` on PostgreSQL, so a second scheduler moves on to other tickets),
the timers flip from pending to fired only if still pending, and the mail
goes into the outbox in the same transaction. So a reminder or breach
happens once per ticket and target, across restarts and processes.

A tick that finds nothing due costs one indexed range query on
(state, due_at), whatever the number of open tickets.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from maildesk.clock import Clock
from maildesk.config.model import Settings
from maildesk.errors import TryLater
from maildesk.mail import PRIORITIES, Fired
from maildesk.outbox.mails import Mailer
from maildesk.sla import notices, timers, waiting
from maildesk.sla.calendar import BusinessCalendar
from maildesk.sla.digests import Digests
from maildesk.store import agents as agents_store
from maildesk.store.db import rolled_back, transaction
from maildesk.store.events import add_event
from maildesk.store.models import SlaTimer, Ticket
from maildesk.thread import ticket_token

log = logging.getLogger("maildesk.sla")


class _Lost(Exception):
    """Another scheduler fired these timers first: undo ours."""


@dataclass
class SlaScheduler:
    settings: Settings
    sessions: sessionmaker[Session]
    clock: Clock
    mailer: Mailer
    # The calendar in force now (rule reloads may replace it).
    calendar: Callable[[], BusinessCalendar]
    batch: int = 200

    def __post_init__(self) -> None:
        self.digests = Digests(self.settings, self.sessions, self.mailer, self.calendar)

    def tick(self, now: datetime | None = None, *, dry_run: bool = False) -> list[Fired]:
        """Everything due at ``now``; in a dry run nothing is committed or sent."""
        now = now or self.clock.now()
        if dry_run:
            with rolled_back(self.sessions) as session:
                return self._timers_in(session, now) + self.digests.due_in(session, now)
        try:
            return self._timers(now) + self.digests.send(now)
        except (TryLater, OperationalError) as exc:  # the database is away: next tick
            log.error("SLA tick: database unavailable: %s", getattr(exc, "orig", exc))
            return []

    # -- timers ---------------------------------------------------------------

    def due_tickets(self, session: Session, now: datetime, limit: int) -> list[int]:
        """Tickets with a timer due, most overdue first (one indexed range scan)."""
        first_due = func.min(SlaTimer.due_at)
        rows = session.execute(
            select(SlaTimer.ticket_id, first_due)
            .where(SlaTimer.state == "pending", SlaTimer.due_at <= now)
            .group_by(SlaTimer.ticket_id)
            .order_by(first_due, SlaTimer.ticket_id)
            .limit(limit)
        )
        return [row[0] for row in rows]

    def _timers(self, now: datetime) -> list[Fired]:
        done: list[Fired] = []
        skipped: set[int] = set()
        while True:
            with self.sessions() as session:
                found = self.due_tickets(session, now, self.batch + len(skipped))
            candidates = [t for t in found if t not in skipped]
            if not candidates:
                return done
            progress = False
            for ticket_id in candidates:
                try:
                    with transaction(self.sessions) as session:
                        fired = self._ticket(session, ticket_id, now)
                except _Lost:
                    fired = None
                except TryLater as exc:  # SQLite busy, a deadlock victim, or the DB is away
                    log.debug("SLA: ticket %s: %s; next tick", ticket_id, exc)
                    fired = None
                if fired is None:  # locked by another scheduler, or fired by it
                    skipped.add(ticket_id)
                    continue
                progress = True
                done += fired
            if not progress or len(found) < self.batch + len(skipped):
                return done

    def _timers_in(self, session: Session, now: datetime) -> list[Fired]:
        done: list[Fired] = []
        for ticket_id in self.due_tickets(session, now, 10_000):
            try:
                done += self._ticket(session, ticket_id, now) or []
            except _Lost:
                continue
        return done

    def _ticket(self, session: Session, ticket_id: int, now: datetime) -> list[Fired] | None:
        """Fire the ticket's due timers; None if another scheduler holds or did it."""
        ticket = session.scalar(
            select(Ticket).where(Ticket.id == ticket_id).with_for_update(skip_locked=True)
        )
        if ticket is None:
            return None
        due = list(
            session.scalars(
                select(SlaTimer)
                .where(
                    SlaTimer.ticket_id == ticket_id,
                    SlaTimer.state == "pending",
                    SlaTimer.due_at <= now,
                )
                .order_by(SlaTimer.due_at, SlaTimer.id)
                .with_for_update()
            )
        )
        if not due:
            return None
        stale_or_due = [t for t in due if t.target == timers.WAITING]
        fired: list[Fired] = []
        if stale_or_due:
            # Only while the ticket waits for its customer; else they are stale.
            state = "fired" if ticket.status == "pending" else "cancelled"
            self._claim(session, stale_or_due, now, state)
            if state == "fired":
                fired = self._waiting(session, ticket, stale_or_due, now)
            due = [t for t in due if t.target != timers.WAITING]
            if not due:
                return fired
        return fired + self._targets(session, ticket, due, now)

    def _targets(
        self, session: Session, ticket: Ticket, due: list[SlaTimer], now: datetime
    ) -> list[Fired]:
        """Reminders and breaches of the SLA targets among the due timers."""
        if ticket.status in ("resolved", "closed"):  # should have been cancelled already
            self._claim(session, due, now, "cancelled")
            return []
        if ticket.status == "pending":  # waiting for the customer: the clock stands still
            session.execute(
                update(SlaTimer)
                .where(SlaTimer.id.in_([t.id for t in due]), SlaTimer.state == "pending")
                .values(state="paused", paused_at=now)
            )
            return []
        self._claim(session, due, now, "fired")
        met = {"first_response"} if ticket.first_response_at is not None else set()
        breaches = [t for t in due if t.kind == "breach" and t.target not in met]
        breached = {t.target for t in breaches}
        reminders: dict[str, SlaTimer] = {}
        for timer in due:  # the latest due reminder per target; none once it is breached
            if timer.kind == "reminder" and timer.target not in breached | met:
                reminders[timer.target] = timer
        fired = [self._remind(session, ticket, t, now) for t in reminders.values()]
        if breaches:
            fired.append(self._breach(session, ticket, breaches, now))
        return fired

    def _waiting(
        self, session: Session, ticket: Ticket, due: list[SlaTimer], now: datetime
    ) -> list[Fired]:
        return waiting.fire(self.mailer, session, ticket, due, self.calendar(), now)

    def _claim(self, session: Session, timers: list[SlaTimer], now: datetime, state: str) -> None:
        """pending -> fired/cancelled, only where still pending (SQLite has no row locks)."""
        result = session.execute(
            update(SlaTimer)
            .where(SlaTimer.id.in_([t.id for t in timers]), SlaTimer.state == "pending")
            .values(state=state, done_at=now)
            .execution_options(synchronize_session=False)
        )
        if (result.rowcount or 0) != len(timers):  # type: ignore[attr-defined]
            raise _Lost

    def _watchers(self, session: Session, ticket: Ticket, now: datetime) -> list[str]:
        """The assignee (while away: the tier's other agents at work), else the tier's
        agents, else its lead."""
        tier = self.settings.tier(ticket.tier) if ticket.tier else None
        agents = list(tier.agents) if tier is not None else []
        if ticket.assignee:
            return agents_store.stand_ins(session, ticket.assignee, agents, now)
        return agents or ([tier.lead] if tier is not None and tier.lead else [])

    def _remind(self, session: Session, ticket: Ticket, timer: SlaTimer, now: datetime) -> Fired:
        cal = self.calendar()
        due = self._deadline(ticket, timer)
        values = notices.timer_values(
            timer.target, "reminder", timer.fraction, due, now, cal, self._language
        )
        to = self._watchers(session, ticket, now)
        if to:
            notices.send_reminder(self.mailer, session, ticket, to, values, now)
        add_event(
            session,
            ticket.id,
            "maildesk",
            "sla_reminder",
            {"target": timer.target, "fraction": timer.fraction, "to": to},
            now,
        )
        return Fired("reminder", self._token(ticket), timer.target, timer.due_at, tuple(to))

    def _deadline(self, ticket: Ticket, timer: SlaTimer) -> datetime:
        due = getattr(ticket, f"{timer.target}_due", None)
        return due if isinstance(due, datetime) else timer.due_at

    def _breach(
        self, session: Session, ticket: Ticket, timers: list[SlaTimer], now: datetime
    ) -> Fired:
        """Record each broken target; escalate one step and raise the priority once."""
        old_tier = self.settings.tier(ticket.tier) if ticket.tier else None
        new_tier = (
            self.settings.tier(old_tier.escalates_to)
            if old_tier and old_tier.escalates_to
            else None
        )
        escalation: dict[str, object] = {
            "from_tier": ticket.tier,
            "to_tier": None,
            "from_priority": ticket.priority,
            "to_priority": None,
            "breached": [notices.TARGET_NAMES[t.target] for t in timers],
        }
        for timer in timers:
            add_event(
                session,
                ticket.id,
                "maildesk",
                "sla_breach",
                {"target": timer.target, "due": timer.due_at.isoformat()},
                now,
            )
        if new_tier is not None:
            escalation["to_tier"] = new_tier.name
            add_event(
                session,
                ticket.id,
                "maildesk",
                "tier",
                {"from": ticket.tier, "to": new_tier.name, "why": "SLA breached"},
                now,
            )
            ticket.tier = new_tier.name
        index = PRIORITIES.index(ticket.priority) if ticket.priority in PRIORITIES else 2
        if self.settings.sla.raise_priority and index > 0:
            raised = PRIORITIES[index - 1]
            escalation["to_priority"] = raised
            add_event(
                session,
                ticket.id,
                "maildesk",
                "priority",
                {"from": ticket.priority, "to": raised, "why": "SLA breached"},
                now,
            )
            ticket.priority = raised
        ticket.updated_at = now
        to: list[str] = []
        for tier in (old_tier, new_tier):
            if tier is not None and tier.lead:
                to.append(tier.lead)
        if new_tier is not None:
            to += new_tier.agents
        if ticket.assignee:
            to.append(ticket.assignee)
        to = list(dict.fromkeys(to)) or self._watchers(session, ticket, now)
        first = timers[0]
        values = notices.timer_values(
            first.target, "breach", 1.0, first.due_at, now, self.calendar(), self._language
        )
        if to:
            notices.send_breach(self.mailer, session, ticket, to, values, escalation, now)
        detail = ", ".join(
            f"{name} {escalation[f'from_{name}']} -> {escalation[f'to_{name}']}"
            for name in ("tier", "priority")
            if escalation[f"to_{name}"]
        )
        return Fired(
            "breach",
            self._token(ticket),
            "+".join(t.target for t in timers),
            first.due_at,
            tuple(to),
            detail,
        )

    @property
    def _language(self) -> str:
        """The agents' language: the desk's default."""
        return self.settings.helpdesk.default_language or "en"

    def _token(self, ticket: Ticket) -> str:
        return ticket_token(self.settings.helpdesk.token_format, ticket.id)
