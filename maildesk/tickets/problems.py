"""Known problems and their incidents: tell the customers before they ask again.

``#problem`` marks a ticket as a known problem (``#problem 1043 1044`` also
links those tickets to it); ``#link 1042`` (or ``#incident-of 1042``) makes
this ticket an incident of problem 1042. An agent's answer on the problem
with ``#broadcast`` goes to every linked incident's customers too, each in
their own ticket's thread; resolving the problem resolves its open
incidents, each customer told. When ``[problems] alert_after`` new tickets
share a subject's problem key within ``within``, the tier lead is asked,
once, to make one of them the problem.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from maildesk.commands import merge_target
from maildesk.config.semantics import parse_duration
from maildesk.desk import Desk
from maildesk.feedback import surveys
from maildesk.mail import DONE, Letter, ParsedMail
from maildesk.sla import timers
from maildesk.store.events import add_event
from maildesk.store.models import Message, Ticket
from maildesk.store.queries import incidents_of, same_problem_count, same_problem_since
from maildesk.store.tickets import customer_addresses
from maildesk.thread import ticket_token
from maildesk.tickets.participants import last_customer_message

LINKS = ("link", "incident-of")
OPEN = ("new", "open", "pending")


def numbers(argument: str) -> list[int] | None:
    """ "1043 [#1044], #1045" -> [1043, 1044, 1045]; None if a word is no ticket number."""
    found = [merge_target(w) for w in argument.replace(",", " ").split()]
    return None if any(n is None for n in found) else [n for n in found if n is not None]


def link_problem(session: Session, ticket: Ticket, number: int, fmt: str) -> str | None:
    """Why ``ticket`` cannot be an incident of ticket ``number``, or None."""
    token = ticket_token(fmt, number)
    problem = session.get(Ticket, number)
    if problem is None:
        return f"there is no ticket {token}"
    if problem.id == ticket.id:
        return f"this is ticket {token} itself"
    if problem.merged_into is not None:
        return f"{token} was merged into {ticket_token(fmt, problem.merged_into)}"
    if problem.incident_of is not None:
        return f"{token} is itself an incident of {ticket_token(fmt, problem.incident_of)}"
    if ticket.problem and incidents_of(session, ticket.id):
        return "this ticket is a problem with incidents of its own"
    return None


def mark_problem(session: Session, ticket: Ticket, actor: str, now: datetime) -> None:
    if not ticket.problem:
        ticket.problem = True
        add_event(session, ticket.id, actor, "problem", {}, now)


def link(session: Session, incident: Ticket, problem: Ticket, actor: str, now: datetime) -> None:
    """``incident`` belongs to ``problem`` (made a problem if it was not one)."""
    mark_problem(session, problem, actor, now)
    if incident.incident_of == problem.id:
        return
    was = incident.incident_of
    incident.incident_of = problem.id
    add_event(session, incident.id, actor, "linked", {"problem": problem.id, "was": was}, now)
    add_event(session, problem.id, actor, "incident", {"ticket": incident.id}, now)


def broadcast(
    desk: Desk,
    session: Session,
    problem: Ticket,
    message: Message,
    mail: ParsedMail,
    text: str,
    now: datetime,
) -> int:
    """The agent's answer on the problem to every linked incident's customers, each in
    their own ticket; how many incidents heard it."""
    told = 0
    for incident in incidents_of(session, problem.id):
        if incident.status == "closed" or incident.merged_into is not None:
            continue
        customers = customer_addresses(
            session, incident, desk.agents, desk.settings.helpdesk.max_cc
        )
        if not customers:
            continue
        last = last_customer_message(session, incident, desk.agents)
        desk.mailer.relay(session, incident, message, mail, text, customers, last, now)
        if incident.first_response_at is None:
            incident.first_response_at, incident.first_responder = now, message.from_address
            timers.settle(desk.settings, incident, desk.router.calendar)
        timers.cancel(session, incident.id, ["first_response", "next_response"], now)
        detail = {"message": message.id, "to": customers, "problem": problem.id}
        add_event(session, incident.id, message.from_address, "broadcast", detail, now)
        told += 1
    return told


def resolve_incidents(
    desk: Desk, session: Session, problem: Ticket, actor: str, now: datetime
) -> int:
    """The problem is solved: so are its open incidents, each customer told."""
    solved = 0
    for incident in incidents_of(session, problem.id):
        if incident.status not in OPEN or incident.merged_into is not None:
            continue
        before = incident.status
        incident.status, incident.resolved_at, incident.resolution = "resolved", now, "problem"
        incident.updated_at = now
        why = f"its problem {ticket_token(desk.policy.token_format, problem.id)} was resolved"
        detail = {"from": before, "to": "resolved", "why": why}
        add_event(session, incident.id, actor, "status", detail, now)
        policy = timers.policy_of(desk.settings, incident)
        timers.follow_status(session, incident, before, policy, desk.router.calendar, now)
        surveys.follow_status(session, desk.settings, incident, before, now)
        customers = customer_addresses(
            session, incident, desk.agents, desk.settings.helpdesk.max_cc
        )
        if customers and not incident.quiet:
            desk.mailer.incident_resolved(session, incident, problem, customers, now)
        solved += 1
    return solved


def done(before: str, ticket: Ticket) -> bool:
    return before not in DONE and ticket.status in DONE


def watch(desk: Desk, session: Session, ticket: Ticket, now: datetime) -> None:
    """A new ticket: the ``alert_after``-th one with its problem key within the window
    asks the tier lead, once, to make one of them the problem ticket."""
    config = desk.settings.problems
    window = parse_duration(config.within) or timedelta(hours=1)
    if not config.alert_after or ticket.problem_key is None:
        return
    if same_problem_count(session, ticket.problem_key, now - window) != config.alert_after:
        return  # below it nothing to say; past it, said already
    group = same_problem_since(session, ticket.problem_key, now - window)
    if any(t.problem or t.incident_of is not None for t in group):
        return  # a problem is known for it already
    first = group[0]
    tier = desk.settings.tier(first.tier) if first.tier else None
    leads = [tier.lead] if tier and tier.lead else []
    leads = leads or list(dict.fromkeys(t.lead for t in desk.settings.tiers if t.lead))
    numbers_ = [t.id for t in group]
    add_event(
        session, first.id, "maildesk", "problem_proposed", {"tickets": numbers_, "to": leads}, now
    )
    if not leads:
        return
    fmt = desk.policy.token_format
    context = {
        **desk.mailer.context(first, None, None, desk.settings.helpdesk.default_language),
        "problem": {
            "tickets": [
                {"token": ticket_token(fmt, t.id), "subject": t.subject, "status": t.status}
                for t in group
            ],
            "within": config.within,
            "command": "#problem " + " ".join(str(n) for n in numbers_[1:]),
        },
    }
    wanted = (desk.settings.helpdesk.default_language, "en")
    letter = Letter("problem_alert", "problem_alert", tuple(leads), wanted, context)
    desk.mailer.send(session, first, letter, now)
