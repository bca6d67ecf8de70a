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
from maildesk.store.tickets import customer_addresses
from maildesk.thread import ticket_token
from maildesk.tickets import holding, macros, problems
from maildesk.tickets.commands import apply_commands
from maildesk.tickets.merge import merge_problem
from maildesk.tickets.participants import last_customer_message
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
    wrong = commands.problems or _problems(desk, session, ticket, commands)
    if wrong:
        add_event(
            session,
            ticket.id,
            agent,
            "commands_rejected",
            {"problems": list(wrong)},
            now,
        )
        desk.mailer.command_error(session, ticket, message, mail, wrong, HELP, now)
        return None
    before = ticket.status
    apply_commands(session, ticket, commands, agent, now)
    admitted: list[QuarantinedMessage] = []
    for command in commands.commands:
        if command.name == "problem":
            problems.mark_problem(session, ticket, agent, now)
            for number in problems.numbers(command.argument) or ():
                incident = session.get(Ticket, number)
                assert incident is not None  # checked in _problems
                problems.link(session, incident, ticket, agent, now)
        elif command.name in problems.LINKS:
            problem = session.get(Ticket, merge_target(command.argument))
            assert problem is not None  # checked in _problems
            problems.link(session, ticket, problem, agent, now)
        elif command.name == "admit":
            admitted += holding.admit_address(session, ticket, command.argument, agent, now)
        elif command.name == "reject":
            holding.reject_address(session, ticket, command.argument, agent, now)
    target = next((merge_target(c.argument) for c in commands.commands if c.name == "merge"), None)
    into = session.get(Ticket, target) if target is not None else None
    return Applied(before, tuple(admitted), into)


def _problems(desk: Desk, session: Session, ticket: Ticket, commands: Commands) -> tuple[str, ...]:
    """What only the database can refuse: a merge or a link to a ticket that cannot take
    it, a broadcast from a ticket that is no problem."""
    fmt = desk.policy.token_format
    found = []
    problem = ticket.problem or any(c.name == "problem" for c in commands.commands)
    for command in commands.commands:
        line = f"#{command.name} {command.argument}".strip()
        if command.name == "merge":
            why = merge_problem(session, ticket, merge_target(command.argument) or 0, fmt)
            found += [f"{line}: {why}"] if why else []
        elif command.name in problems.LINKS:
            why = problems.link_problem(session, ticket, merge_target(command.argument) or 0, fmt)
            found += [f"{line}: {why}"] if why else []
        elif command.name == "problem":
            for number in problems.numbers(command.argument) or ():
                other = session.get(Ticket, number)
                why = (
                    problems.link_problem(session, other, ticket.id, fmt)
                    if other is not None
                    else f"there is no ticket {ticket_token(fmt, number)}"
                )
                found += [f"{line}: {ticket_token(fmt, number)}: {why}"] if why else []
        elif command.name == "broadcast" and not problem:
            found.append(f"{line}: this ticket is no known problem (#problem first)")
        elif command.name == "broadcast" and not commands.text.strip():
            found.append(f"{line}: there is no text to send")
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
            ticket.first_response_at, ticket.first_responder = now, agent
        if ticket.quiet:
            # The agent wrote to them: the desk's own notices may follow.
            lift_quiet(session, ticket, agent, "an agent answered", now)
        cancel(session, ticket.id, ["first_response", "next_response"], now)
        add_event(
            session, ticket.id, agent, "replied", {"message": message.id, "to": customers}, now
        )
        if ticket.status in ("new", "pending") and before == ticket.status:
            ticket.status = "open"
    if any(c.name == "broadcast" for c in commands.commands) and commands.text.strip():
        problems.broadcast(desk, session, ticket, message, mail, commands.text, now)
    done = ticket.status != before and ticket.status in DONE
    if done and customers and not ticket.quiet:
        desk.mailer.status_notice(session, ticket, message, mail, customers, now)
    _follow(desk, session, ticket, before, now)
    if ticket.problem and problems.done(before, ticket):
        problems.resolve_incidents(desk, session, ticket, agent, now)


def _follow(desk: Desk, session: Session, ticket: Ticket, before: str, now: datetime) -> None:
    """SLA clocks stop on resolve, pause while pending, run again after; resolving
    schedules the satisfaction survey."""
    policy = policy_of(desk.settings, ticket)
    follow_status(session, ticket, before, policy, desk.router.calendar, now)
    surveys.follow_status(session, desk.settings, ticket, before, now)


def read_commands(
    desk: Desk, session: Session, ticket: Ticket, mail: ParsedMail, visible: str, verdict: Verdict
) -> Commands:
    """The commands of an agent's mail, macros and articles put in; an out-of-office,
    or a reply to a held-mail notice, is only a note (kept for the agents, never
    relayed)."""
    commands = macros.expand(desk, ticket, parse_commands(visible, desk.tiers, desk.agents), mail)
    if verdict.loop_suspect:
        return Commands((Command("note"),), visible)
    if holding.answers_held_notice(session, mail):
        return replace(commands, commands=(*commands.commands, Command("note")))
    return commands
