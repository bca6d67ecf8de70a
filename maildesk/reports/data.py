"""The numbers behind `maildesk report`, from the tickets opened in a period.

Everything here is plain data (JSON as it is), so `--json` and the HTML page
show the same numbers. Days, weeks and hours are in the business calendar's
time zone.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from maildesk.config.model import Settings
from maildesk.config.semantics import parse_duration
from maildesk.reports import agents, aggregate, backlog, rows, trends
from maildesk.reports.rows import SurveyRow, TicketRow
from maildesk.reports.stats import median
from maildesk.sla import report as sla_report
from maildesk.sla.calendar import BusinessCalendar

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
    previous: dict[str, str] = field(default_factory=dict)  # the period before: since, until
    tiles: list[dict[str, Any]] = field(default_factory=list)  # with the change since then
    rising_problems: list[dict[str, Any]] = field(default_factory=list)
    agents: list[dict[str, Any]] = field(default_factory=list)
    backlog: list[dict[str, Any]] = field(default_factory=list)  # open now, per tier

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
    tickets = rows.tickets(session, settings, calendar, since, until)
    surveys = rows.surveys(session, since, until)
    before = since - (until - since)
    first_day = since.astimezone(zone).date()
    last_day = (until - timedelta(microseconds=1)).astimezone(zone).date()
    data = ReportData(
        since=since.isoformat(),
        until=until.isoformat(),
        timezone=str(zone),
        tickets=len(tickets),
        last_day=last_day.isoformat(),
        previous={"since": before.isoformat(), "until": since.isoformat()},
    )
    data.tiers = sorted({t.report_tier for t in tickets})
    data.per_day = _per_day(tickets, first_day, last_day, zone)
    data.first_response = _first_response(tickets, settings, now)
    compliance = sla_report.build(tickets, settings, calendar, now)
    data.compliance = [
        {
            "tier": row.tier,
            "policy": row.policy,
            "tickets": row.tickets,
            "first_response_percent": row.first_compliance,
            "resolution_percent": row.resolution_compliance,
        }
        for row in compliance
    ]
    data.satisfaction = _satisfaction(surveys, zone)
    data.self_service = _self_service(tickets, zone)
    data.top_tags = [
        {"tag": tag, "tickets": n} for tag, n in rows.top_tags(session, since, until, 10)
    ]
    wording = trends.wordings(tickets)
    data.frequent_subjects = _frequent_subjects(wording)
    hours = [[0] * 24 for _ in WEEKDAYS]
    for t in tickets:
        local = t.created_at.astimezone(zone)
        hours[local.weekday()][local.hour] += 1
    data.busiest_hours = hours
    data.tiles = trends.tiles(
        trends.summary(tickets, surveys, compliance),
        aggregate.summary(session, settings, calendar, before, since, now),
    )
    data.rising_problems = trends.rising(
        session, wording, aggregate.problem_keys(session, before, since)
    )
    events = agents.work(session, since, until)
    data.agents = agents.figures(settings, tickets, events, surveys, now)
    data.backlog = backlog.backlog(session, now)
    return data


def _week(moment: datetime, zone: Any) -> str:
    year, week, _ = moment.astimezone(zone).isocalendar()
    return f"{year}-W{week:02d}"


def _per_day(
    tickets: Sequence[TicketRow], first: date, last: date, zone: Any
) -> list[dict[str, Any]]:
    counts: dict[date, Counter[str]] = defaultdict(Counter)
    for t in tickets:
        counts[t.created_at.astimezone(zone).date()][t.report_tier] += 1
    days = []
    day = first
    while day <= last:
        days.append({"day": day.isoformat(), "tiers": dict(sorted(counts[day].items()))})
        day += timedelta(days=1)
    return days


def _first_response(
    tickets: Sequence[TicketRow], settings: Settings, now: datetime
) -> dict[str, Any]:
    """Each answered ticket's first response as a share of its own target: both in the
    policy's business time, so the stored minutes divide by the target's."""
    buckets = Counter[str]()
    overdue = 0
    minutes: list[float] = []
    targets: dict[str | None, float | None] = {}
    for t in tickets:
        if t.sla_policy not in targets:
            policy = settings.sla_policy(t.sla_policy) if t.sla_policy else None
            wanted = policy.first_response if policy else None
            target = parse_duration(wanted) if wanted else None
            targets[t.sla_policy] = target.total_seconds() / 60 if target else None
        if t.first_response_at is None:
            due, done = t.first_response_due, t.resolved_at or t.closed_at
            if due is not None and now > due and (done is None or done > due):
                overdue += 1
            continue
        took = t.first_response_minutes
        assert took is not None  # rows.tickets counts what was not stored
        minutes.append(took)
        target_minutes = targets[t.sla_policy]
        if target_minutes:
            share = took / target_minutes
            buckets[next(label for limit, label in TARGET_BUCKETS if share <= limit)] += 1
    return {
        "buckets": [{"label": label, "tickets": buckets[label]} for _, label in TARGET_BUCKETS],
        "unanswered_overdue": overdue,
        "answered": len(minutes),
        "median_minutes": median(minutes),
    }


def _satisfaction(surveys: Sequence[SurveyRow], zone: Any) -> dict[str, Any]:
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


def _self_service(tickets: Sequence[TicketRow], zone: Any) -> dict[str, Any]:
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


def _frequent_subjects(groups: dict[str, Counter[str]]) -> list[dict[str, Any]]:
    """Subjects grouped by their stemmed words (trends.wordings), so "Printer not
    printing" and "printers not printing!" are one problem; shown by their most common
    wording."""
    ranked = sorted(groups.values(), key=lambda c: (-sum(c.values()), c.most_common(1)[0][0]))
    return [
        {"subject": c.most_common(1)[0][0], "tickets": sum(c.values())}
        for c in ranked[:10]
        if sum(c.values()) >= 2
    ]
