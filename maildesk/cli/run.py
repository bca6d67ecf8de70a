"""`maildesk run`: validate everything, then start the daemon (or do one round)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click

from maildesk import logs
from maildesk.cli import output
from maildesk.cli.context import Desk, parse_moment, pass_desk
from maildesk.clock import FixedClock
from maildesk.daemon import Daemon
from maildesk.errors import UserError
from maildesk.intake import Intake
from maildesk.mail import Fired
from maildesk.startup import startup_problems
from maildesk.store import outbox
from maildesk.store.models import OutboxMessage


@click.command()
@click.option("--once", is_flag=True, help="Handle everything pending on every mailbox, then exit.")
@click.option(
    "--now",
    "now_text",
    metavar="TIMESTAMP",
    help="With --once: act as if it were this moment (ISO 8601; UTC without an offset).",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="With --once: read no mailbox, send nothing, change nothing; print what would go out.",
)
@click.option("--json", "as_json", is_flag=True, help="With --dry-run: print JSON for scripts.")
@click.option("-v", "--verbose", is_flag=True, help="Log debug detail.")
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Log lines for people, or one JSON object a line for log collectors.",
)
@pass_desk
def run(
    desk: Desk,
    once: bool,
    now_text: str | None,
    dry_run: bool,
    as_json: bool,
    verbose: bool,
    log_format: logs.Format,
) -> None:
    """Run the help desk until SIGTERM or Ctrl-C.

    Reads every [[mailboxes]] entry (IDLE where the server has it, else
    polling), if [inbound] is set listens for SMTP or LMTP, sends the
    outbox, and ticks the clock (SLA reminders, breaches, digests, surveys).
    Refuses to start on an invalid config, rule file or template, or on a
    database whose schema is not current (run `maildesk db upgrade`).
    SIGHUP reloads the config, rules and templates; an invalid new config
    is refused and the running one stays.

    `run --once --now 2026-11-23T09:30+01:00 --dry-run` shows which SLA
    reminders, escalations and digests would fire at that moment, and
    which queued mail would be sent, without doing any of it.
    """
    if (now_text or dry_run) and not once:
        raise click.UsageError("--now and --dry-run work with --once")
    if as_json and not dry_run:
        raise click.UsageError("--json works with --dry-run")
    logs.setup(verbose=verbose, form=log_format)
    settings = desk.settings
    router, problems = startup_problems(settings, secrets=not dry_run)
    if problems:
        raise UserError(problems)
    clock = FixedClock(parse_moment(now_text, "--now")) if now_text else None
    daemon = Daemon(settings, Intake(settings, desk.sessions(), clock=clock, router=router))
    if dry_run:
        _dry_run(daemon, as_json)
    elif once:
        handled = daemon.run_once()
        output.say(f"handled {handled} message(s)")
    else:
        daemon.run()


def _dry_run(daemon: Daemon, as_json: bool) -> None:
    now = daemon.pipeline.clock.now()
    fired = daemon.sla.tick(now, dry_run=True) + daemon.surveys.tick(now, dry_run=True)
    with daemon.pipeline.sessions() as session:
        waiting = [_queued(row) for row in outbox.waiting(session, now)]
    would = [_fired(item) for item in fired]
    if as_json:
        output.print_json({"now": output.timestamp(now), "sla": would, "outbox": waiting})
        return
    output.say(f"as of {output.timestamp(now)} (dry run: nothing was changed or sent)")
    output.print_table(
        ["SLA", "TICKET", "TARGET", "DUE", "TO", "WHAT"],
        (
            [
                w["kind"],
                w["ticket"],
                w["target"] or "-",
                (w["due_at"] or "-")[:16],
                ", ".join(w["to"]) or "nobody",
                w["detail"] or "-",
            ]
            for w in would
        ),
        empty="no SLA reminder, escalation or digest is due",
    )
    output.print_table(
        ["OUTBOX", "KIND", "TICKET", "TO", "QUEUED"],
        (
            [q["id"], q["kind"], q["ticket"] or "-", ", ".join(q["to"]), q["created_at"][:16]]
            for q in waiting
        ),
        empty="no queued mail is due",
    )


def _fired(item: Fired) -> dict[str, Any]:
    return {
        "kind": item.kind,
        "ticket": item.ticket,
        "target": item.target,
        "due_at": output.timestamp(item.due_at),
        "to": list(item.to),
        "detail": item.detail,
    }


def _queued(row: OutboxMessage) -> dict[str, Any]:
    created: datetime = row.created_at
    return {
        "id": row.id,
        "kind": row.kind,
        "ticket": row.ticket_id,
        "to": list(row.recipients),
        "created_at": output.timestamp(created) or "",
    }
