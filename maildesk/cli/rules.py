"""`maildesk rules`: check the rule files, and explain how a message would be routed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from sqlalchemy.exc import SQLAlchemyError

from maildesk.cli import output
from maildesk.cli.context import Desk, parse_moment, pass_desk
from maildesk.errors import Problem, Quarantined, UserError
from maildesk.parse import parse_mail
from maildesk.routing.engine import route_message
from maildesk.routing.facts import CustomerInfo
from maildesk.routing.router import Router
from maildesk.store.tickets import find_customer
from maildesk.visible import visible_text


@click.group()
def rules() -> None:
    """Check routing rules and try them on a message."""


@rules.command("check")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@pass_desk
@click.pass_context
def rules_check(ctx: click.Context, desk: Desk, as_json: bool) -> None:
    """Compile every rule file (and the customers list); exit 2 on any problem."""
    router, problems = Router.load(desk.settings)
    if as_json:
        output.print_json(
            {
                "ok": not problems,
                "rules": len(router.rules.rules),
                "files": [p.name for p in router.rules.files],
                "problems": [{"where": p.where, "what": p.what} for p in problems],
            }
        )
    elif not problems:
        output.say(f"ok: {len(router.rules.rules)} rule(s) in {len(router.rules.files)} file(s)")
    for problem in problems if not as_json else []:
        output.error(str(problem))
    if problems:
        ctx.exit(output.USER_ERROR)


@rules.command("test")
@click.argument("message", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--reply", is_flag=True, help="As a customer reply to an existing ticket.")
@click.option(
    "--now",
    "now_text",
    metavar="TIMESTAMP",
    help="Evaluate business hours at this moment (ISO 8601), not now.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@pass_desk
def rules_test(desk: Desk, message: Path, reply: bool, now_text: str | None, as_json: bool) -> None:
    """Show how MESSAGE.eml would be routed: every rule, matched or not, and why.

    Stores nothing and sends nothing.
    """
    router, problems = Router.load(desk.settings)
    if problems:
        raise UserError(problems)
    try:
        mail = parse_mail(message.read_bytes())
    except Quarantined as exc:
        raise UserError([Problem(str(message), f"not a usable message: {exc.reason}")]) from None
    now = parse_moment(now_text, "--now")
    stored, note = _stored_customer(desk, mail.sender.address if mail.sender else "")
    facts = router.facts(mail, visible_text(mail.text), stored, now, reply=reply)
    if reply:
        route, traces = route_message(router.rules, facts, explain=True)
    else:
        route, traces = router.route_new(facts, explain=True)
    result = {
        "tier": route.tier,
        "priority": route.priority,
        "tags": list(route.tags),
        "assign": route.assignee,
        "sla": route.sla_policy,
        "acknowledge": (
            "none"
            if route.acknowledge is False
            else route.acknowledge or "acknowledgement (default)"
        ),
        "language": route.language,
        "notify": list(route.notify),
        "customer_category": route.customer_category,
    }
    seen = {
        "sender": facts.sender,
        "subject": facts.subject,
        "language": facts.language,
        "customer_category": facts.customer.category,
        "customer_organization": facts.customer.organization,
        "business_hours": facts.business_hours,
        "authentication": facts.authentication,
        "spam": facts.spam,
        "spam_score": facts.spam_score,
        "reply": reply,
        "database": note,
    }
    if as_json:
        output.print_json(
            {
                "message": seen,
                "rules": [
                    {
                        "name": t.name,
                        "where": t.where,
                        "matched": t.matched,
                        "skipped": t.skipped,
                        "reason": t.reason,
                    }
                    for t in traces
                ],
                "result": result,
            }
        )
        return
    output.say(
        f"{message}: from {facts.sender or '-'}, language {facts.language or '-'}, "
        f"customer category {facts.customer.category or '-'}, "
        f"{'inside' if facts.business_hours else 'outside'} business hours, "
        f"authentication {facts.authentication}, "
        f"{'spam' if facts.spam else 'not spam'}"
        + (f" (score {facts.spam_score:g})" if facts.spam_score is not None else "")
    )
    if note:
        output.say(f"({note})")
    output.print_table(
        ["RULE", "WHERE", "RESULT", "BECAUSE"],
        (
            [
                t.name,
                t.where,
                "skipped" if t.skipped else ("MATCHED" if t.matched else "no"),
                t.reason,
            ]
            for t in traces
        ),
        empty="no rules",
    )
    output.say("")
    output.print_table(["RESULT", "VALUE"], ([k, _show(v)] for k, v in result.items()))


def _show(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(value) or "-"
    return "-" if value is None else str(value)


def _stored_customer(desk: Desk, address: str) -> tuple[CustomerInfo | None, str]:
    """What the database knows about the sender; a dry run works without a database too."""
    try:
        with desk.sessions()() as session:
            row = find_customer(session, address)
    except (UserError, SQLAlchemyError) as exc:
        first = str(exc).splitlines()[0][:120]
        return None, f"customer database not consulted: {first}"
    if row is None:
        return None, ""
    return CustomerInfo(row.category, row.organization, row.language), ""
