"""What is open now, per tier: how old it is, and the oldest tickets by name.

Counted in the database (one grouped query), whatever the period: the
backlog is today's, under the tier each ticket is in now. A ticket merged
into another is not open work.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from maildesk.store.models import Ticket

OPEN = ("new", "open", "pending")
# (upper bound of age, label): the first bucket a ticket's age fits.
AGES = (
    (timedelta(days=1), "< 1 day"),
    (timedelta(days=3), "1–3 days"),
    (timedelta(days=7), "3–7 days"),
    (timedelta(days=28), "1–4 weeks"),
    (None, "> 4 weeks"),
)
OLDEST = 5


def backlog(session: Session, now: datetime) -> list[dict[str, Any]]:
    """Per tier, sorted: open tickets by age bucket, and the oldest few."""
    tier = func.coalesce(Ticket.tier, "-")
    bucket = case(
        *[
            (Ticket.created_at > now - limit, index)
            for index, (limit, _) in enumerate(AGES)
            if limit is not None
        ],
        else_=len(AGES) - 1,
    )
    is_open = (
        Ticket.status.in_(OPEN),
        Ticket.merged_into.is_(None),
        Ticket.created_at <= now,
    )
    counts: dict[str, list[int]] = {}
    for name, index, n in session.execute(
        select(tier, bucket, func.count()).where(*is_open).group_by(tier, bucket)
    ):
        counts.setdefault(name, [0] * len(AGES))[index] += n
    rows = []
    for name in sorted(counts):
        oldest = session.execute(
            select(Ticket.id, Ticket.subject, Ticket.status, Ticket.assignee, Ticket.created_at)
            .where(*is_open, tier == name)
            .order_by(Ticket.created_at, Ticket.id)
            .limit(OLDEST)
        )
        rows.append(
            {
                "tier": name,
                "open": sum(counts[name]),
                "ages": [
                    {"age": label, "tickets": n}
                    for (_, label), n in zip(AGES, counts[name], strict=True)
                ],
                "oldest": [
                    {
                        "ticket": number,
                        "subject": subject,
                        "status": status,
                        "assignee": assignee,
                        "opened": created.isoformat(),
                        "age_days": round((now - created).total_seconds() / 86400, 1),
                    }
                    for number, subject, status, assignee, created in oldest
                ],
            }
        )
    return rows
