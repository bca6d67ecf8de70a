"""SLA timers planned with the ticket, cancelled when the promise is kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, select

from maildesk.clock import FixedClock
from maildesk.config import settings_from_mapping
from maildesk.intake import Intake
from maildesk.store.db import session_factory
from maildesk.store.models import SlaTimer, Ticket
from tests.support.agent import agent_reply
from tests.support.pipeline import mail

FRIDAY_5PM = datetime(2026, 11, 20, 17, 0, tzinfo=UTC)


def pipeline(tmp_path: Path, db_url: str, engine: Engine, rule: str) -> Intake:
    import shutil

    from maildesk.starter import starter_dir

    shutil.copytree(starter_dir("templates"), tmp_path / "templates", dirs_exist_ok=True)
    (tmp_path / "rules").mkdir(exist_ok=True)
    (tmp_path / "rules" / "00.yaml").write_text(rule)
    settings = settings_from_mapping(
        {
            "helpdesk": {"address": "support@example.com"},
            "database": {"url": db_url},
            "smtp": {"spool_dir": "out"},
            "tiers": [{"name": "L1", "agents": ["bob@example.com"]}],
            "calendar": {"hours": ["09:00-18:00"]},
            "sla": {"reminders": [0.5, 0.75]},
            "sla_policies": [
                {"name": "normal", "first_response": "2h", "resolution": "4h"},
                {"name": "urgent", "first_response": "15m", "resolution": "4h", "hours": "24/7"},
            ],
        },
        name="maildesk.toml",
        base=tmp_path,
    )
    return Intake(settings, session_factory(engine), FixedClock(FRIDAY_5PM))


def timers(engine: Engine, ticket: int) -> list[tuple[str, str, float, datetime, str]]:
    with session_factory(engine)() as s:
        return [
            (t.target, t.kind, t.fraction, t.due_at, t.state)
            for t in s.scalars(
                select(SlaTimer).where(SlaTimer.ticket_id == ticket).order_by(SlaTimer.id)
            )
        ]


def test_business_hours_policy_plans_reminders_and_breaches(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    p = pipeline(tmp_path, db_url, engine, "- name: all\n  then: {sla: normal}\n")
    n = p.ingest(mail(), "test").ticket_id
    assert n is not None
    monday = datetime(2026, 11, 23, tzinfo=UTC)
    assert timers(engine, n) == [
        ("first_response", "reminder", 0.5, FRIDAY_5PM + timedelta(hours=1), "pending"),
        ("first_response", "reminder", 0.75, monday + timedelta(hours=9, minutes=30), "pending"),
        ("first_response", "breach", 1.0, monday + timedelta(hours=10), "pending"),
        ("resolution", "reminder", 0.5, monday + timedelta(hours=10), "pending"),
        ("resolution", "reminder", 0.75, monday + timedelta(hours=11), "pending"),
        ("resolution", "breach", 1.0, monday + timedelta(hours=12), "pending"),
    ]
    with session_factory(engine)() as s:
        ticket = s.get(Ticket, n)
        assert ticket is not None
        assert (ticket.first_response_due, ticket.resolution_due) == (
            monday + timedelta(hours=10),
            monday + timedelta(hours=12),
        )
    p.ingest(agent_reply(n, "thunderbird"), "test")
    assert [t[4] for t in timers(engine, n)] == ["cancelled"] * 3 + ["pending"] * 3
    p.ingest(
        agent_reply(n, "thunderbird", "#status resolved\n", msgid="<bob2@example.com>"), "test"
    )
    assert {t[4] for t in timers(engine, n)} == {"cancelled"}


def test_urgent_policy_counts_every_hour(engine: Engine, db_url: str, tmp_path: Path) -> None:
    p = pipeline(tmp_path, db_url, engine, "- name: all\n  then: {sla: urgent}\n")
    n = p.ingest(mail(), "test").ticket_id
    assert n is not None
    breach = next(t for t in timers(engine, n) if t[:2] == ("first_response", "breach"))
    assert breach[3] == FRIDAY_5PM + timedelta(minutes=15)


def test_no_policy_no_timers(engine: Engine, db_url: str, tmp_path: Path) -> None:
    p = pipeline(tmp_path, db_url, engine, "- name: all\n  then: {tier: L1}\n")
    n = p.ingest(mail(), "test").ticket_id
    assert n is not None and timers(engine, n) == []
