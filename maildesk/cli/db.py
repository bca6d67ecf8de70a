"""`maildesk db`: create, upgrade and inspect the database schema."""

from __future__ import annotations

import click

from maildesk.cli import output
from maildesk.cli.context import Desk, pass_desk
from maildesk.store.schema import current_revision, head_revision, upgrade


@click.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
@pass_desk
def db_upgrade(desk: Desk) -> None:
    """Create the schema, or upgrade it to this maildesk's version."""
    before, after = upgrade(desk.engine)
    if before == after:
        output.say(f"database schema is up to date ({after})")
    else:
        output.say(f"database schema upgraded from {before or 'nothing'} to {after}")


@db.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@pass_desk
@click.pass_context
def db_status(ctx: click.Context, desk: Desk, as_json: bool) -> None:
    """Show the schema version; exit 1 if `db upgrade` is needed."""
    current, head = current_revision(desk.engine), head_revision()
    if as_json:
        output.print_json({"current": current, "head": head, "up_to_date": current == head})
    elif current == head:
        output.say(f"up to date ({head})")
    else:
        output.say(f"schema {current or 'missing'}, needs {head}: run `maildesk db upgrade`")
    if current != head:
        ctx.exit(output.FAILED)
