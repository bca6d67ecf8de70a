"""`maildesk quarantine`: mail that could not be handled, or is held for review."""

from __future__ import annotations

import sys
from typing import Any

import click

from maildesk.cli import output
from maildesk.cli.context import Desk, pass_desk
from maildesk.errors import Problem, UserError
from maildesk.quarantine import retry_quarantined
from maildesk.store.models import QuarantinedMessage
from maildesk.store.quarantine import quarantined


@click.group()
def quarantine() -> None:
    """List, show and retry quarantined or held mail."""


def row_json(row: QuarantinedMessage) -> dict[str, Any]:
    return {
        "id": row.id,
        "kind": row.kind,
        "state": row.state,
        "source": row.source,
        "received_at": output.timestamp(row.received_at),
        "reason": row.reason,
        "message_id": row.message_id,
        "ticket": row.ticket_id,
        "size": len(row.raw),
        "attempts": row.attempts,
    }


@quarantine.command("list")
@click.option("--all", "everything", is_flag=True, help="Also rows already released.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@pass_desk
def quarantine_list(desk: Desk, everything: bool, as_json: bool) -> None:
    """Messages waiting in quarantine, oldest first."""
    with desk.sessions()() as session:
        rows = quarantined(session, states=() if everything else ("held",))
        data = [row_json(r) for r in rows]
    if as_json:
        output.print_json(data)
        return
    output.print_table(
        ["ID", "KIND", "STATE", "RECEIVED", "SOURCE", "SIZE", "REASON"],
        (
            [
                d["id"],
                d["kind"],
                d["state"],
                (d["received_at"] or "")[:16],
                d["source"],
                d["size"],
                d["reason"][:70],
            ]
            for d in data
        ),
        empty="quarantine is empty",
    )


def _row(desk: Desk, number: int) -> dict[str, Any]:
    with desk.sessions()() as session:
        row = session.get(QuarantinedMessage, number)
        if row is None:
            raise UserError([Problem("", f"no quarantined message {number}")])
        return {**row_json(row), "raw": row.raw, "detail": row.detail}


@quarantine.command("show")
@click.argument("number", type=int, metavar="ID")
@click.option("--raw", is_flag=True, help="Write the original bytes to standard output.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@pass_desk
def quarantine_show(desk: Desk, number: int, raw: bool, as_json: bool) -> None:
    """Show why a message is in quarantine (and, with --raw, the message itself)."""
    data = _row(desk, number)
    if raw:
        sys.stdout.buffer.write(data["raw"])
        return
    if as_json:
        output.print_json({k: v for k, v in data.items() if k != "raw"})
        return
    for key in (
        "id",
        "kind",
        "state",
        "source",
        "received_at",
        "message_id",
        "ticket",
        "size",
        "attempts",
        "reason",
    ):
        output.say(f"{key + ':':13} {data[key] if data[key] is not None else '-'}")
    if data["detail"]:
        output.say("\n" + data["detail"].rstrip())


@quarantine.command("retry")
@click.argument("numbers", type=int, nargs=-1, metavar="[ID]...")
@click.option("--all", "everything", is_flag=True, help="Retry every held row.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@pass_desk
def quarantine_retry(desk: Desk, numbers: tuple[int, ...], everything: bool, as_json: bool) -> None:
    """Run quarantined messages through the pipeline again (after a fix or config change).

    A held message (foreign ticket token) is appended to the ticket it named.
    """
    if not numbers and not everything:
        raise UserError([Problem("", "give IDs to retry, or --all")])
    pipeline = desk.pipeline()
    if everything:
        with desk.sessions()() as session:
            numbers = tuple(r.id for r in quarantined(session))
    results = [retry_quarantined(pipeline, n) for n in numbers]
    if as_json:
        output.print_json(
            [
                {"id": n, "status": o.status, "ticket": o.ticket_id, "detail": o.detail}
                for n, o in zip(numbers, results, strict=True)
            ]
        )
        return
    output.print_table(
        ["ID", "NOW", "TICKET", "DETAIL"],
        (
            [n, o.status, o.ticket_id or "-", o.detail[:70]]
            for n, o in zip(numbers, results, strict=True)
        ),
        empty="nothing to retry",
    )
