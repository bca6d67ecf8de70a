"""Held mail: kept out of its ticket until an agent admits it, never lost.

A mail is held when its sender may not write into the ticket it threads into
(trust/join.py), claims an agent's address that our MTA does not vouch for, or
is suspicious and the desk holds such mail. Its raw bytes wait in the
quarantine table; the ticket's agents are told once per sender, a forged agent
is reported to the tier leads. ``#admit ADDRESS`` (or `maildesk quarantine
admit`) stores it into the ticket and makes the sender a participant;
``#reject ADDRESS`` keeps it out, still stored. All inside the caller's
transaction.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from maildesk.desk import Desk
from maildesk.errors import Quarantined
from maildesk.mail import (
    Address,
    Decision,
    Letter,
    ParsedMail,
    Verdict,
)
from maildesk.outcome import Outcome
from maildesk.parse import Limits, parse_mail
from maildesk.store.events import add_event, event_count
from maildesk.store.models import (
    QuarantinedMessage,
    Ticket,
)
from maildesk.store.outbox import sent_as
from maildesk.store.quarantine import held_before, held_from, quarantine
from maildesk.store.tickets import add_participant, participants_of
from maildesk.visible import visible_text

NOTICE_KINDS = ("held_notice", "forged_agent")
REPORT_EVERY = timedelta(hours=1)  # one forged-agent report per claimed address and hour


def hold(
    desk: Desk,
    session: Session,
    mail: ParsedMail,
    verdict: Verdict,
    decision: Decision,
    source: str,
    now: datetime,
    known: dict[int, Ticket],
) -> Outcome:
    """Store the mail as held, and tell whom it concerns."""
    assert mail.sender is not None
    address = mail.sender.address
    ticket = known.get(decision.ticket_id) if decision.ticket_id is not None else None
    told_before = ticket is not None and held_before(session, ticket.id, address)
    row = quarantine(
        session,
        mail.raw,
        source=source,
        reason=f"held for review: {decision.reason}",
        now=now,
        kind="held",
        message_id=mail.message_id,
        dedupe_key=mail.dedupe_key,
        ticket_id=decision.ticket_id,
        sender=address,
    )
    if ticket is not None:
        add_event(
            session,
            ticket.id,
            "maildesk",
            "held",
            {"quarantine": row.id, "from": address, "cause": decision.cause},
            now,
        )
    if decision.cause == "forged_agent":
        _report_forged_agent(desk, session, ticket, row, mail, decision.reason, now)
    # Told once per sender and ticket; a robot's or a spammer's mail waits silently.
    elif decision.cause == "stranger" and ticket and not told_before and not _noise(verdict):
        _notify_watchers(desk, session, ticket, row, mail, decision.reason, now)
    return Outcome(
        "held", ticket_id=decision.ticket_id, message_id=mail.message_id, detail=decision.reason
    )


def _noise(verdict: Verdict) -> bool:
    return verdict.loop_suspect or verdict.trust.spam


def answers_held_notice(session: Session, mail: ParsedMail) -> bool:
    """Is this an agent's reply to a held-mail notice (or a forged-agent report)?"""
    parents = [i for i in (mail.in_reply_to, *mail.references[-1:]) if i]
    if not parents:
        return False
    return sent_as(session, parents, NOTICE_KINDS)


def admit_address(
    session: Session, ticket: Ticket, address: str, actor: str, now: datetime
) -> list[QuarantinedMessage]:
    """``address`` joins the ticket; its held (or rejected) mail there, for the pipeline
    to store (pipeline.readmit)."""
    address = address.lower()
    people = participants_of(session, [ticket.id])[ticket.id]
    requester = ticket.requester.address if ticket.requester else None
    if address not in people and address != requester:
        add_participant(session, ticket.id, Address(address), "cc", now)
    add_event(session, ticket.id, actor, "admitted", {"address": address}, now)
    return list(held_from(session, ticket.id, address, ("held", "rejected")))


def read_again(row: QuarantinedMessage, limits: Limits) -> ParsedMail | None:
    """A kept mail parsed again; None (the row counts the attempt, with the reason) if it
    still cannot be read."""
    try:
        return parse_mail(row.raw, limits)
    except Quarantined as exc:
        row.attempts += 1
        row.reason = exc.reason
        return None


def reject_address(
    session: Session, ticket: Ticket, address: str, actor: str, now: datetime
) -> int:
    """Keep ``address``'s held mail out of the ticket (still stored); how many."""
    rows = held_from(session, ticket.id, address.lower(), ("held",))
    for row in rows:
        reject_row(session, row, actor, now)
    if not rows:
        add_event(session, ticket.id, actor, "rejected", {"address": address.lower()}, now)
    return len(rows)


def reject_row(session: Session, row: QuarantinedMessage, actor: str, now: datetime) -> None:
    row.state = "rejected"
    add_event(
        session,
        row.ticket_id,
        actor,
        "rejected",
        {"quarantine": row.id, "address": row.sender},
        now,
    )


def held_values(row: QuarantinedMessage, mail: ParsedMail, reason: str) -> dict[str, Any]:
    """The ``held`` template variable."""
    assert mail.sender is not None
    return {
        "id": row.id,
        "sender": mail.sender.address,
        "sender_name": mail.sender.name,
        "subject": mail.subject,
        "reason": reason,
        "text": visible_text(mail.text),
        "attachments": [p.filename for p in mail.parts if not p.inline],
    }


def _notify_watchers(
    desk: Desk,
    session: Session,
    ticket: Ticket,
    row: QuarantinedMessage,
    mail: ParsedMail,
    reason: str,
    now: datetime,
) -> None:
    mailer = desk.mailer
    to = [a for a in mailer.watchers(ticket, session, now) if a]
    if not to:
        tier = desk.settings.tier(ticket.tier) if ticket.tier else None
        to = [tier.lead] if tier and tier.lead else []
    if not to:
        return
    wanted: list[str | None] = [desk.settings.helpdesk.default_language, "en"]
    context = {
        **mailer.context(ticket, None, mail, wanted[0] or "en"),
        "held": held_values(row, mail, reason),
    }
    mailer.send(
        session, ticket, Letter("held", "held_notice", tuple(to), tuple(wanted), context), now
    )


def _report_forged_agent(
    desk: Desk,
    session: Session,
    ticket: Ticket | None,
    row: QuarantinedMessage,
    mail: ParsedMail,
    reason: str,
    now: datetime,
) -> None:
    """Tell the leads, once an hour per claimed address: a flood is one mail."""
    assert mail.sender is not None
    address = mail.sender.address
    if event_count(session, "forged_agent_reported", address, now - REPORT_EVERY):
        return
    to = leads_for(desk, address, ticket.tier if ticket else None)
    ticket_id = ticket.id if ticket else None
    add_event(
        session, ticket_id, address, "forged_agent_reported", {"to": to, "quarantine": row.id}, now
    )
    if not to:
        return
    settings = desk.settings
    context = {
        "helpdesk": {"name": settings.helpdesk.name, "address": settings.helpdesk.address},
        "ticket": desk.mailer.context(ticket, None, mail, "en")["ticket"] if ticket else None,
        "held": held_values(row, mail, reason),
    }
    wanted: list[str | None] = [settings.helpdesk.default_language, "en"]
    # No ticket: the report must not thread into the ticket as if it were the agent's mail.
    desk.mailer.send(
        session,
        None,
        Letter("forged_agent", "forged_agent", tuple(to), tuple(wanted), context),
        now,
    )


def leads_for(desk: Desk, address: str, ticket_tier: str | None) -> list[str]:
    """The leads of the claimed agent's tiers and of the ticket's, else every lead."""
    tiers = desk.settings.tiers
    mine = [t for t in tiers if address in t.agents or t.lead == address or t.name == ticket_tier]
    leads = [t.lead for t in mine if t.lead] or [t.lead for t in tiers if t.lead]
    return list(dict.fromkeys(leads))
