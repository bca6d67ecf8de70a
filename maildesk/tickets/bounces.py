"""A delivery failure of ours: recorded on the ticket it is about.

Runs inside the pipeline's transaction.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from maildesk.mail import ParsedMail, Verdict
from maildesk.outcome import Outcome
from maildesk.store.events import add_event
from maildesk.store.lookups import reference_hits
from maildesk.store.models import Ticket
from maildesk.store.tickets import store_message
from maildesk.visible import visible_text


def store_bounce(
    session: Session, mail: ParsedMail, verdict: Verdict, source: str, now: datetime
) -> Outcome | None:
    """The bounce joins the ticket of the mail that bounced, with whom and why; None
    when it is about no mail of ours (the pipeline quarantines it)."""
    assert verdict.bounce is not None
    bounce = verdict.bounce
    hits = reference_hits(session, bounce.original_ids)
    ticket_id = next((hits[i] for i in bounce.original_ids if i in hits), None)
    ticket = session.get(Ticket, ticket_id) if ticket_id is not None else None
    if ticket is None:
        return None
    message = store_message(
        session,
        ticket,
        mail,
        visible=visible_text(mail.text),
        kind="bounce",
        reasons=verdict.reasons,
        source=source,
        now=now,
    )
    add_event(
        session,
        ticket.id,
        mail.sender.address if mail.sender else "mailer",
        "bounce",
        {
            "message": message.id,
            "recipients": list(bounce.recipients),
            "status": bounce.status,
            "original": list(bounce.original_ids),
        },
        now,
    )
    return Outcome(
        "bounce",
        ticket_id=ticket.id,
        message_id=mail.message_id,
        detail=f"delivery failed for {', '.join(bounce.recipients) or 'unknown'}",
    )
