"""Schema versions: create or upgrade with Alembic, and refuse to run on an old one.

Alembic is imported only to change a schema: every command checks the version
first, and reading one row needs no migration machinery (150 ms of imports
at each start).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text

from maildesk.errors import UserError
from maildesk.store.models import Base

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
# The newest migration in migrations/versions (a test holds the two together).
HEAD = "0011"


def alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    return HEAD


def migrations_head() -> str | None:
    """What Alembic reads as the head from the migration files."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        found = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        return str(found) if found is not None else None


def upgrade(
    engine: Engine, revision: str = "head", *, replay: bool = False
) -> tuple[str | None, str]:
    """Bring the schema to ``revision``; returns (before, after).

    An empty database gets the head schema at once, from the models, and is stamped
    with the head revision: the same tables the migrations build (a test holds the
    two together), in one step instead of one per migration. ``replay`` runs every
    migration instead, as an old desk's upgrade does."""
    from alembic import command

    before = current_revision(engine)
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        if not replay and revision == "head" and not inspect(connection).get_table_names():
            Base.metadata.create_all(connection)
            command.stamp(config, "head")
        else:
            command.upgrade(config, revision)
    return before, current_revision(engine) or ""


def require_current(engine: Engine, config_file: str) -> None:
    """Stop with a clear instruction when the schema is missing or old."""
    current, head = current_revision(engine), head_revision()
    if current == head:
        return
    fix = f"run `maildesk -c {config_file} db upgrade`"
    if current is None:
        raise UserError(f"database has no maildesk schema yet: {fix}")
    from alembic.script import ScriptDirectory

    known = {s.revision for s in ScriptDirectory.from_config(alembic_config()).walk_revisions()}
    if current not in known:
        raise UserError(
            f"database schema {current} is newer than this maildesk ({head}): upgrade maildesk"
        )
    raise UserError(f"database schema is at {current}, this maildesk needs {head}: {fix}")
