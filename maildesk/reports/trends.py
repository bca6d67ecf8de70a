"""This period against the one before it: the tiles with their change, and the
problems that come back more often than they did.

The previous period is as long as this one and ends where it starts. Every
tile says which way is better, so the page can colour a change as good or
bad, not just up or down.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from maildesk.reports.rows import SurveyRow, TicketRow
from maildesk.reports.stats import change, median
from maildesk.sla import report as sla_report
from maildesk.store.models import Ticket

# key, label, unit, which way is better
TILES = (
    ("tickets", "tickets", "", None),
    ("self_served_percent", "self-served", "%", "up"),
    ("first_response_in_time_percent", "first response in time", "%", "up"),
    ("first_response_median_minutes", "median first response", " min", "down"),
    ("resolution_median_minutes", "median resolution", " min", "down"),
    ("satisfaction_average", "satisfaction", " / 5", "up"),
)
RISING = 5


def summary(
    tickets: Sequence[TicketRow],
    surveys: Sequence[SurveyRow],
    compliance: Sequence[sla_report.Row],
) -> dict[str, float | None]:
    """The tiles' values for one period; ``compliance`` is sla_report.build's."""
    total = next((r for r in compliance if r.tier == "all"), None)
    served = sum(t.resolution == "self_served" for t in tickets)
    scores = [s.score for s in surveys if s.score is not None and s.answered_at is not None]
    return {
        "tickets": len(tickets),
        "self_served_percent": round(100 * served / len(tickets), 1) if tickets else None,
        "first_response_in_time_percent": total.first_compliance if total else None,
        "first_response_median_minutes": median(
            [t.first_response_minutes for t in tickets if t.first_response_minutes is not None]
        ),
        "resolution_median_minutes": median(
            [
                t.resolution_minutes
                for t in tickets
                if t.resolution_minutes is not None and t.resolution != "merged"
            ]
        ),
        "satisfaction_average": round(sum(scores) / len(scores), 2) if scores else None,
    }


def tiles(now: dict[str, float | None], before: dict[str, float | None]) -> list[dict[str, Any]]:
    return [
        {
            "key": key,
            "label": label,
            "unit": unit,
            "value": now[key],
            "previous": before[key],
            "change": change(now[key], before[key]),
            "better": better,
        }
        for key, label, unit, better in TILES
    ]


def wordings(tickets: Sequence[TicketRow]) -> dict[str, Counter[str]]:
    """Per problem key (a subject's stemmed words), how often each wording came: one
    count for the frequent and the rising problems."""
    groups: dict[str, Counter[str]] = defaultdict(Counter)
    for t in tickets:
        if t.problem_key:
            groups[t.problem_key][t.subject.strip()] += 1
    return groups


def rising(
    session: Session, wording: dict[str, Counter[str]], before: Counter[str]
) -> list[dict[str, Any]]:
    """Problems seen at least twice now (``wording``, from wordings()) and more often
    than ``before`` (the earlier period's count per problem key), the steepest first;
    with the known problem ticket (#problem) for that subject, if there is one."""
    now = {k: sum(c.values()) for k, c in wording.items()}
    keys = [k for k, n in now.items() if n >= 2 and n > before[k]]
    keys.sort(key=lambda k: (-(now[k] - before[k]), -now[k], k))
    keys = keys[:RISING]
    known: dict[str, int] = {}
    if keys:
        for key, number in session.execute(
            select(Ticket.problem_key, Ticket.id)
            .where(Ticket.problem.is_(True), Ticket.problem_key.in_(keys))
            .order_by(Ticket.id)
        ):
            if key is not None:
                known.setdefault(key, number)
    return [
        {
            "subject": wording[k].most_common(1)[0][0],
            "tickets": now[k],
            "previous": before[k],
            "change": now[k] - before[k],
            "problem": known.get(k),
        }
        for k in keys
    ]
