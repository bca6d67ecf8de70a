"""Per agent, for the tickets that arrived in the period: what each one did and how well.

Who did what comes from the audit log; how long it took, from the
durations the tickets stored as their timers settled. The choices:

- handled: tickets the agent answered, broadcast to, or changed the status of;
- first responses: tickets whose first answer was theirs, with the median and
  p90 (nearest rank) of those answers' business time;
- resolved: tickets now resolved or closed whose last resolution was theirs,
  with the median and p90 of their business time from arrival;
- reopen rate: of every time the agent resolved or closed a ticket, the share
  that a later status change opened again (a customer's reply, a command);
- satisfaction: the answered surveys of the tickets they resolved;
- SLA breaches: targets missed. A late first answer counts against whoever
  gave it, a late resolution against whoever resolved; a target that passed
  with nothing done counts against the assignee, if any.

Agents are the desk's configured agents and leads, and whoever answered a
ticket (only agents can); a customer's or the desk's own status changes
(self-service, no reply while pending) count for nobody.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from sys import intern
from typing import Any, NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from maildesk.config.model import Settings
from maildesk.mail import DONE
from maildesk.reports.rows import SurveyRow, TicketRow, fetch
from maildesk.reports.stats import median, p90
from maildesk.store.models import Event, Ticket

ANSWERS = ("replied", "broadcast")
WORK = (*ANSWERS, "status")


class Change(NamedTuple):
    ticket_id: int
    actor: str
    before: str | None  # a status change's from and to
    after: str | None


@dataclass
class Work:
    """Counted by the database: per actor, the tickets they answered or changed the
    status of; who answered at all. Read as rows: every status change, in order."""

    handled: dict[str, int]
    answerers: set[str]
    changes: list[Change]


@dataclass
class Tally:
    handled: int = 0
    first_minutes: list[float] = field(default_factory=list)
    resolved_minutes: list[float] = field(default_factory=list)
    resolutions: int = 0
    reopened: int = 0
    scores: list[int] = field(default_factory=list)
    breaches: int = 0


def work(session: Session, since: datetime, until: datetime) -> Work:
    """The period's tickets' answers and status changes, from the audit log."""
    period = (Ticket.created_at >= since, Ticket.created_at < until)
    of_period = (
        select(Event.actor, func.count(func.distinct(Event.ticket_id)))
        .join(Ticket, Ticket.id == Event.ticket_id)
        .group_by(Event.actor)
    )
    handled = session.execute(of_period.where(*period, Event.kind.in_(WORK)))
    answered = session.execute(of_period.where(*period, Event.kind.in_(ANSWERS)))
    changes = (
        select(
            Event.ticket_id,
            Event.actor,
            Event.detail["from"].as_string(),
            Event.detail["to"].as_string(),
        )
        .join(Ticket, Ticket.id == Event.ticket_id)
        .where(*period, Event.kind == "status")
        .order_by(Event.ticket_id, Event.at, Event.id)
    )
    return Work(
        {actor: int(n) for actor, n in handled},
        {actor for actor, _ in answered},
        [
            Change(number, intern(actor), _once(before), _once(after))
            for number, actor, before, after in fetch(session, changes)
            if number is not None
        ],
    )


def _once(status: str | None) -> str | None:
    return None if status is None else intern(status)


def agents_of(settings: Settings, answerers: Iterable[str]) -> frozenset[str]:
    return settings.agent_addresses | frozenset(answerers)


def figures(
    settings: Settings,
    tickets: Sequence[TicketRow],
    done_work: Work,
    surveys: Sequence[SurveyRow],
    now: datetime,
) -> list[dict[str, Any]]:
    """One row per agent who did anything in the period, busiest first."""
    agents = agents_of(settings, done_work.answerers)
    tally: dict[str, Tally] = defaultdict(Tally)
    for actor, n in done_work.handled.items():
        if actor in agents:
            tally[actor].handled = n
    resolver: dict[int, str] = {}  # ticket -> who resolved it last
    last_resolution: dict[int, str] = {}  # ticket -> the resolution a reopen would undo
    for e in done_work.changes:
        if e.after in DONE and e.before not in DONE:
            if e.actor in agents:
                tally[e.actor].resolutions += 1
                resolver[e.ticket_id] = last_resolution[e.ticket_id] = e.actor
            else:
                resolver.pop(e.ticket_id, None)
                last_resolution.pop(e.ticket_id, None)
        elif e.before in DONE and e.after not in DONE:
            undone = last_resolution.pop(e.ticket_id, None)
            if undone is not None:
                tally[undone].reopened += 1
            resolver.pop(e.ticket_id, None)
    for t in tickets:
        done = t.resolved_at or t.closed_at
        by = resolver.get(t.id) if t.status in DONE else None
        if t.first_responder in agents and t.first_response_minutes is not None:
            tally[t.first_responder].first_minutes.append(t.first_response_minutes)
        if by is not None and t.resolution_minutes is not None:
            tally[by].resolved_minutes.append(t.resolution_minutes)
        for who in _breached_by(t, by, done, agents, now):
            tally[who].breaches += 1
    for s in surveys:
        by = resolver.get(s.ticket_id)
        if by is not None and s.score is not None and s.answered_at is not None:
            tally[by].scores.append(s.score)
    rows = [_row(agent, t) for agent, t in tally.items()]
    return sorted(rows, key=lambda r: (-r["handled"], r["agent"]))


def _breached_by(
    t: TicketRow, by: str | None, done: datetime | None, agents: frozenset[str], now: datetime
) -> list[str]:
    blamed: list[str] = []
    due, answered = t.first_response_due, t.first_response_at
    waived = answered is None and done is not None and due is not None and done <= due
    if due is not None and not waived:
        if answered is not None and answered > due:
            blamed.append(t.first_responder or "")
        elif answered is None and now > due:
            blamed.append(t.assignee or "")
    due = t.resolution_due
    if due is not None:
        if done is not None and done > due:
            blamed.append(by or t.assignee or "")
        elif done is None and now > due:
            blamed.append(t.assignee or "")
    return [who for who in blamed if who in agents]


def _row(agent: str, t: Tally) -> dict[str, Any]:
    return {
        "agent": agent,
        "handled": t.handled,
        "first_responses": len(t.first_minutes),
        "first_response_median_minutes": median(t.first_minutes),
        "first_response_p90_minutes": p90(t.first_minutes),
        "resolved": len(t.resolved_minutes),
        "resolution_median_minutes": median(t.resolved_minutes),
        "resolution_p90_minutes": p90(t.resolved_minutes),
        "resolutions": t.resolutions,
        "reopened": t.reopened,
        "reopen_rate_percent": round(100 * t.reopened / t.resolutions, 1)
        if t.resolutions
        else None,
        "satisfaction_answers": len(t.scores),
        "satisfaction_average": round(sum(t.scores) / len(t.scores), 2) if t.scores else None,
        "sla_breaches": t.breaches,
    }
