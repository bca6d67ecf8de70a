"""Engines and sessions: the one place that knows SQLite from PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from maildesk.errors import TryLater
from maildesk.store.turns import Turns


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine with the settings maildesk relies on.

    SQLite: WAL (readers do not block the writer), foreign keys enforced,
    a busy timeout so that the CLI and the daemon can share the file, and
    within the process, units of work that take turns (turns.py).
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            kwargs.setdefault("poolclass", StaticPool)
        # A file: SQLAlchemy's QueuePool keeps connections open between transactions.
        # Opening one per transaction (NullPool) costs a WAL checkpoint on every close.
        kwargs.setdefault("connect_args", {"timeout": 30})
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        _turns[engine] = Turns()
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    if (
        parsed.get_backend_name() == "postgresql"
        and parsed.get_driver_name() == "psycopg"
        and "options" not in parsed.query  # the admin's own options win
    ):
        # Timestamps come back in UTC, as maildesk compares them (models/base.py).
        kwargs.setdefault("connect_args", {"options": "-c TimeZone=UTC"})
    return create_engine(url, **kwargs)


# SQLite engines of this process, each with its queue of writers (see turns.py).
_turns: WeakKeyDictionary[Engine, Turns] = WeakKeyDictionary()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
    finally:
        cursor.close()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error.

    A database that cannot be reached becomes ``TryLater`` so that sources
    answer 4xx / exit 75 instead of losing the message.
    """
    bind = factory.kw.get("bind")
    turns = _turns.get(bind) if isinstance(bind, Engine) else None
    try:
        with turns.turn() if turns else nullcontext(), factory.begin() as session:
            yield session
    except OperationalError as exc:
        raise TryLater(f"database unavailable: {exc.orig}") from exc


@contextmanager
def rolled_back(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A dry run: do everything, keep nothing."""
    session = factory()
    try:
        yield session
    finally:
        session.rollback()
        session.close()


def flushed(session: Session) -> Connection:
    """The session's connection for a plain SELECT past the ORM's loading, after the
    session's pending changes went in, as autoflush would have sent them."""
    session.flush()
    return session.connection()
