"""Entry point: global options, command registration, and errors to exit codes."""

from __future__ import annotations

import sys

import click
from sqlalchemy.exc import OperationalError

from maildesk import __version__
from maildesk.cli import output
from maildesk.cli.agents import agents
from maildesk.cli.check import check
from maildesk.cli.context import Desk
from maildesk.cli.db import db
from maildesk.cli.ingest import import_archive, ingest
from maildesk.cli.init import init
from maildesk.cli.kb import kb
from maildesk.cli.outbox import outbox
from maildesk.cli.quarantine import quarantine
from maildesk.cli.report import report
from maildesk.cli.rules import rules
from maildesk.cli.run import run
from maildesk.cli.sla import sla
from maildesk.cli.tickets import tickets
from maildesk.errors import TryLater, UserError

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(context_settings=CONTEXT)
@click.option(
    "-c",
    "--config",
    metavar="PATH",
    envvar="MAILDESK_CONFIG",
    help="Config file [default: $MAILDESK_CONFIG, else ./maildesk.toml].",
)
@click.version_option(__version__, "-V", "--version", prog_name="maildesk")
@click.pass_context
def cli(ctx: click.Context, config: str | None) -> None:
    """maildesk: an email-driven help desk.

    Customers write to the support address, agents answer from their mail
    client, and maildesk keeps the tickets. Start with `maildesk init DIR`.

    Exit codes: 0 ok, 1 failed, 2 bad config/rules/templates or usage,
    75 temporary failure (database unavailable; try again).
    """
    ctx.obj = Desk(config)


for command in (
    init,
    check,
    db,
    tickets,
    rules,
    run,
    sla,
    report,
    kb,
    ingest,
    import_archive,
    quarantine,
    outbox,
    agents,
):
    cli.add_command(command)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; user mistakes and outages become one line and an exit code."""
    try:
        # Without standalone mode click returns ctx.exit()'s code instead of exiting.
        code = cli.main(args=argv, prog_name="maildesk", standalone_mode=False)
    except UserError as exc:
        for problem in exc.problems:
            output.error(str(problem))
        return output.USER_ERROR
    except (TryLater, OperationalError) as exc:
        output.error(f"{output.database_trouble(exc)} (temporary failure; try again)")
        return output.TEMPFAIL
    except click.exceptions.Abort:
        output.error("aborted")
        return 130
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `maildesk tickets list | head`: the reader left; that is not an error.
        sys.stderr.close()
        return output.OK
    return code if isinstance(code, int) else output.OK


def entry() -> None:
    sys.exit(main())
