"""Who is on a ticket: the people a mail brings in, and whom an answer goes to."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from maildesk.desk import Desk
from maildesk.mail import (
    Address,
    ParsedMail,
)
from maildesk.store.events import add_event
from maildesk.store.models import (
    Message,
    Ticket,
)
from maildesk.store.tickets import add_participant, messages_newest_first, participants_of


def add_participants(
    desk: Desk,
    session: Session,
    ticket: Ticket,
    mail: ParsedMail,
    new: bool,
    now: datetime,
    *,
    agent: bool,
    trusted: bool,
) -> None:
    """The sender joins the ticket, and the people the requester or an agent put in
    To/Cc: never those of anyone else, nor of a suspicious mail (README "Security")."""
    assert mail.sender is not None
    sender = mail.sender
    if agent:
        role = "agent"
    elif new or (ticket.requester is not None and ticket.requester.address == sender.address):
        role = "requester"
    else:
        role = "cc"
    known = set() if new else participants_of(session, [ticket.id])[ticket.id]
    wanted = [(sender, role)]
    anyone = desk.settings.helpdesk.join == "anyone"
    others: dict[str, Address] = {}
    if agent or (trusted and (role == "requester" or anyone)):
        for other in (*mail.to, *mail.cc):
            address = other.address
            if (
                address not in known
                and address != sender.address
                and not desk.ours.is_ours(address)
            ):
                others.setdefault(address, other)
    cap = desk.settings.helpdesk.max_cc
    for other in list(others.values())[:cap]:
        wanted.append((other, "agent" if other.address in desk.policy.agents else "cc"))
    for who, role in wanted:
        if who.address not in known:
            known.add(who.address)
            add_participant(session, ticket.id, who, role, now)
    if len(others) > cap:
        # Kept for the agents: `#admit ADDRESS` adds one of them.
        left = list(others)[cap:]
        add_event(
            session,
            ticket.id,
            sender.address,
            "participants_held",
            {"count": len(left), "addresses": left[:200], "max_cc": cap},
            now,
        )


def last_customer_message(
    session: Session, ticket: Ticket, agents: frozenset[str]
) -> Message | None:
    """The customers' latest mail on the ticket: what an agent's answer threads under."""
    rows = messages_newest_first(session, ticket.id, "in")
    return next((m for m in rows if m.from_address not in agents), None)
