"""A ticket left pending on its customer: one reminder, then it is resolved.

``close_pending_days`` of an SLA policy (business days by its hours) starts
when an agent sets the ticket pending; ``remind_pending_days`` in (a day
before, by default) the customer is asked once more, and at the end the
ticket is resolved as ``no_reply``, the customer told that a reply opens it
again. Any change away from pending cancels both (sla/timers.py). No
satisfaction survey follows a ticket nobody answered.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from maildesk.mail import Fired, Letter
from maildesk.outbox.mails import Mailer
from maildesk.sla import timers
from maildesk.sla.calendar import BusinessCalendar
from maildesk.sla.notices import local_time
from maildesk.store.events import add_event
from maildesk.store.models import SlaTimer, Ticket
from maildesk.store.tickets import customer_addresses
from maildesk.thread import ticket_token


def fire(
    mailer: Mailer,
    session: Session,
    ticket: Ticket,
    due: list[SlaTimer],
    calendar: BusinessCalendar,
    now: datetime,
) -> list[Fired]:
    """The due waiting timers of a pending ticket (already claimed): the close wins
    over a reminder that is due at the same time."""
    token = ticket_token(mailer.settings.helpdesk.token_format, ticket.id)
    settings = mailer.settings
    agents = settings.agent_addresses
    to = customer_addresses(session, ticket, agents, settings.helpdesk.max_cc)
    close = next((t for t in due if t.kind == "breach"), None)
    if close is None:
        closes = session.scalar(
            select(SlaTimer.due_at).where(
                SlaTimer.ticket_id == ticket.id,
                SlaTimer.target == timers.WAITING,
                SlaTimer.kind == "breach",
                SlaTimer.state == "pending",
            )
        )
        language = _language(mailer, ticket)
        values = {"closes": local_time(closes, calendar, language) if closes else ""}
        if to and not ticket.quiet:
            _send(mailer, session, ticket, "pending_reminder", to, values, now)
        add_event(session, ticket.id, "maildesk", "waiting_reminded", {"to": to}, now)
        return [Fired("reminder", token, timers.WAITING, due[0].due_at, tuple(to))]
    ticket.status, ticket.resolved_at, ticket.resolution = "resolved", now, "no_reply"
    ticket.updated_at = now
    timers.settle(settings, ticket, calendar)
    why = "no reply from the customer while pending"
    add_event(
        session,
        ticket.id,
        "maildesk",
        "status",
        {"from": "pending", "to": "resolved", "why": why},
        now,
    )
    timers.cancel(session, ticket.id, (*timers.ALL_TARGETS, timers.WAITING), now)
    if to and not ticket.quiet:
        _send(mailer, session, ticket, "pending_closed", to, {}, now)
    return [Fired("closed", token, timers.WAITING, close.due_at, tuple(to), why)]


def _language(mailer: Mailer, ticket: Ticket) -> str:
    return ticket.language or mailer.settings.helpdesk.default_language or "en"


def _send(
    mailer: Mailer,
    session: Session,
    ticket: Ticket,
    template: str,
    to: list[str],
    values: dict[str, str],
    now: datetime,
) -> None:
    language = _language(mailer, ticket)
    wanted = (ticket.language, mailer.settings.helpdesk.default_language, "en")
    context = {**mailer.context(ticket, None, None, language), "waiting": values}
    mailer.send(session, ticket, Letter(template, template, tuple(to), wanted, context), now)
