"""The report's agent figures, backlog and trends against a history worked out by hand,
on SQLite and PostgreSQL (the counting that happens in SQL must agree on both)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import update
from sqlalchemy.engine import Engine

from bench.history import fill_history
from maildesk.config import settings_from_mapping
from maildesk.config.model import Settings
from maildesk.kb.terms import problem_key
from maildesk.reports import aggregate, rows, trends
from maildesk.reports.data import collect
from maildesk.reports.page import render
from maildesk.sla import durations
from maildesk.sla import report as sla_report
from maildesk.sla.calendar import BusinessCalendar
from maildesk.store.db import session_factory
from maildesk.store.models import Customer, Event, Survey, Ticket

MONDAY = datetime(2026, 11, 16, tzinfo=UTC)  # business hours 09-18 UTC, Mon-Fri (defaults)
NOW = datetime(2026, 11, 20, tzinfo=UTC)
ANN, BOB, CY = "ann@example.com", "bob@example.com", "cy@example.com"


def at(day: int, hour: float) -> datetime:
    return MONDAY + timedelta(days=day, hours=hour)


def desk_settings(tmp_path: Path, url: str) -> Settings:
    return settings_from_mapping(
        {
            "helpdesk": {"address": "support@example.com", "name": "Example Support"},
            "database": {"url": url},
            "smtp": {"spool_dir": "out"},
            "tiers": [
                {"name": "L1", "agents": [ANN, BOB], "escalates_to": "L2"},
                {"name": "L2", "agents": [CY]},
            ],
            "sla_policies": [{"name": "normal", "first_response": "2h", "resolution": "4h"}],
        },
        name="test",
        base=tmp_path,
    )


def write_history(engine: Engine, settings: Settings) -> dict[str, int]:
    """Five tickets this period (Mon-Tue), one the period before (the weekend), one old
    known problem. The daemon's own steps are mimicked: events, then settle()."""
    calendar = BusinessCalendar.from_settings(settings)
    numbers: dict[str, int] = {}
    with session_factory(engine)() as s:
        alice = Customer(address="alice@example.org")

        def ticket(name: str, tier: str, subject: str, created: datetime, **more: Any) -> Ticket:
            t = Ticket(
                subject=subject,
                problem_key=problem_key(subject),
                status="open",
                tier=tier,
                first_tier=tier,
                requester=alice,
                sla_policy="normal",
                tags=[],
                created_at=created,
                updated_at=created,
                first_response_due=calendar.add(created, timedelta(hours=2)),
                resolution_due=calendar.add(created, timedelta(hours=4)),
                **more,
            )
            s.add(t)
            s.flush()
            numbers[name] = t.id
            return t

        def event(t: Ticket, when: datetime, actor: str, kind: str, **detail: Any) -> None:
            s.add(Event(ticket_id=t.id, at=when, actor=actor, kind=kind, detail=detail))

        def answer(t: Ticket, when: datetime, agent: str) -> None:
            event(t, when, agent, "replied", message=0)
            if t.first_response_at is None:
                t.first_response_at, t.first_responder = when, agent

        def status(t: Ticket, when: datetime, actor: str, to: str) -> None:
            event(t, when, actor, "status", **{"from": t.status, "to": to})
            t.status = to
            t.resolved_at = when if to == "resolved" else None
            durations.settle(t, calendar)

        def survey(t: Ticket, score: int) -> None:
            assert t.resolved_at is not None
            sent = t.resolved_at + timedelta(hours=1)
            s.add(
                Survey(
                    ticket=t,
                    state="answered",
                    due_at=sent,
                    sent_at=sent,
                    score=score,
                    answered_at=sent + timedelta(hours=1),
                )
            )

        # T1: ann answers in 30 min and resolves; the customer reopens; bob resolves.
        t1 = ticket("t1", "L1", "Printer not printing", at(0, 10))
        answer(t1, at(0, 10.5), ANN)
        status(t1, at(0, 11), ANN, "resolved")
        status(t1, at(0, 12), "alice@example.org", "open")
        status(t1, at(0, 13), BOB, "resolved")
        survey(t1, 4)
        # T2: bob answers late (150 min of a 2 h target) and resolves in time (180 of 240).
        t2 = ticket("t2", "L1", "printers not printing!", at(0, 11))
        answer(t2, at(0, 13.5), BOB)
        status(t2, at(0, 14), BOB, "resolved")
        survey(t2, 2)
        # T3: assigned to ann, never answered: both targets pass (ann's two breaches).
        ticket("t3", "L1", "Invoice missing", at(0, 12), assignee=ANN)
        # T4: cy answers in 15 min, resolves in 45.
        t4 = ticket("t4", "L2", "VPN down", at(1, 9))
        answer(t4, at(1, 9.25), CY)
        status(t4, at(1, 9.75), CY, "resolved")
        # T5: self-served by the customer: nobody's resolution.
        t5 = ticket("t5", "L2", "Forgot password", at(1, 10), resolution="self_served")
        status(t5, at(1, 10.5), "alice@example.org", "resolved")
        # The period before (Sat-Sun): one printer ticket, never answered.
        ticket("t0", "L1", "Printer not printing", at(-2, 10))
        # A known problem about printers, opened long ago and pending since.
        old = ticket("problem", "L2", "Printer not printing", datetime(2026, 10, 1, tzinfo=UTC))
        old.problem, old.status = True, "pending"
        s.commit()
    return numbers


def report(engine: Engine, settings: Settings) -> dict[str, Any]:
    calendar = BusinessCalendar.from_settings(settings)
    with session_factory(engine)() as s:
        data = collect(s, settings, calendar, MONDAY, MONDAY + timedelta(days=2), NOW)
    return data.as_json()


def test_agent_figures_match_the_hand_count(tmp_path: Path, engine: Engine) -> None:
    settings = desk_settings(tmp_path, str(engine.url))
    write_history(engine, settings)
    agents = {a["agent"]: a for a in report(engine, settings)["agents"]}
    assert list(agents) == [BOB, ANN, CY]  # the busiest first, then by name
    assert agents[ANN] == {
        "agent": ANN,
        "handled": 1,  # T1 (T3 was only assigned)
        "first_responses": 1,
        "first_response_median_minutes": 30.0,
        "first_response_p90_minutes": 30.0,
        "resolved": 0,  # T1's last resolution was bob's
        "resolution_median_minutes": None,
        "resolution_p90_minutes": None,
        "resolutions": 1,
        "reopened": 1,
        "reopen_rate_percent": 100.0,
        "satisfaction_answers": 0,
        "satisfaction_average": None,
        "sla_breaches": 2,  # T3: first response and resolution, as its assignee
    }
    assert agents[BOB] == {
        "agent": BOB,
        "handled": 2,
        "first_responses": 1,
        "first_response_median_minutes": 150.0,
        "first_response_p90_minutes": 150.0,
        "resolved": 2,  # T1 10:00-13:00 and T2 11:00-14:00: 180 business minutes each
        "resolution_median_minutes": 180.0,
        "resolution_p90_minutes": 180.0,
        "resolutions": 2,
        "reopened": 0,
        "reopen_rate_percent": 0.0,
        "satisfaction_answers": 2,
        "satisfaction_average": 3.0,
        "sla_breaches": 1,  # T2's late first answer
    }
    assert agents[CY]["first_response_median_minutes"] == 15.0
    assert agents[CY]["resolution_median_minutes"] == 45.0
    assert agents[CY]["sla_breaches"] == 0 and agents[CY]["reopen_rate_percent"] == 0.0


def test_backlog_trends_and_rising_problems(tmp_path: Path, engine: Engine) -> None:
    settings = desk_settings(tmp_path, str(engine.url))
    numbers = write_history(engine, settings)
    data = report(engine, settings)
    backlog = {b["tier"]: b for b in data["backlog"]}
    # Open on Friday 00:00: T3 (3.5 days) and T0 (5.6 days) in L1; the problem (50 days).
    assert {a["age"]: a["tickets"] for a in backlog["L1"]["ages"]} == {
        "< 1 day": 0,
        "1–3 days": 0,
        "3–7 days": 2,
        "1–4 weeks": 0,
        "> 4 weeks": 0,
    }
    assert [t["ticket"] for t in backlog["L1"]["oldest"]] == [numbers["t0"], numbers["t3"]]
    assert backlog["L1"]["oldest"][1]["age_days"] == 3.5
    assert backlog["L1"]["oldest"][1]["assignee"] == ANN
    assert backlog["L2"]["open"] == 1 and backlog["L2"]["ages"][4]["tickets"] == 1
    tiles = {t["key"]: t for t in data["tiles"]}
    assert (tiles["tickets"]["value"], tiles["tickets"]["previous"]) == (5, 1)
    assert tiles["tickets"]["change"] == 4
    assert tiles["self_served_percent"]["change"] == 20.0  # 1 of 5, against 0 of 1
    # In time: T1 and T4 of T1-T4 (T5 needed no answer); before: T0 missed (0 of 1).
    assert tiles["first_response_in_time_percent"]["value"] == 50.0
    assert tiles["first_response_in_time_percent"]["change"] == 50.0
    assert tiles["first_response_median_minutes"]["value"] == 30.0  # of 15, 30, 150
    assert tiles["first_response_median_minutes"]["change"] is None  # nothing before
    assert tiles["satisfaction_average"]["value"] == 3.0
    assert data["rising_problems"] == [
        {
            "subject": "Printer not printing",
            "tickets": 2,
            "previous": 1,
            "change": 1,
            "problem": numbers["problem"],
        }
    ]
    page = render(collect_page(engine, settings), "Example Support")
    assert "▲ 4 (was 1)" in page and "bob@example.com" in page
    assert f"#{numbers['problem']}" in page


def collect_page(engine: Engine, settings: Settings):  # type: ignore[no-untyped-def]
    calendar = BusinessCalendar.from_settings(settings)
    with session_factory(engine)() as s:
        return collect(s, settings, calendar, MONDAY, MONDAY + timedelta(days=2), NOW)


def test_the_period_before_counts_as_the_rows_do(tmp_path: Path, engine: Engine) -> None:
    """The earlier period is summed up in SQL; it must say what trends.summary says of
    the same tickets read as rows, on a generated history where some tickets (as if
    settled before durations were stored) have no minutes and no problem key."""
    settings = settings_from_mapping(
        {
            "helpdesk": {"address": "support@example.com"},
            "database": {"url": str(engine.url)},
            "smtp": {"spool_dir": "out"},
            "calendar": {"timezone": "Europe/Berlin"},
            "sla_policies": [
                {"name": "normal", "first_response": "2h", "resolution": "4h"},
                {"name": "corporate", "first_response": "1h", "resolution": "8h"},
                {"name": "urgent", "first_response": "15m", "resolution": "4h", "hours": "24/7"},
            ],
        },
        name="test",
        base=tmp_path,
    )
    sessions = session_factory(engine)
    fill_history(sessions, settings, NOW, days=21, per_day=12)
    with sessions.begin() as s:  # every seventh ticket as an old desk left it
        s.execute(
            update(Ticket)
            .where(Ticket.id % 7 == 0)
            .values(first_response_minutes=None, resolution_minutes=None, problem_key=None)
        )
    calendar = BusinessCalendar.from_settings(settings)
    since, until = NOW - timedelta(days=14), NOW - timedelta(days=7)
    with sessions() as s:
        read = rows.tickets(s, settings, calendar, since, until)
        assert len(read) > 50
        by_rows = trends.summary(
            read,
            rows.surveys(s, since, until),
            sla_report.build(read, settings, calendar, NOW),
        )
        assert aggregate.summary(s, settings, calendar, since, until, NOW) == by_rows
        keys = Counter(t.problem_key for t in read if t.problem_key)
        assert aggregate.problem_keys(s, since, until) == keys
