"""Two tickets about one thing become one: ``#merge 1042`` in a reply on 1043.

1043 is folded into 1042: its messages, participants, events, sent and held
mail move; tags and watchers join; for each SLA target the earlier deadline
wins; the more urgent priority stays. 1043 is closed as merged and remembers
where it went, so mail to either token lands in 1042 (tickets/threading.py).
Its customer is told once, in a mail that carries 1042's token.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from maildesk.desk import Desk
from maildesk.errors import Problem, UserError
from maildesk.feedback import surveys
from maildesk.mail import DONE, PRIORITIES
from maildesk.sla import timers
from maildesk.store.events import add_event
from maildesk.store.models import Ticket
from maildesk.store.tickets import customer_addresses, move_ticket_rows
from maildesk.thread import ticket_token
from maildesk.tickets.participants import last_customer_message

MAX_CHAIN = 20  # merged into a ticket merged into another...: followed this far


def surviving(session: Session, number: int) -> Ticket | None:
    """The ticket that holds ``number``'s mail now: itself, or where it was merged."""
    ticket = session.get(Ticket, number)
    for _ in range(MAX_CHAIN):
        if ticket is None or ticket.merged_into is None:
            return ticket
        ticket = session.get(Ticket, ticket.merged_into)
    return ticket


def merge_problem(session: Session, source: Ticket, number: int, token_format: str) -> str | None:
    """Why ``source`` cannot be merged into ticket ``number``, or None."""
    token = ticket_token(token_format, number)
    target = session.get(Ticket, number)
    if target is None:
        return f"there is no ticket {token}"
    if target.id == source.id:
        return f"this is ticket {token} itself"
    if target.merged_into is not None:
        into = ticket_token(token_format, target.merged_into)
        return f"{token} was merged into {into}: merge into that one"
    if source.merged_into is not None:
        into = ticket_token(token_format, source.merged_into)
        return f"this ticket was merged already, into {into}"
    return None


def merge(
    desk: Desk, session: Session, source: Ticket, target: Ticket, actor: str, now: datetime
) -> int:
    """Fold ``source`` into ``target``; how many messages moved."""
    customers = customer_addresses(session, source, desk.agents, desk.settings.helpdesk.max_cc)
    requester = source.requester.address if source.requester else None
    last = last_customer_message(session, source, desk.agents)
    thread = (last.message_id, tuple(last.references)) if last is not None else (None, ())
    quiet = source.quiet
    open_before = source.status not in DONE
    timers.merge(session, source, target, now)
    surveys.cancel_scheduled(session, source.id)
    moved = move_ticket_rows(session, source.id, target.id)
    target.tags = [*target.tags, *(t for t in source.tags if t not in target.tags)]
    target.notify = [*target.notify, *(a for a in source.notify if a not in target.notify)]
    if PRIORITIES.index(source.priority) < PRIORITIES.index(target.priority):
        target.priority = source.priority
    if open_before and target.status in DONE:
        # Work goes on in the survivor: it is open again.
        before = target.status
        target.status, target.resolved_at, target.closed_at, target.resolution = (
            "open",
            None,
            None,
            None,
        )
        add_event(
            session,
            target.id,
            actor,
            "status",
            {"from": before, "to": "open", "why": f"#{source.id} was merged into it"},
            now,
        )
    before = source.status
    source.status, source.closed_at, source.resolution = "closed", now, "merged"
    source.merged_into = target.id
    source.updated_at = target.updated_at = now
    add_event(session, source.id, actor, "merged", {"into": target.id, "from": before}, now)
    for ticket in (source, target):
        timers.settle(desk.settings, ticket, desk.router.calendar)
    add_event(
        session, target.id, actor, "merged_from", {"ticket": source.id, "messages": moved}, now
    )
    told = [a for a in customers if a == requester] if requester else customers[:1]
    if told and not quiet:
        desk.mailer.merged_notice(session, target, source, told, thread, now)
    return moved


def merge_numbers(
    desk: Desk, session: Session, source: int, target: int, actor: str, now: datetime
) -> int:
    """`maildesk tickets merge`: the same fold by ticket numbers, refused with the
    reason as a UserError. The caller's transaction commits it."""
    fmt = desk.policy.token_format
    found = session.get(Ticket, source, with_for_update=True)
    if found is None:
        raise UserError([Problem("TICKET", f"there is no ticket {ticket_token(fmt, source)}")])
    why = merge_problem(session, found, target, fmt)
    if why is not None:
        raise UserError([Problem("--into", why)])
    into = session.get(Ticket, target, with_for_update=True)
    assert into is not None
    return merge(desk, session, found, into, actor, now)
