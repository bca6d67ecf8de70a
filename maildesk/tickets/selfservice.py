"""The customer answers for themselves: the suggestions solved it, or the survey.

Only the requester may: a colleague on Cc who writes "solved" is not the
customer (README "Security model").
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from maildesk.desk import Desk
from maildesk.feedback import surveys
from maildesk.feedback.replies import self_served_phrase, survey_score
from maildesk.mail import (
    DONE,
)
from maildesk.store.events import add_event
from maildesk.store.models import (
    Ticket,
)


def self_served(
    desk: Desk, session: Session, ticket: Ticket, sender: str, visible: str, now: datetime
) -> bool:
    """No agent has answered yet and the customer says the suggestions solved it."""
    if ticket.status not in ("new", "open") or ticket.first_response_at is not None:
        return False
    config = desk.settings.self_service
    phrase = self_served_phrase(visible, config.phrases, config.max_words)
    if phrase is None:
        return False
    add_event(
        session,
        ticket.id,
        sender,
        "status",
        {
            "from": ticket.status,
            "to": "resolved",
            "why": f'self-served: the customer said "{phrase}"',
        },
        now,
    )
    ticket.status, ticket.resolved_at, ticket.resolution = "resolved", now, "self_served"
    return True


def survey_answer(
    desk: Desk, session: Session, ticket: Ticket, sender: str, visible: str, now: datetime
) -> bool:
    """The requester's reply to the survey of a done ticket, recorded as its answer."""
    requester = ticket.requester.address if ticket.requester else None
    if sender != requester or ticket.status not in DONE:
        return False
    survey = surveys.sent_survey(session, ticket.id)
    answer = survey_score(visible) if survey is not None else None
    if survey is None or answer is None:
        return False
    surveys.record_answer(desk.mailer, session, ticket, survey, *answer, sender, now)
    return True
