"""`maildesk init DIR`: a working desk on a machine with no mail server."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import click

from maildesk.cli import output
from maildesk.config import load_settings
from maildesk.errors import Problem, UserError
from maildesk.starter import CONFIG, UNIT, starter_dir
from maildesk.store.db import make_engine
from maildesk.store.schema import upgrade

SYSTEM_CONFIG = Path("/etc/maildesk")
SYSTEM_STATE = Path("/var/lib/maildesk")


@click.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path), required=False)
@click.option("--force", is_flag=True, help="Overwrite files that already exist.")
@click.option("--no-db", is_flag=True, help="Do not create the SQLite database now.")
@click.option(
    "--system",
    is_flag=True,
    help="A desk for the systemd unit: config in DIRECTORY (default /etc/maildesk), "
    "database and outgoing mail in --state-dir.",
)
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=SYSTEM_STATE,
    show_default=True,
    help="With --system: where the database and the outgoing spool live "
    "(the unit's StateDirectory=).",
)
def init(directory: Path | None, force: bool, no_db: bool, system: bool, state_dir: Path) -> None:
    """Write a starter desk into DIRECTORY.

    It holds maildesk.toml (SQLite next to it, outgoing mail written to
    ./outgoing, an SMTP listener on 127.0.0.1:8025), the shipped rules/ and
    templates/, and a database with the current schema. With --system the
    config, rules and templates go to /etc/maildesk (read-only for the daemon)
    and the database and spool to /var/lib/maildesk, with a systemd unit
    (maildesk.service) for them.
    """
    if directory is None:
        if not system:
            raise click.UsageError("Missing argument 'DIRECTORY' (or use --system).")
        directory = SYSTEM_CONFIG
    config = directory / "maildesk.toml"
    targets = [config, directory / "rules", directory / "templates"]
    existing = [p for p in targets if p.exists()]
    if existing and not force:
        raise UserError(
            [Problem(str(p), "already exists (use --force to overwrite)") for p in existing]
        )
    state = state_dir.absolute() if system else directory
    try:
        directory.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(CONFIG, config)
        if not (directory / "customers.yaml").exists() or force:
            shutil.copyfile(CONFIG.with_name("customers.yaml"), directory / "customers.yaml")
        for name in ("rules", "templates", "kb"):
            shutil.copytree(starter_dir(name), directory / name, dirs_exist_ok=True)
        (state / "outgoing").mkdir(parents=True, exist_ok=True)
    except PermissionError as exc:
        raise UserError([Problem(str(exc.filename), "permission denied (run as root?)")]) from exc
    if system:
        _point_state_at(config, state)
        unit = directory / "maildesk.service"
        unit.write_text(system_unit(config, state), encoding="utf-8")
    settings = load_settings(config)
    if not no_db:
        engine = make_engine(settings.database.url)
        try:
            upgrade(engine)
        finally:
            engine.dispose()
    output.say(f"Wrote a starter desk to {directory}/")
    if no_db:
        output.say(f"No database yet: create it with  maildesk -c {config} db upgrade")
    if system:
        output.say(
            f"Database and outgoing mail: {state}/\n"
            "Next: edit the config (at least helpdesk.address), then\n"
            "  useradd --system --home-dir /var/lib/maildesk maildesk\n"
            f"  cp {directory / 'maildesk.service'} /etc/systemd/system/\n"
            "  systemctl daemon-reload\n"
            f"  maildesk -c {config} check && systemctl enable --now maildesk"
        )
        return
    output.say(
        f"Next: edit {config} (at least helpdesk.address), then\n"
        f"  maildesk -c {config} check\n"
        f"  maildesk -c {config} run"
    )


def _point_state_at(config: Path, state: Path) -> None:
    """The starter's relative database and spool, made absolute under ``state``:
    relative paths are relative to the config's folder, read-only under systemd."""
    text = config.read_text(encoding="utf-8")
    text = text.replace(
        'url = "sqlite:///maildesk.db"', f'url = "sqlite:///{state / "maildesk.db"}"'
    )
    text = text.replace('spool_dir = "outgoing"', f'spool_dir = "{state / "outgoing"}"')
    config.write_text(text, encoding="utf-8")


def system_unit(config: Path, state: Path) -> str:
    """The shipped unit, for this maildesk executable, config and state folder."""
    text = UNIT.read_text(encoding="utf-8")
    beside = Path(sys.executable).parent / "maildesk"  # the venv or pipx this runs from
    executable = str(beside) if beside.is_file() else shutil.which("maildesk") or "maildesk"
    text = text.replace("/opt/maildesk/.venv/bin/maildesk", executable)
    text = text.replace("/etc/maildesk/maildesk.toml", str(config.absolute()))
    text = text.replace("ReadOnlyPaths=/etc/maildesk", f"ReadOnlyPaths={config.parent.absolute()}")
    text = text.replace(
        "EnvironmentFile=-/etc/maildesk/", f"EnvironmentFile=-{config.parent.absolute()}/"
    )
    if state.parent != SYSTEM_STATE.parent:  # not under /var/lib: no StateDirectory=
        text = text.replace("StateDirectory=maildesk", f"ReadWritePaths={state}")
        text = text.replace("StateDirectoryMode=0750\n", "")
    else:
        text = text.replace("StateDirectory=maildesk", f"StateDirectory={state.name}")
    return text.replace("WorkingDirectory=/var/lib/maildesk", f"WorkingDirectory={state}")
