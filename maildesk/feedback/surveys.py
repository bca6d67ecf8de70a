"""Satisfaction surveys: scheduled on resolution, sent by the scheduler, answered by reply.

One survey per ticket (a unique key on the ticket): reopening before it went
out cancels it, resolving again schedules it again; once sent, never again.
The answer is recorded and does not reopen the ticket; a low score tells
the tier lead. Sending follows the SLA timers' pattern: due rows claimed
with row locks and a pending -> sent change that only one process wins.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote

from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from maildesk.clock import Clock
from maildesk.config.model import Settings
from maildesk.config.semantics import parse_duration
from maildesk.errors import TryLater
from maildesk.mail import DONE, Fired, Letter
from maildesk.outbox.mails import Mailer
from maildesk.store.db import rolled_back, transaction
from maildesk.store.events import add_event
from maildesk.store.models import Survey, Ticket
from maildesk.thread import ticket_token

log = logging.getLogger("maildesk.survey")


def follow_status(
    session: Session, settings: Settings, ticket: Ticket, before: str, now: datetime
) -> None:
    """Resolving schedules the survey; reopening before it was sent cancels it."""
    after = ticket.status
    if after in DONE and before not in DONE:
        schedule(session, settings, ticket, now)
    elif after not in DONE and before in DONE:
        cancel_scheduled(session, ticket.id)


def cancel_scheduled(session: Session, ticket_id: int) -> None:
    """A survey not yet sent will not be (the ticket reopened, or was merged away)."""
    session.execute(
        update(Survey)
        .where(Survey.ticket_id == ticket_id, Survey.state == "scheduled")
        .values(state="cancelled")
    )


def schedule(session: Session, settings: Settings, ticket: Ticket, now: datetime) -> None:
    if not settings.survey.enabled or not ticket.survey or ticket.requester is None:
        return
    if ticket.quiet:  # its first mail was forged or spam: no robot writes to them
        return
    due = now + (parse_duration(settings.survey.delay) or timedelta(0))
    existing = session.scalar(select(Survey).where(Survey.ticket_id == ticket.id))
    if existing is None:
        session.add(Survey(ticket_id=ticket.id, state="scheduled", due_at=due))
    elif existing.state == "cancelled":  # never sent: this resolution gets it
        existing.state, existing.due_at = "scheduled", due


def sent_survey(session: Session, ticket_id: int) -> Survey | None:
    """The survey a reply may be answering (sent, or answered and now changed)."""
    return session.scalar(
        select(Survey).where(Survey.ticket_id == ticket_id, Survey.state.in_(("sent", "answered")))
    )


def record_answer(
    mailer: Mailer,
    session: Session,
    ticket: Ticket,
    survey: Survey,
    score: int,
    comment: str,
    who: str,
    now: datetime,
) -> None:
    """Keep the score (a later answer replaces an earlier one); a low one tells the lead."""
    survey.state, survey.score, survey.answered_at = "answered", score, now
    survey.comment = comment[:4000] or None
    add_event(
        session, ticket.id, who, "survey_answer", {"score": score, "comment": comment[:500]}, now
    )
    settings = mailer.settings
    if score > settings.survey.notify_at_or_below:
        return
    tier = settings.tier(ticket.tier) if ticket.tier else None
    to = [tier.lead] if tier is not None and tier.lead else list(tier.agents if tier else ())
    if ticket.assignee and ticket.assignee not in to:
        to.append(ticket.assignee)
    if not to:
        return
    wanted: list[str | None] = [settings.helpdesk.default_language, "en"]
    context = {
        **mailer.context(ticket, None, None, wanted[0] or "en"),
        "survey": {"score": score, "comment": comment},
    }
    mailer.send(
        session, ticket, Letter("survey_low", "survey_low", tuple(to), tuple(wanted), context), now
    )


@dataclass
class SurveySender:
    """Sends the surveys that are due; a tick of the same clock as the SLA timers."""

    settings: Settings
    sessions: sessionmaker[Session]
    clock: Clock
    mailer: Mailer
    batch: int = 200

    def tick(self, now: datetime | None = None, *, dry_run: bool = False) -> list[Fired]:
        now = now or self.clock.now()
        if dry_run:
            with rolled_back(self.sessions) as session:
                due = self._due(session, now, lock=False)
                return [f for survey in due if (f := self._send(session, survey, now))]
        done: list[Fired] = []
        try:
            while True:
                with transaction(self.sessions) as session:
                    due = self._due(session, now, lock=True)
                    for survey in due:
                        fired = self._send(session, survey, now)
                        if fired is not None:
                            done.append(fired)
                if len(due) < self.batch:
                    return done
        except (TryLater, OperationalError) as exc:
            log.error("surveys: database unavailable: %s", getattr(exc, "orig", exc))
            return done

    def _due(self, session: Session, now: datetime, *, lock: bool) -> list[Survey]:
        query = (
            select(Survey)
            .where(Survey.state == "scheduled", Survey.due_at <= now)
            .order_by(Survey.due_at, Survey.id)
            .limit(self.batch)
        )
        if lock:
            query = query.with_for_update(skip_locked=True)
        return list(session.scalars(query))

    def _send(self, session: Session, survey: Survey, now: datetime) -> Fired | None:
        ticket = session.get(Ticket, survey.ticket_id)
        claimed = session.execute(
            update(Survey)
            .where(Survey.id == survey.id, Survey.state == "scheduled")
            .values(state="sent" if ticket is not None and ticket.status in DONE else "cancelled")
            .execution_options(synchronize_session=False)
        )
        if not claimed.rowcount or ticket is None or ticket.status not in DONE:  # type: ignore[attr-defined]
            return None
        customer = ticket.requester.address if ticket.requester else None
        if customer is None:
            return None
        wanted = [ticket.language, self.settings.helpdesk.default_language, "en"]
        context = self.mailer.context(ticket, None, None, next((w for w in wanted if w), "en"))
        context["buttons"] = answer_buttons(
            self.mailer.writer.reply_to(ticket.id),
            f"Re: {context['ticket']['token']} {ticket.subject}",
        )
        message_id = self.mailer.send(
            session,
            ticket,
            Letter("survey", "survey", (customer,), tuple(wanted), context),
            now,
        )
        session.execute(
            update(Survey)
            .where(Survey.id == survey.id)
            .values(sent_at=now, message_id=message_id)
            .execution_options(synchronize_session=False)
        )
        token = ticket_token(self.settings.helpdesk.token_format, ticket.id)
        return Fired("survey", token, "", survey.due_at, (customer,))


def answer_buttons(address: str, subject: str) -> list[dict[str, str]]:
    """One button a score in the HTML survey: a mailto: link whose mail is the answer
    (the score on its first line, the ticket's token in its subject), sent by the
    customer's own mail client; no web page, nothing to track."""
    return [
        {
            "label": f"{score} \u2605",
            "href": f"mailto:{quote(address, safe='@+')}?subject={quote(subject, safe='')}"
            f"&body={score}",
        }
        for score in range(1, 6)
    ]
