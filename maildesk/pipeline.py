"""The one place that knows the stage order, after parsing and the guards.

    who wrote -> seen before? -> no sender? -> a bounce? -> a robot's repeats?
    -> which ticket (thread, join) -> a status request? -> held?
    -> open or update the ticket
    -> the agent's commands -> store the message -> participants
    -> the agent's answer (then a #merge), or the watchers told -> the new ticket announced
    -> (history mail) the timers it left behind settled

Each stage is a function of tickets/ (or store/) taking the frozen Desk, the
session of the caller's transaction and records; nothing here commits, and
nothing here is a stage itself. The per-message boundary (transactions,
retries, quarantine of what fails) is intake.py's.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlalchemy.orm import Session

from maildesk.desk import Desk
from maildesk.mail import Commands, Decision, ParsedMail, Verdict
from maildesk.outcome import Outcome
from maildesk.store import history
from maildesk.store.events import add_event
from maildesk.store.models import Message, QuarantinedMessage, Ticket
from maildesk.store.quarantine import quarantine, release
from maildesk.store.tickets import store_message
from maildesk.tickets import agent, holding
from maildesk.tickets.assignment import away_by_auto_reply
from maildesk.tickets.bounces import store_bounce
from maildesk.tickets.duplicates import Seen, repeated, seen_before
from maildesk.tickets.merge import merge
from maildesk.tickets.opening import announce, open_ticket
from maildesk.tickets.participants import add_participants
from maildesk.tickets.replies import update_ticket
from maildesk.tickets.status import answer_status, is_status_request
from maildesk.tickets.threading import find_ticket, sender_of, ticket_of
from maildesk.visible import text_hash, visible_text

NO_SENDER = "no sender address (From:)"
NOT_OURS = "bounce for a message maildesk did not send"


def handle(
    desk: Desk,
    session: Session,
    mail: ParsedMail,
    verdict: Verdict,
    source: str,
    now: datetime,
    forced: Decision | None = None,
    *,
    acknowledge: bool = True,
) -> Outcome:
    """Every stage after parsing, inside the caller's transaction.

    ``forced`` skips threading (an admin or agent released a held mail into its ticket).
    """
    # Who wrote and what is new in the mail, first: a customer's text fingerprint goes
    # with the look-up of seen_before, which counts the robot's repeats at once.
    sender = sender_of(desk, mail, verdict, forced) if mail.sender is not None else None
    keep = sender is not None and sender.agent and desk.settings.outbox.agent_signatures == "keep"
    visible = visible_text(mail.text, signatures=not keep)
    body_hash = text_hash(visible)
    customer = sender is not None and not sender.agent and verdict.bounce is None
    seen = seen_before(session, mail, body_hash if customer else None, now)
    if seen.where is not None:
        detail = f"already stored ({seen.where})"
        return Outcome("duplicate", message_id=mail.message_id, detail=detail)
    mail = seen.mail
    if sender is None:
        return quarantined(session, mail, source, NO_SENDER, now)
    if verdict.bounce is not None:
        bounced = store_bounce(session, mail, verdict, source, now)
        return bounced or quarantined(session, mail, source, NOT_OURS, now)
    repeat = None if sender.agent else repeated(desk, session, body_hash, now, seen.same_text)
    if repeat is not None:
        verdict = replace(verdict, reasons=(*verdict.reasons, repeat[0]), loop=True)
    threaded = find_ticket(desk, session, mail, sender, now, forced)
    decision = threaded.decision
    words = desk.settings.self_service.status_words
    asks = decision.ticket_id is None and forced is None and not decision.hold
    if asks and not sender.agent and is_status_request(mail, visible, words):
        return answer_status(desk, session, mail, verdict, visible, source, now)
    if decision.hold:
        return holding.hold(desk, session, mail, verdict, decision, source, now, threaded.known)
    opened = handled = None
    if decision.ticket_id is None:
        opened = open_ticket(desk, session, mail, decision, source, now, visible, verdict.trust)
        ticket = opened.ticket
    else:
        ticket = ticket_of(session, threaded)
        handled = update_ticket(
            desk, session, ticket, mail, decision, now, visible, verdict, sender.agent
        )
    by_agent = opened is None and sender.agent
    if by_agent and verdict.loop_suspect:  # an agent's out-of-office: away for a day
        away_by_auto_reply(desk, session, sender.address, now)
    commands = (
        agent.read_commands(desk, session, ticket, mail, visible, verdict) if by_agent else None
    )
    message = _store(session, ticket, mail, visible, verdict, commands, source, now, body_hash)
    if repeat is not None and repeat[1]:
        desk.mailer.writer.loop_alert(session, ticket, repeat[0], now)
    trusted = not verdict.trust.suspicious
    new = opened is not None
    add_participants(desk, session, ticket, mail, new, now, agent=by_agent, trusted=trusted)
    if commands is not None:
        applied = agent.apply(desk, session, ticket, message, mail, commands, now)
        if applied is not None:
            for row in applied.admitted:
                readmit(desk, session, row, message.from_address, now)
            agent.answer(desk, session, ticket, message, mail, commands, applied.before, now)
            if applied.merge_into is not None:
                merge(desk, session, ticket, applied.merge_into, message.from_address, now)
                ticket = applied.merge_into  # where this mail lives now
    elif opened is None and not verdict.loop_suspect and handled is None:
        desk.mailer.on_customer_reply(session, ticket, message, mail, now)
    if opened is not None:
        announce(desk, session, opened, message, mail, verdict, now, acknowledge=acknowledge)
    said = _said(decision, ticket, handled)
    _record(session, ticket, mail, message, decision, said, seen, new, now)
    if history.silent(session):
        history.settle(session, ticket, now)
    return Outcome(
        "stored",
        ticket_id=ticket.id,
        message_id=mail.message_id,
        new_ticket=new,
        auto_reply=not verdict.silent and (opened is None or opened.route.acknowledge is not False),
        detail=said,
        acknowledge=opened.route.acknowledge if opened is not None else None,
    )


def readmit(
    desk: Desk, session: Session, row: QuarantinedMessage, actor: str, now: datetime
) -> Outcome:
    """One held mail into the ticket it named (or a new one): the actor vouched for it.
    Storing it makes its sender a participant."""
    mail = holding.read_again(row, desk.limits)
    if mail is None:
        return Outcome("quarantined", detail=row.reason)
    forced = Decision(row.ticket_id, "admitted", f"admitted by {actor}", admitted=True)
    release(session, row)
    return handle(desk, session, mail, desk.judge(mail), row.source, now, forced)


def quarantined(
    session: Session, mail: ParsedMail, source: str, reason: str, now: datetime
) -> Outcome:
    """Kept with its reason for an admin (`maildesk quarantine`), never answered."""
    quarantine(
        session,
        mail.raw,
        source=source,
        reason=reason,
        now=now,
        message_id=mail.message_id,
        dedupe_key=mail.dedupe_key,
    )
    return Outcome("quarantined", message_id=mail.message_id, detail=reason)


def _store(
    session: Session,
    ticket: Ticket,
    mail: ParsedMail,
    visible: str,
    verdict: Verdict,
    commands: Commands | None,
    source: str,
    now: datetime,
    body_hash: str | None,
) -> Message:
    return store_message(
        session,
        ticket,
        mail,
        visible=commands.text if commands and not commands.problems else visible,
        kind=verdict.kind,
        # Why no robot answers this sender: a loop suspect's reasons, and the MTA's.
        reasons=(*verdict.reasons, *verdict.trust.reasons),
        source=source,
        now=now,
        direction="out" if commands is not None else "in",
        # Rejected commands and #note: kept, never shown to a customer.
        is_note=bool(commands and (commands.note or commands.problems)),
        body_hash=body_hash,
    )


def _said(decision: Decision, ticket: Ticket, handled: str | None) -> str:
    """The threading reason, corrected where a reply did not reopen the ticket."""
    if decision.reopen and ticket.status in ("resolved", "closed"):
        # Threading would have reopened it; a survey answer or an auto-reply did not.
        why = " (a survey answer)" if handled == "survey" else ""
        return f"{decision.reason.split('; reopens')[0]}; the ticket stays {ticket.status}{why}"
    return decision.reason


def _record(
    session: Session,
    ticket: Ticket,
    mail: ParsedMail,
    message: Message,
    decision: Decision,
    said: str,
    seen: Seen,
    new: bool,
    now: datetime,
) -> None:
    """The ticket's log: a message arrived (a new ticket logs its creation instead),
    and under which key a reused Message-ID was stored."""
    assert mail.sender is not None
    if not new:
        detail = {"message": message.id, "how": decision.how, "reason": said}
        add_event(session, ticket.id, mail.sender.address, "message", detail, now)
    if seen.reused is not None:
        stored_as = {"message": message.id, "message_id": mail.message_id}
        stored_as["stored_as"] = mail.dedupe_key
        add_event(session, ticket.id, "maildesk", "message_id_reused", stored_as, now)
