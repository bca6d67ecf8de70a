"""`maildesk outbox`: outgoing mail waiting, sent, or given up."""

from __future__ import annotations

from typing import Any

import click

from maildesk.cli import output
from maildesk.cli.context import Desk, pass_desk
from maildesk.store import outbox as rows
from maildesk.store.models import OUTBOX_STATES, OutboxMessage


@click.group()
def outbox() -> None:
    """Outgoing mail: what waits, what failed."""


@outbox.command("list")
@click.option(
    "--state",
    "states",
    multiple=True,
    type=click.Choice(OUTBOX_STATES),
    help="Only rows in this state [default: pending and failed].",
)
@click.option("--limit", type=click.IntRange(min=1), default=200, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@pass_desk
def outbox_list(desk: Desk, states: tuple[str, ...], limit: int, as_json: bool) -> None:
    """Outgoing mail, newest first."""
    wanted = states or ("pending", "failed")
    with desk.sessions()() as session:
        data = [_row(r) for r in rows.listed(session, wanted, limit)]
        hidden = {} if data else rows.other_states(session, wanted)
    if as_json:
        output.print_json(data)
        return
    output.print_table(
        ["ID", "STATE", "KIND", "TICKET", "TO", "ATTEMPTS", "NEXT TRY", "LAST ERROR"],
        (
            [
                d["id"],
                d["state"],
                d["kind"],
                d["ticket"] or "-",
                ", ".join(d["to"]),
                d["attempts"],
                (d["next_attempt_at"] or "")[:16] if d["state"] == "pending" else "-",
                (d["last_error"] or "-")[:60],
            ]
            for d in data
        ),
        empty=_nothing(wanted, hidden),
    )


def _row(row: OutboxMessage) -> dict[str, Any]:
    return {
        "id": row.id,
        "state": row.state,
        "kind": row.kind,
        "ticket": row.ticket_id,
        "message_id": row.message_id,
        "to": list(row.recipients),
        "attempts": row.attempts,
        "created_at": output.timestamp(row.created_at),
        "next_attempt_at": output.timestamp(row.next_attempt_at),
        "sent_at": output.timestamp(row.sent_at),
        "last_error": row.last_error,
    }


def _nothing(wanted: tuple[str, ...], hidden: dict[str, int]) -> str:
    """What an empty list means: "outbox is empty" only when it is."""
    if not hidden:
        return "outbox is empty"
    others = ", ".join(f"{n} {state}" for state, n in sorted(hidden.items()))
    first = sorted(hidden)[0]
    return f"no {' or '.join(wanted)} mail ({others}; see them with --state {first})"
