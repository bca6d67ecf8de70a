"""A customer's reply on a known ticket: reopened, routed again, its clocks restarted.

An automatic reply (out of office...) is stored but changes nothing. Runs
inside the pipeline's transaction.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from maildesk.desk import Desk
from maildesk.feedback import surveys
from maildesk.mail import (
    Decision,
    ParsedMail,
    Trust,
    Verdict,
)
from maildesk.routing.facts import CustomerInfo
from maildesk.sla import timers
from maildesk.store.events import add_event
from maildesk.store.models import (
    Ticket,
)
from maildesk.tickets.selfservice import self_served, survey_answer


def update_ticket(
    desk: Desk,
    session: Session,
    ticket: Ticket,
    mail: ParsedMail,
    decision: Decision,
    now: datetime,
    visible: str,
    verdict: Verdict,
    is_agent: bool,
) -> str | None:
    """A reply on a known ticket; returns "survey" or "self_served" when the reply was
    an answer to the survey or a thumbs-up that closed the ticket (nobody needs to hear
    of it), else None.

    An automatic reply (out of office...) is stored but changes nothing: it neither
    reopens the ticket nor restarts an SLA clock.
    """
    assert mail.sender is not None
    sender = mail.sender.address
    ticket.updated_at = now
    before = ticket.status
    if verdict.loop_suspect:
        return None
    requester = ticket.requester.address if ticket.requester else None
    if ticket.quiet and sender == requester and verdict.trust.authentication == "pass":
        lift_quiet(session, ticket, sender, f"{sender} wrote again, authenticated", now)
    if not is_agent and survey_answer(desk, session, ticket, sender, visible, now):
        return "survey"
    if decision.reopen:
        add_event(
            session,
            ticket.id,
            sender,
            "status",
            {"from": ticket.status, "to": "open", "why": "reply reopened it"},
            now,
        )
        ticket.status = "open"
        ticket.closed_at = None
        ticket.resolved_at = None
        ticket.resolution = None
    elif ticket.status == "pending" and not is_agent:
        # The customer answered: the ball is back with support.
        add_event(
            session,
            ticket.id,
            sender,
            "status",
            {"from": "pending", "to": "open", "why": "customer replied"},
            now,
        )
        ticket.status = "open"
    if is_agent:
        return None
    route_reply(desk, session, ticket, mail, now, visible, verdict.trust)
    served = sender == requester and self_served(desk, session, ticket, sender, visible, now)
    policy = timers.policy_of(desk.settings, ticket)
    calendar = desk.router.calendar
    timers.follow_status(session, ticket, before, policy, calendar, now)
    surveys.follow_status(session, desk.settings, ticket, before, now)
    if served:
        return "self_served"
    reminders = desk.settings.sla.reminders
    timers.on_customer_reply(session, ticket, policy, calendar, reminders, now)
    return None


def route_reply(
    desk: Desk,
    session: Session,
    ticket: Ticket,
    mail: ParsedMail,
    now: datetime,
    visible: str,
    trust: Trust,
) -> None:
    """Rules marked ``on: reply`` may change a ticket when its customer writes again."""
    router = desk.router
    if not any(rule.on_reply for rule in router.rules.rules):
        return
    customer = ticket.requester
    stored = (
        CustomerInfo(customer.category, customer.organization, customer.language)
        if customer is not None
        else None
    )
    route = router.route_reply(router.facts(mail, visible, stored, now, reply=True, trust=trust))
    changes: dict[str, object] = {}
    for field, value in (
        ("priority", route.priority),
        ("tier", route.tier),
        ("assignee", route.assignee),
        ("sla_policy", route.sla_policy),
    ):
        if value is not None and getattr(ticket, field) != value:
            changes[field] = {"from": getattr(ticket, field), "to": value}
            setattr(ticket, field, value)
    new_tags = [t for t in route.tags if t not in ticket.tags]
    if new_tags:
        changes["tags"] = {"added": new_tags}
        ticket.tags = [*ticket.tags, *new_tags]
    new_notify = [a for a in route.notify if a not in ticket.notify]
    if new_notify:
        changes["notify"] = {"added": new_notify}
        ticket.notify = [*ticket.notify, *new_notify]
    if changes:
        add_event(
            session,
            ticket.id,
            "maildesk",
            "routed",
            {**changes, "rules": list(route.trace)},
            now,
        )


def lift_quiet(session: Session, ticket: Ticket, actor: str, why: str, now: datetime) -> None:
    """Automatic mail may go to the requester again (surveys, status notices)."""
    add_event(session, ticket.id, actor, "quiet_lifted", {"was": ticket.quiet, "why": why}, now)
    ticket.quiet = None
