"""`maildesk check`: is this desk ready to run? Config, rules, templates, servers."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

import click
from sqlalchemy.exc import SQLAlchemyError

from maildesk.cli import output
from maildesk.cli.context import Desk, pass_desk
from maildesk.config import Settings, mailbox_secret, read_password, secret_problems
from maildesk.config.semantics import trust_warnings
from maildesk.errors import Problem, UserError
from maildesk.outbox.relay import RelayUnavailable, probe_relay
from maildesk.render import TemplateSet, stray_templates
from maildesk.routing.router import Router
from maildesk.sources.imap import MailboxUnavailable, probe_mailbox
from maildesk.store.schema import current_revision, head_revision


@dataclass
class Report:
    """What was checked: ``problems`` are the admin's to fix (exit 2), ``failures`` servers (1)."""

    checked: list[dict[str, object]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    failures: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)  # valid but risky: exit 0

    def ok(self, name: str, detail: str) -> None:
        self.checked.append({"name": name, "ok": True, "detail": detail})

    def bad(self, name: str, found: list[Problem], *, failure: bool = False) -> None:
        self.checked.append({"name": name, "ok": False, "detail": f"{len(found)} problem(s)"})
        (self.failures if failure else self.problems).extend(found)


@click.command()
@click.option("--connect", is_flag=True, help="Also log in to the database, mailboxes and relay.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON report for scripts.")
@pass_desk
@click.pass_context
def check(ctx: click.Context, desk: Desk, connect: bool, as_json: bool) -> None:
    """Check the config, rules and templates; exit 2 on any problem.

    With --connect, also reach every server: exit 1 if one cannot be reached.
    """
    report = Report()
    try:
        settings = desk.settings
    except UserError as exc:
        report.bad("config", list(exc.problems))
    else:
        _check_files(settings, report)
        if connect:
            _check_servers(desk, settings, report)
    _print(report, as_json)
    if report.problems:
        ctx.exit(output.USER_ERROR)
    if report.failures:
        ctx.exit(output.FAILED)


def _check_files(settings: Settings, report: Report) -> None:
    found = secret_problems(settings)
    report.bad("config", found) if found else report.ok("config", str(settings.source))
    report.ok("trust", trust_summary(settings))
    report.warnings += [Problem(str(settings.source), w) for w in trust_warnings(settings)]
    router, found = Router.load(settings)
    if found:
        report.bad("rules", found)
    else:
        rules = router.rules
        report.ok(
            "rules",
            f"{len(rules.rules)} rule(s) in {len(rules.files)} file(s) in {settings.paths.rules}",
        )
    templates = TemplateSet(settings.paths.templates)
    found = templates.check(settings.helpdesk.default_language)
    if found:
        report.bad("templates", found)
    else:
        count = len(templates.sources)
        report.ok("templates", f"{count} template(s) in {settings.paths.templates}")
    named = [r.then.acknowledge for r in router.rules.rules if isinstance(r.then.acknowledge, str)]
    report.warnings += stray_templates(templates, named)


def trust_summary(settings: Settings) -> str:
    """The trust settings in words: who joins a ticket, whose From is believed."""
    helpdesk, trust = settings.helpdesk, settings.trust
    join = {
        "participants": "only the requester, the people they or an agent put in To/Cc, "
        "and agents write into a ticket",
        "domain": "participants and the requester's colleagues at the same domain "
        "write into a ticket",
        "anyone": "anyone who names a ticket writes into it",
    }[helpdesk.join]
    others = "held for an agent" if helpdesk.foreign_token == "hold" else "a new ticket"
    if trust.authserv_id:
        mta = f"Authentication-Results of {', '.join(trust.authserv_id)} are believed"
    else:
        mta = "no Authentication-Results are believed (trust.authserv_id unset)"
    agents = (
        "agents must pass authentication"
        if settings.trust_agents == "authenticated"
        else "agents are known by their From address"
    )
    quiet = "opened without an acknowledgement" if trust.suspicious == "ticket" else "held"
    return (
        f"{join}; others' mail is {others}; {mta}; {agents}; mail failing DMARC or "
        f"marked as spam (score {trust.spam_score:g} or more) is {quiet}"
    )


def _check_servers(desk: Desk, settings: Settings, report: Report) -> None:
    source = str(settings.source)

    def attempt(name: str, key: str, probe: Callable[[], str]) -> None:
        try:
            report.ok(name, probe())
        except UserError as exc:
            report.bad(name, list(exc.problems))
        except (MailboxUnavailable, RelayUnavailable, SQLAlchemyError, OSError) as exc:
            text = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            report.bad(name, [Problem(f"{source}: {key}", text)], failure=True)

    def database() -> str:
        current, head = current_revision(desk.engine), head_revision()
        if current != head:
            raise OSError(f"schema {current or 'missing'}, needs {head}: run `maildesk db upgrade`")
        return f"reachable, schema {current}"

    attempt("database", "database.url", database)
    for index, box in enumerate(settings.mailboxes):
        key = f"mailboxes[{index}]"

        def mailbox(box=box, key=key) -> str:  # type: ignore[no-untyped-def]
            status = probe_mailbox(box, mailbox_secret(box, key))
            return f"{box.host}: {status.folder} has {status.messages} message(s)"

        attempt(f"mailbox {box.name}", key, mailbox)
    smtp = settings.smtp

    def relay() -> str:
        if smtp.spool_dir is not None:
            smtp.spool_dir.mkdir(parents=True, exist_ok=True)
            if not os.access(smtp.spool_dir, os.W_OK):
                raise OSError(f"{smtp.spool_dir} is not writable")
            return f"spooling to {smtp.spool_dir}"
        return f"{smtp.host}: {probe_relay(smtp, read_password(smtp, 'smtp'))}"

    attempt("smtp", "smtp", relay)


def _print(report: Report, as_json: bool) -> None:
    if as_json:
        output.print_json(
            {
                "ok": not report.problems and not report.failures,
                "checks": report.checked,
                "problems": [{"where": p.where, "what": p.what} for p in report.problems],
                "failures": [{"where": p.where, "what": p.what} for p in report.failures],
                "warnings": [{"where": p.where, "what": p.what} for p in report.warnings],
            }
        )
        return
    for item in report.checked:
        mark = "ok  " if item["ok"] else "FAIL"
        output.say(f"{mark} {item['name']}: {item['detail']}")
    for warning in report.warnings:
        output.say(f"warn {warning}")
    for problem in [*report.problems, *report.failures]:
        output.error(str(problem))
