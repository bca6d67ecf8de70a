"""Status by mail: a customer writes "status" (or "статус") and gets their open tickets.

A new mail (no token, no reference) whose subject or first line is one of
``[self_service] status_words``, with no attachment and little other text,
is answered with a list of the sender's own
open tickets (state, tier, the next deadline) instead of opening a ticket.
The list goes only to the sender's address, and only when we believe it:
never to a suspicious sender (a failed From, spam) or a robot, and when the
desk trusts an MTA's Authentication-Results, only to an authenticated From.
The request is kept (the quarantine table, kind ``status``, handled) so that
the same mail delivered twice is answered once; at most
``status_per_hour`` lists go to one address in an hour.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from maildesk.desk import Desk
from maildesk.language import detect_language
from maildesk.mail import Letter, ParsedMail, Verdict
from maildesk.outcome import Outcome
from maildesk.sla.notices import local_time
from maildesk.store.events import add_event, event_count
from maildesk.store.quarantine import quarantine
from maildesk.store.queries import open_tickets_of
from maildesk.thread import clean_subject, ticket_token

_WORDS = re.compile(r"[^\w]+")
HOUR = timedelta(hours=1)


def _bare(text: str) -> str:
    return _WORDS.sub(" ", text).strip().casefold()


MAX_WORDS = 20  # more than a greeting and a name: a real message that says "status"


def is_status_request(mail: ParsedMail, visible: str, words: tuple[str, ...]) -> bool:
    """The subject, or the first line of the new text, is a status word and nothing
    else, and the mail says little more and attaches nothing: "статус" over a report
    with a file attached (there is one in the test corpus) is a report, not a question."""
    if any(not part.inline for part in mail.parts):
        return False
    wanted = {_bare(w) for w in words}
    lines = [line for line in visible.splitlines() if line.strip()]
    first = lines[0] if lines else ""
    subject = _bare(clean_subject(mail.subject))
    if subject not in wanted and _bare(first) not in wanted:
        return False
    rest = lines[1:] if _bare(first) in wanted else lines
    return sum(len(_bare(line).split()) for line in rest) <= MAX_WORDS


def why_not(desk: Desk, verdict: Verdict) -> str | None:
    """Why no list may go to this sender, or None."""
    if verdict.loop_suspect:
        return "an automatic mail: " + "; ".join(verdict.reasons)
    if verdict.trust.suspicious:
        return "; ".join(verdict.trust.reasons)
    if desk.trust.authserv_ids and verdict.trust.authentication != "pass":
        return f"the sender is not authenticated ({verdict.trust.why})"
    return None


def answer_status(
    desk: Desk,
    session: Session,
    mail: ParsedMail,
    verdict: Verdict,
    visible: str,
    source: str,
    now: datetime,
) -> Outcome:
    assert mail.sender is not None
    address = mail.sender.address
    quarantine(
        session,
        mail.raw,
        source=source,
        reason="status request",
        now=now,
        kind="status",
        message_id=mail.message_id,
        dedupe_key=mail.dedupe_key,
        sender=address,
    ).state = "released"
    found = open_tickets_of(session, address)
    why = why_not(desk, verdict)
    limit = desk.settings.self_service.status_per_hour
    if why is None and event_count(session, "status_listed", address, now - HOUR) >= limit:
        why = f"{limit} status lists to {address} this hour already"
    listed = [t.id for t in found]
    if why is not None:
        add_event(session, None, address, "status_refused", {"why": why, "tickets": listed}, now)
        return Outcome("status", message_id=mail.message_id, detail=f"status request: {why}")
    fmt = desk.policy.token_format
    calendar = desk.router.calendar
    lines = []
    for ticket in found:
        due = ticket.first_response_due if ticket.first_response_at is None else None
        due = due or ticket.next_response_due or ticket.resolution_due
        lines.append(
            {
                "token": ticket_token(fmt, ticket.id),
                "subject": ticket.subject,
                "status": ticket.status,
                "tier": ticket.tier,
                "due": local_time(due, calendar) if due and due > now else "",
            }
        )
    language = detect_language(f"{mail.subject}\n{visible}")
    known = found[0].requester.language if found and found[0].requester else None
    settings = desk.settings
    context = {
        "helpdesk": {"name": settings.helpdesk.name, "address": settings.helpdesk.address},
        "customer": {"name": mail.sender.name or None, "address": address},
        "tickets": lines,
    }
    wanted = (language, known, settings.helpdesk.default_language, "en")
    refs = (*mail.references, mail.message_id) if mail.message_id else mail.references
    letter = Letter(
        "status_list",
        "status_list",
        (address,),
        wanted,
        context,
        in_reply_to=mail.message_id,
        references=refs,
    )
    desk.mailer.send(session, None, letter, now)
    add_event(session, None, address, "status_listed", {"tickets": listed}, now)
    detail = f"status request: {len(listed)} open ticket(s) listed"
    return Outcome("status", message_id=mail.message_id, detail=detail)
