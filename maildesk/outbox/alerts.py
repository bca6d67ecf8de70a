"""The alert that a mail loop was stopped: to the tier lead, once a day per ticket, five in all.

A loop is stopped by the hourly budgets (outbox/budget.py) or by the same text
arriving again and again (the pipeline's check); either way nothing incoming
is lost, and a person should know that a robot is talking to the desk. This
decides whether to alert and whom, and records it; the writer writes the mail.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from maildesk.config.model import Settings
from maildesk.mail import Letter
from maildesk.outbox.context import ticket_values
from maildesk.store.events import add_event
from maildesk.store.models import Event, Ticket

ONCE_PER = timedelta(days=1)
DESK_PER_DAY = 5


def loop_alert(
    settings: Settings, session: Session, ticket: Ticket, why: str, now: datetime
) -> Letter | None:
    """The alert to write, recorded as an event; None when one went out today already."""
    alerted = session.execute(
        select(Event.ticket_id).where(Event.kind == "loop_alert", Event.at >= now - ONCE_PER)
    ).scalars()
    last_day = list(alerted)
    # Once a day per ticket, and a few an hour in all: a robot that opens a new ticket
    # with every mail, and answers the alert too, must not be fed by the alerts.
    if ticket.id in last_day or len(last_day) >= DESK_PER_DAY:
        return None
    to = alert_recipients(settings, ticket)
    add_event(session, ticket.id, "maildesk", "loop_alert", {"why": why, "to": to}, now)
    if not to:
        return None
    wanted = (settings.helpdesk.default_language, "en")
    outbox = settings.outbox
    context = {
        **ticket_values(settings, ticket, None, None, wanted[0] or "en"),
        "alert": {
            "why": why,
            "per_ticket": outbox.per_ticket_per_hour,
            "per_address": outbox.per_address_per_hour,
            "same_text": outbox.same_text_per_hour,
        },
    }
    return Letter("loop_alert", "loop_alert", tuple(to), wanted, context)


def alert_recipients(settings: Settings, ticket: Ticket) -> list[str]:
    """The ticket's tier lead, else every lead, else the tier's agents."""
    tier = settings.tier(ticket.tier) if ticket.tier else None
    if tier is not None and tier.lead:
        return [tier.lead]
    leads = list(dict.fromkeys(t.lead for t in settings.tiers if t.lead))
    return leads or (list(tier.agents) if tier else [])
