"""INSERT ... ON CONFLICT for the database in use, its dialect loaded only when used.

Both SQLite and PostgreSQL spell it the same way, through their own insert();
importing sqlalchemy.dialects.postgresql costs a desk on SQLite 36 ms at
every start (its asyncpg module), so it is imported here, on first use.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session


def insert(session: Session, model: type[Any]) -> Any:
    """The dialect's insert(model), which has on_conflict_do_nothing/_do_update."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return postgresql_insert(model)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(model)
