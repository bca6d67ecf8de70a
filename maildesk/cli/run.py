"""`maildesk run`: validate everything, then start the daemon."""

from __future__ import annotations

import logging

import click

from maildesk.cli import output
from maildesk.cli.context import Desk, pass_desk
from maildesk.config import secret_problems
from maildesk.daemon import Daemon
from maildesk.errors import UserError
from maildesk.pipeline import Pipeline
from maildesk.render import missing_templates, template_problems
from maildesk.routing.router import Router


@click.command()
@click.option("--once", is_flag=True, help="Handle everything pending on every mailbox, then exit.")
@click.option("-v", "--verbose", is_flag=True, help="Log debug detail.")
@pass_desk
def run(desk: Desk, once: bool, verbose: bool) -> None:
    """Run the help desk until SIGTERM or Ctrl-C.

    Reads every [[mailboxes]] entry (IDLE where the server has it, else
    polling) and, if [inbound] is set, listens for SMTP or LMTP. Refuses to
    start on an invalid config, rule file or template, or on a database
    whose schema is not current (run `maildesk db upgrade`).
    """
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd's per-command chatter
    settings = desk.settings
    router, rule_trouble = Router.load(settings)
    problems = [
        *secret_problems(settings),
        *rule_trouble,
        *[
            *template_problems(settings.paths.templates),
            *missing_templates(settings.paths.templates, settings.helpdesk.default_language),
        ],
    ]
    if problems:
        raise UserError(problems)
    daemon = Daemon(settings, Pipeline(settings, desk.sessions(), router=router))
    if once:
        handled = daemon.run_once()
        output.say(f"handled {handled} message(s)")
    else:
        daemon.run()
