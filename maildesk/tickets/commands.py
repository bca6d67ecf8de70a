"""An agent's commands applied to the ticket, each change an event."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from maildesk.mail import (
    Commands,
)
from maildesk.store.events import add_event
from maildesk.store.models import (
    Ticket,
)


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
