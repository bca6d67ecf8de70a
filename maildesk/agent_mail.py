"""An agent's mail on a ticket: commands applied, new text relayed to the customers.

Runs inside the pipeline's transaction, after the agent's message is stored.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from maildesk import holding
from maildesk.commands import HELP
from maildesk.feedback import surveys
from maildesk.mail import Commands, ParsedMail
from maildesk.sla.timers import cancel, follow_status, policy_of
from maildesk.store.events import add_event
from maildesk.store.models import Message, Participant, Ticket
from maildesk.tickets import lift_quiet

if TYPE_CHECKING:
    from maildesk.pipeline import Pipeline


def handle(
    pipeline: Pipeline,
    session: Session,
    ticket: Ticket,
    message: Message,
    mail: ParsedMail,
    commands: Commands,
    now: datetime,
) -> None:
    agent = message.from_address
    if commands.problems:
        add_event(
            session,
            ticket.id,
            agent,
            "commands_rejected",
            {"problems": list(commands.problems)},
            now,
        )
        pipeline.mailer.command_error(session, ticket, message, mail, commands.problems, HELP, now)
        return
    before = ticket.status
    apply_commands(session, ticket, commands, agent, now)
    for command in commands.commands:
        if command.name == "admit":
            holding.admit_address(pipeline, session, ticket, command.argument, agent, now)
        elif command.name == "reject":
            holding.reject_address(session, ticket, command.argument, agent, now)
    if commands.note:
        add_event(session, ticket.id, agent, "note", {"message": message.id}, now)
        _follow(pipeline, session, ticket, before, now)
        return
    customers = customer_addresses(
        session, ticket, pipeline.policy.agents, pipeline.settings.helpdesk.max_cc
    )
    if commands.text.strip() and customers:
        last = last_customer_message(session, ticket, pipeline.policy.agents)
        pipeline.mailer.relay(session, ticket, message, mail, commands.text, customers, last, now)
        pipeline.mailer.agent_copy(session, ticket, message, mail, commands.text, now)
        if ticket.first_response_at is None:
            ticket.first_response_at = now
        if ticket.quiet:
            # The agent wrote to them: the desk's own notices may follow.
            lift_quiet(session, ticket, agent, "an agent answered", now)
        cancel(session, ticket.id, ["first_response", "next_response"], now)
        add_event(
            session, ticket.id, agent, "replied", {"message": message.id, "to": customers}, now
        )
        if ticket.status in ("new", "pending") and before == ticket.status:
            ticket.status = "open"
    done = ticket.status != before and ticket.status in ("resolved", "closed")
    if done and customers and not ticket.quiet:
        pipeline.mailer.status_notice(session, ticket, message, mail, customers, now)
    _follow(pipeline, session, ticket, before, now)


def _follow(
    pipeline: Pipeline, session: Session, ticket: Ticket, before: str, now: datetime
) -> None:
    """SLA clocks stop on resolve, pause while pending, run again after; resolving
    schedules the satisfaction survey."""
    policy = policy_of(pipeline.settings, ticket)
    follow_status(session, ticket, before, policy, pipeline.router.calendar, now)
    surveys.follow_status(session, pipeline.settings, ticket, before, now)


def apply_commands(
    session: Session, ticket: Ticket, commands: Commands, agent: str, now: datetime
) -> None:
    for command in commands.commands:
        name, argument = command.name, command.argument
        if name in ("status", "close"):
            status = "closed" if name == "close" else argument.lower()
            _change(session, ticket, "status", status, agent, now)
            if status == "resolved":
                ticket.resolved_at = now
            elif status == "closed":
                ticket.closed_at = now
            else:  # reopened by hand: no longer resolved, by anybody
                ticket.resolved_at = ticket.closed_at = ticket.resolution = None
        elif name == "assign":
            _change(
                session,
                ticket,
                "assignee",
                agent if argument.lower() == "me" else argument.lower(),
                agent,
                now,
            )
        elif name == "priority":
            _change(session, ticket, "priority", argument.lower(), agent, now)
        elif name == "tier":
            _change(session, ticket, "tier", argument, agent, now)
        elif name == "tag" and argument not in ticket.tags:
            ticket.tags = [*ticket.tags, argument]
            add_event(session, ticket.id, agent, "tag", {"added": argument}, now)
    ticket.updated_at = now


def _change(
    session: Session, ticket: Ticket, field: str, value: str, agent: str, now: datetime
) -> None:
    old = getattr(ticket, field)
    if old != value:
        setattr(ticket, field, value)
        add_event(session, ticket.id, agent, field, {"from": old, "to": value}, now)


def customer_addresses(
    session: Session, ticket: Ticket, agents: frozenset[str], max_cc: int
) -> list[str]:
    """The requester and at most ``max_cc`` others (the earliest to join), whatever
    joined the ticket over time: a reply never fans out past the cap."""
    found: list[str] = []
    if ticket.requester is not None:
        found.append(ticket.requester.address)
    for address in session.scalars(
        select(Participant.address)
        .where(Participant.ticket_id == ticket.id, Participant.role.in_(("requester", "cc")))
        .order_by(Participant.id)
    ):
        if address not in found and address not in agents:
            found.append(address)
    return found[: max_cc + 1] if ticket.requester is not None else found[:max_cc]


def last_customer_message(
    session: Session, ticket: Ticket, agents: frozenset[str]
) -> Message | None:
    rows = session.scalars(
        select(Message)
        .where(Message.ticket_id == ticket.id, Message.direction == "in")
        .order_by(Message.id.desc())
    )
    return next((m for m in rows if m.from_address not in agents), None)
