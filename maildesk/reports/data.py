"""The numbers behind `maildesk report`, from the tickets opened in a period.

Everything here is plain data (JSON as it is), so `--json` and the HTML page
show the same numbers. Days, weeks and hours are in the business calendar's
time zone.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from maildesk.config.model import Settings
from maildesk.config.semantics import parse_duration
from maildesk.kb.terms import problem_key
from maildesk.sla import report as sla_report
from maildesk.sla.calendar import BusinessCalendar
from maildesk.sla.timers import clock_for
from maildesk.store.models import Survey, Ticket

# First response as a share of its target: where the promise was kept, and by how much.
TARGET_BUCKETS = (
    (0.25, "≤ 25%"),
    (0.5, "25–50%"),
    (0.75, "50–75%"),
    (1.0, "75–100%"),
    (1.5, "100–150%"),
    (2.0, "150–200%"),
    (float("inf"), "> 200%"),
)
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass
class ReportData:
    since: str
    until: str  # the moment after the period (exclusive)
    timezone: str
    tickets: int = 0
    last_day: str = ""  # the period's last day, included (what people read)
    tiers: list[str] = field(default_factory=list)
    per_day: list[dict[str, Any]] = field(default_factory=list)  # {"day", "tiers": {tier: n}}
    first_response: dict[str, Any] = field(default_factory=dict)
    compliance: list[dict[str, Any]] = field(default_factory=list)
    satisfaction: dict[str, Any] = field(default_factory=dict)
    self_service: dict[str, Any] = field(default_factory=dict)
    top_tags: list[dict[str, Any]] = field(default_factory=list)
    frequent_subjects: list[dict[str, Any]] = field(default_factory=list)
    busiest_hours: list[list[int]] = field(default_factory=list)  # [weekday][hour]

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def collect(
    session: Session,
    settings: Settings,
    calendar: BusinessCalendar,
    since: datetime,
    until: datetime,
    now: datetime,
) -> ReportData:
    zone = calendar.zone
    tickets = list(
        session.scalars(
            select(Ticket)
            .where(Ticket.created_at >= since, Ticket.created_at < until)
            .order_by(Ticket.created_at, Ticket.id)
        )
    )
    first_day = since.astimezone(zone).date()
    last_day = (until - timedelta(microseconds=1)).astimezone(zone).date()
    data = ReportData(
        since=since.isoformat(),
        until=until.isoformat(),
        timezone=str(zone),
        tickets=len(tickets),
        last_day=last_day.isoformat(),
    )
    data.tiers = sorted({_tier(t) for t in tickets})
    data.per_day = _per_day(tickets, first_day, last_day, zone)
    data.first_response = _first_response(tickets, settings, calendar, now)
    data.compliance = [
        {
            "tier": row.tier,
            "policy": row.policy,
            "tickets": row.tickets,
            "first_response_percent": row.first_compliance,
            "resolution_percent": row.resolution_compliance,
        }
        for row in sla_report.build(tickets, settings, calendar, now)
    ]
    data.satisfaction = _satisfaction(session, tickets, zone)
    data.self_service = _self_service(tickets, zone)
    tags = Counter(tag for t in tickets for tag in t.tags)
    data.top_tags = [{"tag": tag, "tickets": n} for tag, n in tags.most_common(10)]
    data.frequent_subjects = _frequent_subjects(tickets)
    hours = [[0] * 24 for _ in WEEKDAYS]
    for t in tickets:
        local = t.created_at.astimezone(zone)
        hours[local.weekday()][local.hour] += 1
    data.busiest_hours = hours
    return data


def _tier(ticket: Ticket) -> str:
    return ticket.first_tier or ticket.tier or "-"


def _week(moment: datetime, zone: Any) -> str:
    year, week, _ = moment.astimezone(zone).isocalendar()
    return f"{year}-W{week:02d}"


def _per_day(tickets: list[Ticket], first: date, last: date, zone: Any) -> list[dict[str, Any]]:
    counts: dict[date, Counter[str]] = defaultdict(Counter)
    for t in tickets:
        counts[t.created_at.astimezone(zone).date()][_tier(t)] += 1
    days = []
    day = first
    while day <= last:
        days.append({"day": day.isoformat(), "tiers": dict(sorted(counts[day].items()))})
        day += timedelta(days=1)
    return days


def _first_response(
    tickets: list[Ticket], settings: Settings, calendar: BusinessCalendar, now: datetime
) -> dict[str, Any]:
    buckets = Counter[str]()
    overdue = 0
    minutes: list[float] = []
    for t in tickets:
        policy = settings.sla_policy(t.sla_policy) if t.sla_policy else None
        target = parse_duration(policy.first_response) if policy and policy.first_response else None
        clock = clock_for(policy, calendar) if policy is not None else calendar
        if t.first_response_at is None:
            due, done = t.first_response_due, t.resolved_at or t.closed_at
            if due is not None and now > due and (done is None or done > due):
                overdue += 1
            continue
        took = clock.between(t.created_at, t.first_response_at)
        minutes.append(took.total_seconds() / 60)
        if target:
            share = took / target
            buckets[next(label for limit, label in TARGET_BUCKETS if share <= limit)] += 1
    ordered = sorted(minutes)
    return {
        "buckets": [{"label": label, "tickets": buckets[label]} for _, label in TARGET_BUCKETS],
        "unanswered_overdue": overdue,
        "answered": len(ordered),
        "median_minutes": round(ordered[len(ordered) // 2], 1) if ordered else None,
    }


def _satisfaction(session: Session, tickets: list[Ticket], zone: Any) -> dict[str, Any]:
    ids = [t.id for t in tickets]
    surveys: list[Survey] = []
    for chunk in range(0, len(ids), 500):
        surveys += session.scalars(
            select(Survey).where(Survey.ticket_id.in_(ids[chunk : chunk + 500]))
        )
    sent = [s for s in surveys if s.sent_at is not None]
    answered = [s for s in sent if s.score is not None and s.answered_at is not None]
    weeks: dict[str, list[int]] = defaultdict(list)
    for s in answered:
        assert s.answered_at is not None and s.score is not None
        weeks[_week(s.answered_at, zone)].append(s.score)
    scores = Counter(s.score for s in answered)
    return {
        "sent": len(sent),
        "answered": len(answered),
        "average": round(sum(s.score or 0 for s in answered) / len(answered), 2)
        if answered
        else None,
        "distribution": [{"score": n, "answers": scores[n]} for n in range(1, 6)],
        "weekly": [
            {"week": w, "average": round(sum(v) / len(v), 2), "answers": len(v)}
            for w, v in sorted(weeks.items())
        ],
    }


def _self_service(tickets: list[Ticket], zone: Any) -> dict[str, Any]:
    served = [t for t in tickets if t.resolution == "self_served"]
    weeks: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for t in tickets:
        week = weeks[_week(t.created_at, zone)]
        week[0] += 1
        week[1] += t.resolution == "self_served"
    return {
        "tickets": len(tickets),
        "self_served": len(served),
        "rate_percent": round(100 * len(served) / len(tickets), 1) if tickets else None,
        "weekly": [
            {"week": w, "tickets": n, "self_served": s, "rate_percent": round(100 * s / n, 1)}
            for w, (n, s) in sorted(weeks.items())
        ],
    }


def _frequent_subjects(tickets: list[Ticket]) -> list[dict[str, Any]]:
    """Subjects grouped by their stemmed words, so "Printer not printing" and "printers
    not printing!" are one problem; shown by their most common wording."""
    groups: dict[str, Counter[str]] = defaultdict(Counter)
    for t in tickets:
        key = problem_key(t.subject)
        if key:
            groups[key][t.subject.strip()] += 1
    ranked = sorted(groups.values(), key=lambda c: (-sum(c.values()), c.most_common(1)[0][0]))
    return [
        {"subject": c.most_common(1)[0][0], "tickets": sum(c.values())}
        for c in ranked[:10]
        if sum(c.values()) >= 2
    ]
