"""`maildesk tickets`: list, show and merge tickets, as tables or --json.

The JSON shapes are a stable interface for scripts; README.md documents them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click

from maildesk.cli import output
from maildesk.cli.context import Desk, pass_desk
from maildesk.errors import Problem, UserError
from maildesk.mail import TICKET_STATUSES
from maildesk.quarantine import ADMIN
from maildesk.store.db import transaction
from maildesk.store.queries import EventRow, MessageRow, TicketRow, list_tickets, ticket_detail
from maildesk.thread import ticket_token
from maildesk.tickets.merge import merge_numbers


@click.group()
def tickets() -> None:
    """List and inspect tickets."""


@tickets.command("list")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(TICKET_STATUSES),
    help="Only tickets with this status (repeat for several).",
)
@click.option("--tier", "tiers", multiple=True, help="Only tickets in this tier (repeatable).")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many, newest first.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list for scripts.")
@pass_desk
def tickets_list(
    desk: Desk, statuses: tuple[str, ...], tiers: tuple[str, ...], limit: int | None, as_json: bool
) -> None:
    """List tickets, newest first."""
    fmt = desk.settings.helpdesk.token_format
    with desk.sessions()() as session:
        rows = list_tickets(session, statuses=statuses, tiers=tiers, limit=limit)
    if as_json:
        output.print_json([ticket_json(r, fmt) for r in rows])
        return
    output.print_table(
        [
            "TICKET",
            "STATUS",
            "PRIORITY",
            "TIER",
            "REQUESTER",
            "ASSIGNEE",
            "MSGS",
            "UPDATED",
            "SUBJECT",
        ],
        (
            [
                ticket_token(fmt, r.id),
                r.status,
                r.priority,
                r.tier or "-",
                r.requester or "-",
                r.assignee or "-",
                r.message_count,
                r.updated_at.strftime("%Y-%m-%d %H:%M"),
                _short(r.subject, 50),
            ]
            for r in rows
        ),
        empty="no tickets",
    )


@tickets.command("show")
@click.argument("ticket", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@pass_desk
@click.pass_context
def tickets_show(ctx: click.Context, desk: Desk, ticket: str, as_json: bool) -> None:
    """Show one ticket with its messages and history. ID may be 1042 or the token [#1042]."""
    number = _ticket_number(ticket)
    fmt = desk.settings.helpdesk.token_format
    with desk.sessions()() as session:
        detail = ticket_detail(session, number) if number is not None else None
    if detail is None:
        output.error(f"no ticket {ticket}")
        ctx.exit(output.FAILED)
        return
    if as_json:
        data = ticket_json(detail.ticket, fmt)
        data["messages"] = [message_json(m) for m in detail.messages]
        data["events"] = [event_json(e) for e in detail.events]
        data["held"] = [
            {
                "id": h.id,
                "from": h.sender,
                "received_at": output.timestamp(h.received_at),
                "state": h.state,
                "reason": h.reason,
            }
            for h in detail.held
        ]
        output.print_json(data)
        return
    t = detail.ticket
    output.say(f"{ticket_token(fmt, t.id)} {t.subject}", style="bold")
    output.print_table(
        ["status", "priority", "tier", "requester", "assignee", "created", "updated"],
        [
            [
                t.status,
                t.priority,
                t.tier or "-",
                t.requester or "-",
                t.assignee or "-",
                output.timestamp(t.created_at),
                output.timestamp(t.updated_at),
            ]
        ],
    )
    if t.sla_policy:
        output.say(_sla_line(t))
    for m in detail.messages:
        kind = "note" if m.is_note else ("from customer" if m.direction == "in" else "sent")
        output.say(
            f"\n--- #{m.id} {kind}: {m.from_address} {output.timestamp(m.date) or ''}", style="dim"
        )
        output.say(m.visible_text.rstrip())
        for a in m.attachments:
            output.say(f"[attachment] {a.filename} ({a.content_type}, {a.size} bytes)")
    if detail.held:
        output.say("\nHeld (not in the ticket; `maildesk quarantine admit ID`):", style="bold")
        output.print_table(
            ["id", "from", "received", "state", "why"],
            (
                [h.id, h.sender or "-", output.timestamp(h.received_at), h.state, h.reason[:70]]
                for h in detail.held
            ),
        )
    if detail.events:
        output.say("\nHistory:", style="bold")
        output.print_table(
            ["when", "who", "what"],
            ([output.timestamp(e.at), e.actor, _event_text(e)] for e in detail.events),
        )


def ticket_json(row: TicketRow, token_format: str) -> dict[str, Any]:
    return {
        "id": row.id,
        "token": ticket_token(token_format, row.id),
        "subject": row.subject,
        "status": row.status,
        "priority": row.priority,
        "tier": row.tier,
        "requester": row.requester,
        "assignee": row.assignee,
        "created_at": output.timestamp(row.created_at),
        "updated_at": output.timestamp(row.updated_at),
        "message_count": row.message_count,
        "sla": {
            "policy": row.sla_policy,
            # Nothing is due on a resolved or closed ticket.
            "first_response_due": output.timestamp(_due(row, row.first_response_due)),
            "first_response_at": output.timestamp(row.first_response_at),
            "next_response_due": output.timestamp(_due(row, row.next_response_due)),
            "resolution_due": output.timestamp(_due(row, row.resolution_due)),
        },
    }


def message_json(m: MessageRow) -> dict[str, Any]:
    return {
        "id": m.id,
        "direction": m.direction,
        "message_id": m.message_id,
        "from": m.from_address,
        "to": list(m.to),
        "cc": list(m.cc),
        "subject": m.subject,
        "date": output.timestamp(m.date),
        "visible_text": m.visible_text,
        "is_note": m.is_note,
        "attachments": [
            {"filename": a.filename, "size": a.size, "content_type": a.content_type}
            for a in m.attachments
        ],
    }


def event_json(e: EventRow) -> dict[str, Any]:
    return {
        "id": e.id,
        "at": output.timestamp(e.at),
        "actor": e.actor,
        "kind": e.kind,
        "detail": e.detail,
    }


DONE = ("resolved", "closed")


def _due(t: TicketRow, when: datetime | None) -> datetime | None:
    return None if t.status in DONE else when


def _sla_line(t: TicketRow) -> str:
    parts = [f"SLA {t.sla_policy}:"]
    if t.first_response_at is not None:
        parts.append(f"first response {output.timestamp(t.first_response_at)}")
    elif t.status in DONE:
        parts.append("no first response")
    elif t.first_response_due is not None:
        parts.append(f"first response due {output.timestamp(t.first_response_due)}")
    if t.status in DONE:  # nothing is due on a ticket that is done
        parts.append(t.status)
    elif t.next_response_due is not None:
        parts.append(f"next response due {output.timestamp(t.next_response_due)}")
    if t.resolution_due is not None and t.status not in DONE:
        parts.append(f"resolution due {output.timestamp(t.resolution_due)}")
    return " ".join(parts[:1]) + " " + ", ".join(parts[1:])


@tickets.command("merge")
@click.argument("ticket", metavar="ID")
@click.option("--into", "into", required=True, metavar="ID", help="The ticket it goes on in.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@pass_desk
def tickets_merge(desk: Desk, ticket: str, into: str, as_json: bool) -> None:
    """Fold ticket ID into another: its messages, people, tags and SLA go there, mail to
    either token lands there, and its customer is told once. IDs may be 1042 or [#1042]."""
    source, target = _ticket_number(ticket), _ticket_number(into)
    if source is None or target is None:
        bad = ("ID", ticket) if source is None else ("--into", into)
        raise UserError([Problem(bad[0], f"{bad[1]!r} is not a ticket number")])
    intake = desk.pipeline()
    with transaction(intake.sessions) as session:
        moved = merge_numbers(intake.desk, session, source, target, ADMIN, intake.clock.now())
    fmt = desk.settings.helpdesk.token_format
    if as_json:
        output.print_json({"ticket": source, "into": target, "messages": moved})
        return
    output.say(
        f"{ticket_token(fmt, source)} merged into {ticket_token(fmt, target)}: "
        f"{moved} message(s) moved"
    )


def _ticket_number(text: str) -> int | None:
    digits = "".join(ch for ch in text if ch.isdigit())
    return int(digits) if digits and len(digits) < 18 else None


def _event_text(e: EventRow) -> str:
    details = ", ".join(f"{k}={v}" for k, v in e.detail.items())
    return f"{e.kind} {details}".strip()


def _short(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"
