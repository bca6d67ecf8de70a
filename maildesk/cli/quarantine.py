"""`maildesk quarantine`: mail that could not be handled, or is held for review."""

from __future__ import annotations

import sys
from typing import Any

import click

from maildesk.cli import output
from maildesk.cli.context import Desk, pass_desk
from maildesk.errors import Problem, UserError
from maildesk.outcome import Outcome
from maildesk.quarantine import admit_held, reject_held, retry_quarantined
from maildesk.store.models import QuarantinedMessage
from maildesk.store.quarantine import quarantined, quarantined_row


@click.group()
def quarantine() -> None:
    """List, show and retry quarantined mail; admit or reject held mail."""


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
        "sender": row.sender,
        "size": len(row.raw),
        "attempts": row.attempts,
    }


@quarantine.command("list")
@click.option("--all", "everything", is_flag=True, help="Also rows released or rejected.")
@click.option("--ticket", "ticket", type=int, help="Only mail held on this ticket.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@pass_desk
def quarantine_list(desk: Desk, everything: bool, ticket: int | None, as_json: bool) -> None:
    """Messages waiting in quarantine or held for review, oldest first."""
    with desk.sessions()() as session:
        rows = quarantined(session, states=() if everything else ("held",), ticket=ticket)
        data = [row_json(r) for r in rows]
    if as_json:
        output.print_json(data)
        return
    output.print_table(
        ["ID", "KIND", "STATE", "RECEIVED", "TICKET", "FROM", "REASON"],
        (
            [
                d["id"],
                d["kind"],
                d["state"],
                (d["received_at"] or "")[:16],
                d["ticket"] or "-",
                d["sender"] or "-",
                d["reason"][:60],
            ]
            for d in data
        ),
        empty="quarantine is empty",
    )


def _row(desk: Desk, number: int) -> dict[str, Any]:
    with desk.sessions()() as session:
        row = quarantined_row(session, number)
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
        "sender",
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

    A held message is admitted into the ticket it named (see admit).
    """
    if not numbers and not everything:
        raise UserError([Problem("", "give IDs to retry, or --all")])
    pipeline = desk.pipeline()
    if everything:
        with desk.sessions()() as session:
            numbers = tuple(r.id for r in quarantined(session))
    _results(numbers, [retry_quarantined(pipeline, n) for n in numbers], as_json)


@quarantine.command("admit")
@click.argument("numbers", type=int, nargs=-1, required=True, metavar="ID...")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@pass_desk
def quarantine_admit(desk: Desk, numbers: tuple[int, ...], as_json: bool) -> None:
    """Let held mail into the ticket it named; its sender joins the ticket.

    A held mail that named no ticket (a suspicious first mail) opens one.
    """
    pipeline = desk.pipeline()
    _results(numbers, [admit_held(pipeline, n) for n in numbers], as_json)


@quarantine.command("reject")
@click.argument("numbers", type=int, nargs=-1, required=True, metavar="ID...")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@pass_desk
def quarantine_reject(desk: Desk, numbers: tuple[int, ...], as_json: bool) -> None:
    """Keep held mail out of its ticket for good (it stays stored; admit still can)."""
    pipeline = desk.pipeline()
    _results(numbers, [reject_held(pipeline, n) for n in numbers], as_json)


def _results(numbers: tuple[int, ...], results: list[Outcome], as_json: bool) -> None:
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
