"""The period before, summed up by the database: what the tiles and rising problems
compare with, without reading that period's tickets as rows.

The same counts as trends.summary and sla/report.py make from rows (a test
holds the two together): in time is counted as sla/report.py counts it,
medians are taken of the stored minutes. Tickets settled before durations
were stored, or opened before problem keys were, are read as rows and
counted here from their timestamps and subjects.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from maildesk.config.model import Settings
from maildesk.kb.terms import problem_key
from maildesk.reports import rows
from maildesk.reports.stats import median
from maildesk.sla.calendar import BusinessCalendar
from maildesk.sla.report import percent
from maildesk.store.models import Survey, Ticket


def summary(
    session: Session,
    settings: Settings,
    calendar: BusinessCalendar,
    since: datetime,
    until: datetime,
    now: datetime,
) -> dict[str, float | None]:
    """The tiles' values for the tickets that arrived in [since, until)."""
    period = (Ticket.created_at >= since, Ticket.created_at < until)
    due, answered = Ticket.first_response_due, Ticket.first_response_at
    done = func.coalesce(Ticket.resolved_at, Ticket.closed_at)
    waived = and_(answered.is_(None), done.is_not(None), due.is_not(None), done <= due)
    known = and_(due.is_not(None), ~waived, or_(answered.is_not(None), due < now))
    met = and_(known, answered.is_not(None), answered <= due)
    tickets, served, first_known, first_met = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(case((Ticket.resolution == "self_served", 1), else_=0)), 0),
            func.coalesce(func.sum(case((known, 1), else_=0)), 0),
            func.coalesce(func.sum(case((met, 1), else_=0)), 0),
        ).where(*period)
    ).one()
    first, resolution = _minutes(session, settings, calendar, since, until)
    average = session.scalar(
        select(func.avg(Survey.score))
        .join(Ticket, Ticket.id == Survey.ticket_id)
        .where(*period, Survey.score.is_not(None), Survey.answered_at.is_not(None))
    )
    return {
        "tickets": int(tickets),
        "self_served_percent": round(100 * int(served) / tickets, 1) if tickets else None,
        "first_response_in_time_percent": percent(int(first_met), int(first_known)),
        "first_response_median_minutes": median(first),
        "resolution_median_minutes": median(resolution),
        "satisfaction_average": round(float(average), 2) if average is not None else None,
    }


def _minutes(
    session: Session,
    settings: Settings,
    calendar: BusinessCalendar,
    since: datetime,
    until: datetime,
) -> tuple[list[float], list[float]]:
    """The stored first-response and resolution minutes (merged tickets' left out), and
    those of older tickets counted from their timestamps."""
    period = (Ticket.created_at >= since, Ticket.created_at < until)
    done = func.coalesce(Ticket.resolved_at, Ticket.closed_at)
    unsettled = or_(
        and_(Ticket.first_response_at.is_not(None), Ticket.first_response_minutes.is_(None)),
        and_(done.is_not(None), Ticket.resolution_minutes.is_(None)),
    )
    first: list[float] = []
    resolution: list[float] = []
    for minutes, resolved, how in rows.fetch(
        session,
        select(Ticket.first_response_minutes, Ticket.resolution_minutes, Ticket.resolution).where(
            *period, ~unsettled
        ),
    ):
        if minutes is not None:
            first.append(minutes)
        if resolved is not None and how != "merged":
            resolution.append(resolved)
    for row in rows.tickets(session, settings, calendar, since, until, where=unsettled):
        if row.first_response_minutes is not None:  # rows.tickets counted it
            first.append(row.first_response_minutes)
        if row.resolution_minutes is not None and row.resolution != "merged":
            resolution.append(row.resolution_minutes)
    return first, resolution


def problem_keys(session: Session, since: datetime, until: datetime) -> Counter[str]:
    """How many tickets of the period share each problem key."""
    period = (Ticket.created_at >= since, Ticket.created_at < until)
    counts: Counter[str] = Counter()
    for key, n in session.execute(
        select(Ticket.problem_key, func.count())
        .where(*period, Ticket.problem_key.is_not(None))
        .group_by(Ticket.problem_key)
    ):
        if key:
            counts[key] += int(n)
    for (subject,) in session.execute(
        select(Ticket.subject).where(*period, Ticket.problem_key.is_(None))
    ):
        key = problem_key(subject)
        if key:
            counts[key] += 1
    return counts
