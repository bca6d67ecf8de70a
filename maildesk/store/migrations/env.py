"""Alembic environment: maildesk passes its own connection; no alembic.ini needed."""

from __future__ import annotations

from typing import Any, Literal

from alembic import context

from maildesk.store.models import Base, UTCDateTime

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `maildesk db upgrade`")


def render_item(kind: str, obj: Any, _context: Any) -> str | Literal[False]:
    """Migrations spell out plain SQL types, so they never import today's models."""
    if kind == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    # SQLite cannot ALTER most things; batch mode rebuilds tables instead.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    render_item=render_item,
)
with context.begin_transaction():
    context.run_migrations()
