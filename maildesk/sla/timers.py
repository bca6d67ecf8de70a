"""SLA timers: rows with a due time, written when a ticket gets its policy.

The scheduler (next step) claims due rows with row locks; here they are
planned and cancelled as the ticket moves. Deadlines count business time
unless the policy is 24/7.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from maildesk.config.model import SlaPolicy
from maildesk.config.semantics import parse_duration
from maildesk.sla.calendar import AlwaysOpen, BusinessCalendar
from maildesk.store.models import SlaTimer, Ticket

TARGETS = ("first_response", "resolution")


def plan(
    session: Session,
    ticket: Ticket,
    policy: SlaPolicy,
    calendar: BusinessCalendar,
    reminders: Sequence[float],
    start: datetime,
) -> list[SlaTimer]:
    """Timers for the ticket's first response and resolution, from ``start``."""
    clock: BusinessCalendar | AlwaysOpen = AlwaysOpen() if policy.hours == "24/7" else calendar
    made: list[SlaTimer] = []
    for target in TARGETS:
        text = getattr(policy, target)
        duration = parse_duration(text) if text else None
        if duration is None:
            continue
        deadline = clock.add(start, duration)
        setattr(ticket, f"{target}_due", deadline)
        for fraction in sorted(reminders):
            made.append(
                SlaTimer(
                    ticket_id=ticket.id,
                    target=target,
                    kind="reminder",
                    fraction=fraction,
                    due_at=clock.add(start, duration * fraction),
                    created_at=start,
                )
            )
        made.append(
            SlaTimer(
                ticket_id=ticket.id,
                target=target,
                kind="breach",
                fraction=1.0,
                due_at=deadline,
                created_at=start,
            )
        )
    session.add_all(made)
    return made


def cancel(session: Session, ticket_id: int, targets: Sequence[str], now: datetime) -> int:
    """The promise was kept (or no longer applies): its pending timers will not fire."""
    result = session.execute(
        update(SlaTimer)
        .where(
            SlaTimer.ticket_id == ticket_id,
            SlaTimer.target.in_(list(targets)),
            SlaTimer.state == "pending",
        )
        .values(state="cancelled", done_at=now)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def pending(session: Session, ticket_id: int) -> list[SlaTimer]:
    return list(
        session.scalars(
            select(SlaTimer)
            .where(SlaTimer.ticket_id == ticket_id, SlaTimer.state == "pending")
            .order_by(SlaTimer.due_at)
        )
    )
