"""Entry point: global options, command registration, and errors to exit codes."""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading

import click
from sqlalchemy.exc import OperationalError

from maildesk import __version__
from maildesk.cli import output
from maildesk.cli.context import Desk, close_engines
from maildesk.cli.lazy import LazyGroup
from maildesk.errors import TryLater, UserError

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


# name -> (module, function, its one-line help): a command's module, and all it imports,
# loads only when that command runs; `maildesk --help` lists them from here.
COMMANDS = {
    "agents": ("agents", "agents", "The tiers' agents: at work, away, open tickets."),
    "check": ("check", "check", "Check the config, rules and templates; exit 2 on any problem."),
    "db": ("db", "db", "Database schema commands."),
    "import": (
        "ingest",
        "import_archive",
        "Import an mbox file or a Maildir folder as history; threads as live mail would.",
    ),
    "ingest": (
        "ingest",
        "ingest",
        "Store one message from FILE or standard input (for MTA pipes).",
    ),
    "init": ("init", "init", "Write a starter desk into DIRECTORY."),
    "kb": ("kb", "kb", "Knowledge-base articles suggested in acknowledgements."),
    "outbox": ("outbox", "outbox", "Outgoing mail: what waits, what failed."),
    "quarantine": (
        "quarantine",
        "quarantine",
        "List, show and retry quarantined mail; admit or reject held mail.",
    ),
    "report": (
        "report",
        "report",
        "The support report for tickets opened in the period: tiles against the period "
        "before, tickets per day by tier, first response against the SLA target, SLA "
        "compliance, agents, backlog by age, satisfaction, self-service, tags, frequent "
        "and rising problems, the busiest hours.",
    ),
    "rules": ("rules", "rules", "Check routing rules and try them on a message."),
    "run": ("run", "run", "Run the help desk until SIGTERM or Ctrl-C."),
    "sla": ("sla", "sla", "SLA reports."),
    "tickets": ("tickets", "tickets", "List and inspect tickets."),
}


@click.group(cls=LazyGroup, commands_from=COMMANDS, context_settings=CONTEXT)
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
    code = main()
    if threading.active_count() > 1:  # a thread still at work: the usual exit waits for it
        sys.exit(code)
    finish()
    # The interpreter's own teardown would free every object one by one: 0.1 s after
    # an import of 1,000 mails, with nothing left to write.
    os._exit(code)


def finish() -> None:
    """What the usual exit does that matters, done here: databases closed (SQLite folds
    its log into the file), exit handlers run (logging flushes), output flushed."""
    close_engines()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # closed, or its reader left
            stream.flush()
