"""How well the promises were kept: compliance and first-response times per tier and policy.

Counted per ticket opened in the period, under the tier the rules gave it
(an escalation does not move a breach to the tier that inherited it).

- A target counts once its outcome is known: it was met or missed, or its
  deadline has passed with no answer. A ticket still inside its time is
  left out of the percentage, not counted as a success; so is a first
  response for a ticket resolved before that deadline without one (a
  self-served ticket needed no answer).
- First-response times are business time (24/7 policies: all hours), from
  the ticket's arrival to the first answer relayed to the customer.
- The median is the middle value (the mean of the two middle ones for an
  even count); p90 is the nearest-rank 90th percentile: the smallest time
  that at least 90 % of the tickets met.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from maildesk.config.model import Settings
from maildesk.sla.calendar import AlwaysOpen, BusinessCalendar
from maildesk.sla.timers import clock_for


class Timed(Protocol):
    """What the report reads of a ticket: a Ticket, or a report's light row."""

    @property
    def first_tier(self) -> str | None: ...
    @property
    def tier(self) -> str | None: ...
    @property
    def sla_policy(self) -> str | None: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def first_response_at(self) -> datetime | None: ...
    @property
    def first_response_due(self) -> datetime | None: ...
    @property
    def resolution_due(self) -> datetime | None: ...
    @property
    def resolved_at(self) -> datetime | None: ...
    @property
    def closed_at(self) -> datetime | None: ...
    @property
    def first_response_minutes(self) -> float | None: ...


@dataclass
class Row:
    tier: str
    policy: str
    tickets: int = 0
    first_met: int = 0
    first_known: int = 0
    resolution_met: int = 0
    resolution_known: int = 0
    first_times: list[timedelta] = field(default_factory=list)

    @property
    def first_compliance(self) -> float | None:
        return percent(self.first_met, self.first_known)

    @property
    def resolution_compliance(self) -> float | None:
        return percent(self.resolution_met, self.resolution_known)

    @property
    def median_first(self) -> timedelta | None:
        if not self.first_times:
            return None
        seconds = statistics.median(t.total_seconds() for t in self.first_times)
        return timedelta(seconds=seconds)

    @property
    def p90_first(self) -> timedelta | None:
        return nearest_rank(self.first_times, 90)


def percent(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def nearest_rank(values: Sequence[timedelta], p: float) -> timedelta | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(p / 100 * len(ordered)) - 1, 0)]


def build(
    tickets: Iterable[Timed], settings: Settings, calendar: BusinessCalendar, now: datetime
) -> list[Row]:
    """One row per (tier, policy), sorted, then a total row ("all", "all")."""
    rows: dict[tuple[str, str], Row] = {}
    total = Row("all", "all")
    clocks: dict[str | None, BusinessCalendar | AlwaysOpen] = {}
    for ticket in tickets:
        tier = ticket.first_tier or ticket.tier or "-"
        policy = ticket.sla_policy or "-"
        row = rows.setdefault((tier, policy), Row(tier, policy))
        clock = clocks.get(ticket.sla_policy)
        if clock is None:
            found = settings.sla_policy(ticket.sla_policy) if ticket.sla_policy else None
            clock = clocks[ticket.sla_policy] = (
                clock_for(found, calendar) if found is not None else calendar
            )
        for into in (row, total):
            _count(into, ticket, clock, now)
    return [rows[key] for key in sorted(rows)] + ([total] if rows else [])


def _count(row: Row, ticket: Timed, clock: BusinessCalendar | AlwaysOpen, now: datetime) -> None:
    row.tickets += 1
    answered = ticket.first_response_at
    if answered is not None:
        stored = ticket.first_response_minutes  # settled when it was answered
        row.first_times.append(
            timedelta(minutes=stored)
            if stored is not None
            else clock.between(ticket.created_at, answered)
        )
    due = ticket.first_response_due
    done = ticket.resolved_at or ticket.closed_at
    # Resolved before its first-response deadline with no answer (self-served, say): that
    # promise no longer applied.
    waived = answered is None and done is not None and due is not None and done <= due
    if due is not None and not waived and (answered is not None or now > due):
        row.first_known += 1
        row.first_met += answered is not None and answered <= due
    due = ticket.resolution_due
    if due is not None and (done is not None or now > due):
        row.resolution_known += 1
        row.resolution_met += done is not None and done <= due
