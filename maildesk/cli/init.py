"""`maildesk init DIR`: a working desk on a machine with no mail server."""

from __future__ import annotations

import shutil
from pathlib import Path

import click

from maildesk.cli import output
from maildesk.config import load_settings
from maildesk.errors import Problem, UserError
from maildesk.starter import CONFIG, starter_dir
from maildesk.store.db import make_engine
from maildesk.store.schema import upgrade


@click.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite files that already exist.")
@click.option("--no-db", is_flag=True, help="Do not create the SQLite database now.")
def init(directory: Path, force: bool, no_db: bool) -> None:
    """Write a starter desk into DIRECTORY.

    It holds maildesk.toml (SQLite next to it, outgoing mail written to
    ./outgoing, an SMTP listener on 127.0.0.1:8025), the shipped rules/ and
    templates/, and a database with the current schema.
    """
    config = directory / "maildesk.toml"
    targets = [config, directory / "rules", directory / "templates"]
    existing = [p for p in targets if p.exists()]
    if existing and not force:
        raise UserError(
            [Problem(str(p), "already exists (use --force to overwrite)") for p in existing]
        )
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(CONFIG, config)
    if not (directory / "customers.yaml").exists() or force:
        shutil.copyfile(CONFIG.with_name("customers.yaml"), directory / "customers.yaml")
    for name in ("rules", "templates", "kb"):
        shutil.copytree(starter_dir(name), directory / name, dirs_exist_ok=True)
    (directory / "outgoing").mkdir(exist_ok=True)
    settings = load_settings(config)
    if not no_db:
        engine = make_engine(settings.database.url)
        try:
            upgrade(engine)
        finally:
            engine.dispose()
    output.say(f"Wrote a starter desk to {directory}/")
    output.say(
        f"Next: edit {config} (at least helpdesk.address), then\n"
        f"  maildesk -c {config} check\n"
        f"  maildesk -c {config} run"
    )
