"""An agent's mail on a ticket: commands applied, new text relayed to the customers.

Runs inside the pipeline's transaction, after the agent's message is stored.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy.orm import Session

from maildesk.commands import HELP, merge_target, parse_commands
from maildesk.desk import Desk
from maildesk.feedback import surveys
from maildesk.mail import (
    DONE,
    Command,
    Commands,
    ParsedMail,
    Verdict,
)
from maildesk.sla.timers import cancel, follow_status, policy_of
from maildesk.store.events import add_event
from maildesk.store.models import (
    Message,
    QuarantinedMessage,
    Ticket,
)
from maildesk.tickets import holding
from maildesk.tickets.commands import apply_commands
from maildesk.tickets.merge import merge_problem
from maildesk.tickets.participants import customer_addresses, last_customer_message
from maildesk.tickets.replies import lift_quiet


@dataclass(frozen=True)
class Applied:
    """An agent's commands applied: the status before them, the held mail they admit,
    the ticket this one is to be merged into (after the answer)."""

    before: str
    admitted: tuple[QuarantinedMessage, ...] = ()
    merge_into: Ticket | None = None


def apply(
    desk: Desk,
    session: Session,
    ticket: Ticket,
    message: Message,
    mail: ParsedMail,
    commands: Commands,
    now: datetime,
) -> Applied | None:
    """The commands changed the ticket; None when one was wrong (the agent is told why,
    nothing is relayed). ``#admit``'s held mail is for the pipeline to store."""
    agent = message.from_address
    problems = commands.problems or _problems(desk, session, ticket, commands)
    if problems:
        add_event(
            session,
            ticket.id,
            agent,
            "commands_rejected",
            {"problems": list(problems)},
            now,
        )
        desk.mailer.command_error(session, ticket, message, mail, problems, HELP, now)
        return None
    before = ticket.status
    apply_commands(session, ticket, commands, agent, now)
    admitted: list[QuarantinedMessage] = []
    for command in commands.commands:
        if command.name == "admit":
            admitted += holding.admit_address(session, ticket, command.argument, agent, now)
        elif command.name == "reject":
            holding.reject_address(session, ticket, command.argument, agent, now)
    target = next((merge_target(c.argument) for c in commands.commands if c.name == "merge"), None)
    into = session.get(Ticket, target) if target is not None else None
    return Applied(before, tuple(admitted), into)


def _problems(desk: Desk, session: Session, ticket: Ticket, commands: Commands) -> tuple[str, ...]:
    """What only the database can refuse: a merge into a ticket that cannot take it."""
    found = []
    for command in commands.commands:
        number = merge_target(command.argument) if command.name == "merge" else None
        if number is not None:
            why = merge_problem(session, ticket, number, desk.policy.token_format)
            if why is not None:
                found.append(f"#merge {command.argument}: {why}")
    return tuple(found)


def answer(
    desk: Desk,
    session: Session,
    ticket: Ticket,
    message: Message,
    mail: ParsedMail,
    commands: Commands,
    before: str,
    now: datetime,
) -> None:
    """The agent's new text to the customers (unless a note), and what its status
    change tells them."""
    agent = message.from_address
    if commands.note:
        add_event(session, ticket.id, agent, "note", {"message": message.id}, now)
        _follow(desk, session, ticket, before, now)
        return
    customers = customer_addresses(
        session, ticket, desk.policy.agents, desk.settings.helpdesk.max_cc
    )
    if commands.text.strip() and customers:
        last = last_customer_message(session, ticket, desk.policy.agents)
        desk.mailer.relay(session, ticket, message, mail, commands.text, customers, last, now)
        desk.mailer.agent_copy(session, ticket, message, mail, commands.text, now)
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
    done = ticket.status != before and ticket.status in DONE
    if done and customers and not ticket.quiet:
        desk.mailer.status_notice(session, ticket, message, mail, customers, now)
    _follow(desk, session, ticket, before, now)


def _follow(desk: Desk, session: Session, ticket: Ticket, before: str, now: datetime) -> None:
    """SLA clocks stop on resolve, pause while pending, run again after; resolving
    schedules the satisfaction survey."""
    policy = policy_of(desk.settings, ticket)
    follow_status(session, ticket, before, policy, desk.router.calendar, now)
    surveys.follow_status(session, desk.settings, ticket, before, now)


def read_commands(
    desk: Desk, session: Session, mail: ParsedMail, visible: str, verdict: Verdict
) -> Commands:
    """The commands of an agent's mail; an out-of-office, or a reply to a held-mail
    notice, is only a note (kept for the agents, never relayed)."""
    commands = parse_commands(visible, desk.tiers, desk.agents)
    if verdict.loop_suspect:
        return Commands((Command("note"),), visible)
    if holding.answers_held_notice(session, mail):
        return replace(commands, commands=(*commands.commands, Command("note")))
    return commands
