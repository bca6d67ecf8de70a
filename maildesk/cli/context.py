"""What every command needs: the config file, the settings, the database."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from maildesk.config import Settings, config_path, load_settings
from maildesk.errors import Problem, UserError
from maildesk.store.db import make_engine, session_factory
from maildesk.store.schema import require_current

if TYPE_CHECKING:
    from maildesk.intake import Intake


@dataclass
class Desk:
    """Loaded on first use, so that `maildesk init` and `--help` need no config."""

    given: str | None
    _settings: Settings | None = None
    _engine: Engine | None = field(default=None, repr=False)

    @property
    def path(self) -> Path:
        return config_path(self.given)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.path)
        return self._settings

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self.settings.database.url)
            _opened.append(self._engine)
        return self._engine

    def sessions(self, *, check_schema: bool = True) -> sessionmaker[Session]:
        if check_schema:
            require_current(self.engine, str(self.path))
        return session_factory(self.engine)

    def pipeline(self) -> Intake:
        from maildesk.intake import Intake  # the pipeline loads when a command needs it

        return Intake(self.settings, self.sessions())


pass_desk = click.make_pass_decorator(Desk)
_opened: list[Engine] = []  # the commands' engines, closed by close_engines


def close_engines() -> None:
    """Close the connections the commands opened (cli.main.finish, at exit)."""
    while _opened:
        _opened.pop().dispose()


def parse_moment(text: str | None, option: str) -> datetime:
    """An ISO 8601 moment from the command line; without an offset it is UTC."""
    if text is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UserError(
            [Problem(option, f"expected a time like 2026-11-23T10:00+01:00, got {text!r}")]
        ) from None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_day(text: str, option: str) -> date:
    """A YYYY-MM-DD day from the command line."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UserError(
            [Problem(option, f"expected a day like 2026-11-01, got {text!r}")]
        ) from None
