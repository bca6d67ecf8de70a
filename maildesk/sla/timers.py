"""SLA timers: rows with a due time, written and moved as the ticket moves.

A target (first response, next response, resolution) is a deadline plus
reminders at fractions of it, each a row the scheduler (scheduler.py) claims
when due. Deadlines count business time unless the policy is 24/7. While a
ticket waits for its customer (``pending``) its timers are paused; when the
customer answers, each is moved on by the business time it had left.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from maildesk.config.model import Settings, SlaPolicy
from maildesk.config.semantics import parse_duration
from maildesk.sla import durations
from maildesk.sla.calendar import AlwaysOpen, BusinessCalendar
from maildesk.store.models import SlaTimer, Ticket

TARGETS = ("first_response", "resolution")
ALL_TARGETS = ("first_response", "next_response", "resolution")
WAITING = "waiting"  # pending on the customer: a reminder, then the ticket is resolved
Clock = BusinessCalendar | AlwaysOpen


def clock_for(policy: SlaPolicy, calendar: BusinessCalendar) -> Clock:
    return AlwaysOpen() if policy.hours == "24/7" else calendar


def clock_of(policy: SlaPolicy | None, calendar: BusinessCalendar) -> Clock:
    """A ticket's clock; without a policy, the business calendar."""
    return calendar if policy is None else clock_for(policy, calendar)


def policy_of(settings: Settings, ticket: Ticket) -> SlaPolicy | None:
    return settings.sla_policy(ticket.sla_policy) if ticket.sla_policy else None


def settle(settings: Settings, ticket: Ticket, calendar: BusinessCalendar) -> None:
    """The ticket's durations in step with what has ended, on its policy's clock."""
    durations.settle(ticket, clock_of(policy_of(settings, ticket), calendar))


def plan(
    session: Session,
    ticket: Ticket,
    policy: SlaPolicy,
    calendar: BusinessCalendar,
    reminders: Sequence[float],
    start: datetime,
) -> list[SlaTimer]:
    """Timers for a new ticket's first response and resolution, from ``start``."""
    made: list[SlaTimer] = []
    for target in TARGETS:
        made += plan_target(session, ticket, target, policy, calendar, reminders, start)
    return made


def plan_target(
    session: Session,
    ticket: Ticket,
    target: str,
    policy: SlaPolicy,
    calendar: BusinessCalendar,
    reminders: Sequence[float],
    start: datetime,
) -> list[SlaTimer]:
    """Reminders and the breach for one target; nothing if the policy has no such target."""
    text = getattr(policy, target)
    duration = parse_duration(text) if text else None
    if duration is None:
        return []
    clock = clock_for(policy, calendar)
    deadline = clock.add(start, duration)
    setattr(ticket, f"{target}_due", deadline)
    made = [
        SlaTimer(
            ticket_id=ticket.id,
            target=target,
            kind="reminder",
            fraction=fraction,
            due_at=clock.add(start, duration * fraction),
            state="pending",
            created_at=start,
        )
        for fraction in sorted(set(reminders))
    ]
    made.append(
        SlaTimer(
            ticket_id=ticket.id,
            target=target,
            kind="breach",
            fraction=1.0,
            due_at=deadline,
            state="pending",
            created_at=start,
        )
    )
    session.add_all(made)
    return made


def on_customer_reply(
    session: Session,
    ticket: Ticket,
    policy: SlaPolicy | None,
    calendar: BusinessCalendar,
    reminders: Sequence[float],
    now: datetime,
) -> list[SlaTimer]:
    """The customer wrote again after support answered: the next-response clock starts,
    unless one is already running (the earlier promise stands)."""
    if policy is None or ticket.first_response_at is None:
        return []
    if ticket.status in ("resolved", "closed"):
        return []
    running = session.scalar(
        select(SlaTimer.id)
        .where(
            SlaTimer.ticket_id == ticket.id,
            SlaTimer.target == "next_response",
            SlaTimer.state.in_(("pending", "paused")),
        )
        .limit(1)
    )
    if running is not None:
        return []
    return plan_target(session, ticket, "next_response", policy, calendar, reminders, now)


def cancel(session: Session, ticket_id: int, targets: Sequence[str], now: datetime) -> int:
    """The promise was kept (or no longer applies): its timers will not fire."""
    result = session.execute(
        update(SlaTimer)
        .where(
            SlaTimer.ticket_id == ticket_id,
            SlaTimer.target.in_(list(targets)),
            SlaTimer.state.in_(("pending", "paused")),
        )
        .values(state="cancelled", done_at=now, paused_at=None)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def pause(session: Session, ticket_id: int, now: datetime) -> int:
    """The ticket waits for the customer: every running clock stops."""
    result = session.execute(
        update(SlaTimer)
        .where(SlaTimer.ticket_id == ticket_id, SlaTimer.state == "pending")
        .values(state="paused", paused_at=now)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def resume(
    session: Session,
    ticket: Ticket,
    policy: SlaPolicy | None,
    calendar: BusinessCalendar,
    now: datetime,
) -> int:
    """The clocks run again: each timer keeps the business time it had left when paused."""
    clock: Clock = clock_for(policy, calendar) if policy else calendar
    paused = list(
        session.scalars(
            select(SlaTimer).where(SlaTimer.ticket_id == ticket.id, SlaTimer.state == "paused")
        )
    )
    for timer in paused:
        stopped = timer.paused_at or now
        left = clock.between(stopped, timer.due_at) if timer.due_at > stopped else timedelta(0)
        timer.due_at = clock.add(now, left) if left > timedelta(0) else now
        timer.state = "pending"
        timer.paused_at = None
        if timer.kind == "breach":
            setattr(ticket, f"{timer.target}_due", timer.due_at)
    return len(paused)


def follow_status(
    session: Session,
    ticket: Ticket,
    before: str,
    policy: SlaPolicy | None,
    calendar: BusinessCalendar,
    now: datetime,
) -> None:
    """Keep the timers in step with a status change from ``before`` to ``ticket.status``,
    and the ticket's durations with what has ended."""
    durations.settle(ticket, clock_of(policy, calendar))
    after = ticket.status
    if after == before:
        return
    if after in ("resolved", "closed"):
        cancel(session, ticket.id, (*ALL_TARGETS, WAITING), now)
    elif after == "pending":
        pause(session, ticket.id, now)
        plan_waiting(session, ticket, policy, calendar, now)
    elif before == "pending":
        cancel(session, ticket.id, [WAITING], now)
        resume(session, ticket, policy, calendar, now)


def plan_waiting(
    session: Session,
    ticket: Ticket,
    policy: SlaPolicy | None,
    calendar: BusinessCalendar,
    now: datetime,
) -> list[SlaTimer]:
    """Pending on the customer: one reminder, then the close, counted in the policy's
    (business) days; nothing if the policy closes no pending tickets."""
    if policy is None or policy.close_pending_days is None:
        return []
    clock = clock_for(policy, calendar)
    days = policy.close_pending_days
    remind = policy.remind_pending_days or (days - 1 if days > 1 else None)
    made = []
    if remind is not None and remind < days:
        made.append(_waiting(ticket, "reminder", remind / days, clock.add_days(now, remind), now))
    made.append(_waiting(ticket, "breach", 1.0, clock.add_days(now, days), now))
    session.add_all(made)
    return made


def _waiting(ticket: Ticket, kind: str, fraction: float, due: datetime, now: datetime) -> SlaTimer:
    return SlaTimer(
        ticket_id=ticket.id,
        target=WAITING,
        kind=kind,
        fraction=fraction,
        due_at=due,
        state="pending",
        created_at=now,
    )


def pending(session: Session, ticket_id: int) -> list[SlaTimer]:
    return list(
        session.scalars(
            select(SlaTimer)
            .where(SlaTimer.ticket_id == ticket_id, SlaTimer.state == "pending")
            .order_by(SlaTimer.due_at)
        )
    )


def merge(session: Session, source: Ticket, target: Ticket, now: datetime) -> None:
    """Two tickets become one: for each target, the earlier deadline wins, with its
    reminders; the other clock stops. Nobody is promised a later answer by a merge."""
    for name in ALL_TARGETS:
        mine = _running(session, source.id, name)
        theirs = _running(session, target.id, name)
        sooner, later = _breach(mine), _breach(theirs)
        if sooner is not None and (later is None or sooner < later):
            for timer in theirs:
                timer.state, timer.done_at, timer.paused_at = "cancelled", now, None
            for timer in mine:
                timer.ticket_id = target.id
            setattr(target, f"{name}_due", getattr(source, f"{name}_due") or sooner)
        else:
            for timer in mine:
                timer.state, timer.done_at, timer.paused_at = "cancelled", now, None


def _running(session: Session, ticket_id: int, target: str) -> list[SlaTimer]:
    return list(
        session.scalars(
            select(SlaTimer).where(
                SlaTimer.ticket_id == ticket_id,
                SlaTimer.target == target,
                SlaTimer.state.in_(("pending", "paused")),
            )
        )
    )


def _breach(timers: Sequence[SlaTimer]) -> datetime | None:
    return min((t.due_at for t in timers if t.kind == "breach"), default=None)
