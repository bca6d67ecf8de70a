"""The declarative base: naming, UTC time, the shared value lists."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    DateTime,
    MetaData,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase

DIRECTIONS = ("in", "out")
MESSAGE_KINDS = ("mail", "auto", "bounce")
OUTBOX_STATES = ("pending", "sent", "failed")
QUARANTINE_STATES = ("held", "released", "deleted", "rejected")
QUARANTINE_KINDS = ("quarantined", "held", "status")  # status: a handled status request

# Named constraints, so that migrations can address them on every database.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps are stored in UTC and always come back timezone-aware.

    SQLite has no time zones; without this a naive datetime read back from
    SQLite would compare wrongly with an aware one from PostgreSQL.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use an aware UTC time")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        """One step per value, not three (a report reads a year of timestamps): SQLite's
        text straight to an aware datetime; PostgreSQL's as they come when the session
        is in UTC (store/db.py asks for it)."""
        if dialect.name == "sqlite":
            parse = datetime.fromisoformat

            def from_text(value: str | None) -> datetime | None:
                if value is None:
                    return None
                if value[-6:-5] in ("+", "-") and value[-3:-2] == ":":  # with an offset
                    return parse(value).astimezone(UTC)
                return parse(value + "+00:00")  # one C call: replace(tzinfo=) costs 7x

            return from_text
        if dialect.name == "postgresql":

            def in_utc(value: datetime | None) -> datetime | None:
                if value is None or value.tzinfo is UTC:
                    return value
                return self.process_result_value(value, dialect)

            return in_utc
        return super().result_processor(dialect, coltype)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime,
        dict[str, Any]: JSON,
        list[str]: JSON,
    }
