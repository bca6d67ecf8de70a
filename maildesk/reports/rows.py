"""The period's tickets and surveys as light rows: only the columns reports read.

A year of tickets is read as tuples, not ORM objects: no identity map, no
relationship loading, one query. Durations come as the ticket stored them
when its timers settled (sla/durations.py); a ticket settled before that
was stored has them counted here from its timestamps.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from sys import intern
from typing import Any, NamedTuple, TypeVarTuple

from sqlalchemy import ColumnElement, Result, Select, func, select, true
from sqlalchemy.orm import Session

from maildesk.config.model import Settings
from maildesk.kb.terms import problem_key
from maildesk.sla import durations
from maildesk.sla.calendar import BusinessCalendar
from maildesk.sla.timers import clock_of
from maildesk.store.models import Survey, Ticket


class TicketRow(NamedTuple):
    id: int
    subject: str
    status: str
    first_tier: str | None
    tier: str | None
    assignee: str | None
    sla_policy: str | None
    created_at: datetime
    first_response_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    first_response_due: datetime | None
    resolution_due: datetime | None
    resolution: str | None
    problem_key: str | None
    first_response_minutes: float | None
    resolution_minutes: float | None
    first_responder: str | None

    @property
    def report_tier(self) -> str:
        """The tier the rules gave it: a breach stays with that tier."""
        return self.first_tier or self.tier or "-"


Columns = TypeVarTuple("Columns")
STREAM = 5000  # rows fetched at a time: a year of tickets never sits in the driver twice

COLUMNS = tuple(getattr(Ticket, name) for name in TicketRow._fields)


class SurveyRow(NamedTuple):
    ticket_id: int
    sent_at: datetime | None
    score: int | None
    answered_at: datetime | None


def fetch(session: Session, query: Select[*Columns]) -> Result[*Columns]:
    """Rows as they are, without ORM loading. SQLite's are read in batches; PostgreSQL
    sends them all at once, as a server-side cursor's round trips would cost more than
    the rows (a year of tickets is some tens of MB of them)."""
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        query = query.execution_options(yield_per=STREAM)
    return connection.execute(query)


def tickets(
    session: Session,
    settings: Settings,
    calendar: BusinessCalendar,
    since: datetime,
    until: datetime,
    *,
    where: ColumnElement[bool] | None = None,
) -> list[TicketRow]:
    """Tickets that arrived in [since, until) (and match ``where``), oldest first, their
    durations counted."""
    query = select(*COLUMNS).where(Ticket.created_at >= since, Ticket.created_at < until)
    if where is not None:
        query = query.where(where)
    query = query.order_by(Ticket.created_at, Ticket.id)
    result = fetch(session, query)
    return [_complete(_light(r), settings, calendar) for r in result]


# The columns whose few values repeat on every row: one string each, not one per row
# (a year of tickets holds a third less).
_REPEATED = tuple(
    TicketRow._fields.index(name)
    for name in (
        "status",
        "first_tier",
        "tier",
        "assignee",
        "sla_policy",
        "resolution",
        "first_responder",
    )
)


def _light(values: Sequence[Any]) -> TicketRow:
    row = list(values)
    for index in _REPEATED:
        if row[index] is not None:
            row[index] = intern(row[index])
    return TicketRow(*row)


def _complete(row: TicketRow, settings: Settings, calendar: BusinessCalendar) -> TicketRow:
    """Count what an older ticket did not store."""
    first, resolution, key = row.first_response_minutes, row.resolution_minutes, row.problem_key
    done = row.resolved_at or row.closed_at
    missing = (first is None and row.first_response_at is not None) or (
        resolution is None and done is not None
    )
    if not missing and key is not None:
        return row
    if missing:
        policy = settings.sla_policy(row.sla_policy) if row.sla_policy else None
        clock = clock_of(policy, calendar)
        if first is None and row.first_response_at is not None:
            first = durations.minutes(clock, row.created_at, row.first_response_at)
        if resolution is None and done is not None:
            resolution = durations.minutes(clock, row.created_at, done)
    return row._replace(
        first_response_minutes=first,
        resolution_minutes=resolution,
        problem_key=key if key is not None else problem_key(row.subject) or "",
    )


def top_tags(
    session: Session, since: datetime, until: datetime, limit: int
) -> list[tuple[str, int]]:
    """The most used tags of the tickets that arrived in [since, until), counted by the
    database from the JSON lists (json_each on SQLite, json_array_elements_text on
    PostgreSQL)."""
    if session.get_bind().dialect.name == "postgresql":
        # A set of text: its one column is named by the alias, AS t(value).
        tag = func.json_array_elements_text(Ticket.tags).table_valued("value").render_derived()
    else:
        tag = func.json_each(Ticket.tags).table_valued("value")
    n = func.count().label("n")
    query = (
        select(tag.c.value, n)
        .select_from(Ticket)
        .join(tag, true())
        .where(Ticket.created_at >= since, Ticket.created_at < until)
        .group_by(tag.c.value)
        .order_by(n.desc(), tag.c.value)
        .limit(limit)
    )
    return [(str(value), int(count)) for value, count in session.connection().execute(query)]


def surveys(session: Session, since: datetime, until: datetime) -> list[SurveyRow]:
    """The surveys of the tickets that arrived in [since, until)."""
    query = (
        select(Survey.ticket_id, Survey.sent_at, Survey.score, Survey.answered_at)
        .join(Ticket, Ticket.id == Survey.ticket_id)
        .where(Ticket.created_at >= since, Ticket.created_at < until)
    )
    return [SurveyRow(*r) for r in fetch(session, query)]
