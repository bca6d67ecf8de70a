"""The mail the SLA clock causes: reminders, breach notices and the daily digest.

Values only; the words are in templates/sla_reminder, sla_breach and
sla_digest. Times are shown in the business calendar's zone, durations in
words ("45 minutes"), so an agent reads them at a glance.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from maildesk.mail import Letter
from maildesk.outbox.humanize import humanize
from maildesk.outbox.mails import Mailer
from maildesk.sla.calendar import BusinessCalendar
from maildesk.store.models import Message, Ticket
from maildesk.thread import ticket_token

TARGET_NAMES = {
    "first_response": "first response",
    "next_response": "next response",
    "resolution": "resolution",
}
# The agents' language, when the desk's default is Russian.
TARGET_NAMES_RU = {
    "first_response": "первый ответ",
    "next_response": "следующий ответ",
    "resolution": "решение",
}


@dataclass(frozen=True)
class Digest:
    """One tier's morning view: every open ticket, and which are at risk or breached."""

    tier: str
    day: str
    open: list[dict[str, Any]]
    at_risk: list[dict[str, Any]]
    breached: list[dict[str, Any]]


def local_time(moment: datetime, calendar: BusinessCalendar, language: str = "en") -> str:
    """A moment in the calendar's zone; English names of days and months only in English."""
    local = moment.astimezone(calendar.zone)
    if language == "ru":
        return local.strftime("%d.%m.%Y %H:%M %Z")
    return local.strftime("%a %d %b %Y %H:%M %Z")


def last_customer_message(session: Session, ticket: Ticket) -> Message | None:
    return session.scalar(
        select(Message)
        .where(Message.ticket_id == ticket.id, Message.direction == "in", Message.kind == "mail")
        .order_by(Message.id.desc())
        .limit(1)
    )


def timer_values(
    target: str,
    kind: str,
    fraction: float,
    due: datetime,
    now: datetime,
    cal: BusinessCalendar,
    language: str = "en",
) -> dict[str, Any]:
    """The ``timer`` template variable, its words in the agents' ``language``."""
    names = TARGET_NAMES_RU if language == "ru" else TARGET_NAMES
    return {
        "target": target,
        "target_name": names.get(target, target),
        "kind": kind,
        "percent": round(fraction * 100),
        "due": local_time(due, cal, language),
        "left": humanize(due - now, language) if due > now else "",
        "overdue": humanize(now - due, language) if now > due else "",
    }


def send_reminder(
    mailer: Mailer,
    session: Session,
    ticket: Ticket,
    to: list[str],
    timer: dict[str, Any],
    now: datetime,
) -> str | None:
    return _send(mailer, session, ticket, "sla_reminder", to, {"timer": timer}, now)


def send_breach(
    mailer: Mailer,
    session: Session,
    ticket: Ticket,
    to: list[str],
    timer: dict[str, Any],
    escalation: dict[str, Any],
    now: datetime,
) -> str | None:
    extra = {"timer": timer, "escalation": escalation}
    return _send(mailer, session, ticket, "sla_breach", to, extra, now)


def _send(
    mailer: Mailer,
    session: Session,
    ticket: Ticket,
    template: str,
    to: list[str],
    extra: dict[str, Any],
    now: datetime,
) -> str | None:
    wanted: list[str | None] = [mailer.settings.helpdesk.default_language, "en"]
    language = wanted[0] or "en"
    message = last_customer_message(session, ticket)
    context = {**mailer.context(ticket, message, None, language), **extra}
    return mailer.send(
        session, ticket, Letter(template, template, tuple(to), tuple(wanted), context), now
    )


def ticket_line(
    ticket: Ticket,
    due: datetime | None,
    now: datetime,
    token_format: str,
    cal: BusinessCalendar,
    language: str = "en",
) -> dict[str, Any]:
    """A ticket as one line of the digest."""
    return {
        "id": ticket.id,
        "token": ticket_token(token_format, ticket.id),
        "subject": ticket.subject,
        "status": ticket.status,
        "priority": ticket.priority,
        "assignee": ticket.assignee,
        "age": humanize(now - ticket.created_at, language),
        "due": local_time(due, cal, language) if due else "",
        "overdue": humanize(now - due, language) if due and now > due else "",
    }


def send_digest(
    mailer: Mailer, session: Session, digest: Digest, to: list[str], now: datetime
) -> str | None:
    tier = mailer.settings.tier(digest.tier)
    context = {
        "helpdesk": {"name": mailer.settings.helpdesk.name, "address": mailer.address},
        "digest": {
            "tier": digest.tier,
            "description": tier.description if tier else "",
            "day": digest.day,
            "open": digest.open,
            "at_risk": digest.at_risk,
            "breached": digest.breached,
        },
    }
    wanted: list[str | None] = [mailer.settings.helpdesk.default_language, "en"]
    return mailer.send(
        session, None, Letter("sla_digest", "sla_digest", tuple(to), tuple(wanted), context), now
    )
