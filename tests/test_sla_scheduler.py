"""The SLA clock ticking: reminders, breaches and escalation, pause and resume, digests.

Times are UTC, business hours 09:00-18:00 Monday to Friday. A ticket opened
Friday 17:00 under "normal" (first response 2 h, next response 1 h,
resolution 4 h, reminders at 75 %) has its first-response reminder due
Monday 09:30 and its breach Monday 10:00; resolution reminder Monday 11:00,
breach Monday 12:00.
"""

from __future__ import annotations

import email.policy
import shutil
import threading
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from maildesk.clock import FixedClock
from maildesk.config import settings_from_mapping
from maildesk.intake import Intake
from maildesk.sla.scheduler import SlaScheduler
from maildesk.starter import starter_dir
from maildesk.store.db import session_factory
from maildesk.store.models import Event, OutboxMessage, SlaDigest, SlaTimer, Ticket
from tests.support.agent import agent_reply
from tests.support.pipeline import mail

FRIDAY_5PM = datetime(2026, 11, 20, 17, 0, tzinfo=UTC)
MONDAY = datetime(2026, 11, 23, tzinfo=UTC)


def at(hours: float, day: datetime = MONDAY) -> datetime:
    return day + timedelta(hours=hours)


def settings(tmp_path: Path, db_url: str, rule: str, **sla: Any) -> Any:
    shutil.copytree(starter_dir("templates"), tmp_path / "templates", dirs_exist_ok=True)
    (tmp_path / "rules").mkdir(exist_ok=True)
    (tmp_path / "rules" / "00.yaml").write_text(rule)
    return settings_from_mapping(
        {
            "helpdesk": {"address": "support@example.com", "name": "Example Support"},
            "database": {"url": db_url},
            "smtp": {"spool_dir": "out"},
            "tiers": [
                {
                    "name": "L1",
                    "agents": ["bob@example.com"],
                    "lead": "lead1@example.com",
                    "escalates_to": "L2",
                },
                {"name": "L2", "agents": ["carol@example.com"], "lead": "lead2@example.com"},
            ],
            "calendar": {"hours": ["09:00-18:00"]},
            "sla": {"reminders": [0.75], **sla},
            "sla_policies": [
                {
                    "name": "normal",
                    "first_response": "2h",
                    "next_response": "1h",
                    "resolution": "4h",
                },
                {"name": "urgent", "first_response": "15m", "resolution": "4h", "hours": "24/7"},
            ],
        },
        name="maildesk.toml",
        base=tmp_path,
    )


class Desk:
    """A pipeline and a scheduler sharing one movable clock."""

    def __init__(self, tmp_path: Path, db_url: str, engine: Engine, rule: str, **sla: Any):
        self.engine = engine
        self.clock = FixedClock(FRIDAY_5PM)
        self.settings = settings(tmp_path, db_url, rule, **sla)
        self.sessions = session_factory(engine)
        self.pipeline = Intake(self.settings, self.sessions, self.clock)
        self.scheduler = self.make_scheduler()

    def make_scheduler(self) -> SlaScheduler:
        return SlaScheduler(
            self.settings,
            self.sessions,
            self.clock,
            self.pipeline.mailer,
            lambda: self.pipeline.router.calendar,
        )

    def ingest(self, raw: bytes, when: datetime) -> int:
        self.clock._at = when
        outcome = self.pipeline.ingest(raw, "test")
        assert outcome.ticket_id is not None, outcome
        return outcome.ticket_id

    def tick(self, when: datetime) -> list[Any]:
        self.clock._at = when
        return self.scheduler.tick()

    def mails(self, kind: str) -> list[tuple[list[str], str, str]]:
        with self.sessions() as s:
            rows = s.scalars(
                select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)
            ).all()
            found = []
            for row in rows:
                parsed = message_from_bytes(row.raw, policy=email.policy.default)
                body = parsed.get_body(("plain",))
                assert body is not None
                found.append((row.recipients, str(parsed["Subject"]), str(body.get_content())))
            return found

    def ticket(self, n: int) -> Ticket:
        with self.sessions() as s:
            ticket = s.get(Ticket, n)
            assert ticket is not None
            return ticket

    def timers(self, n: int) -> list[tuple[str, str, datetime, str]]:
        with self.sessions() as s:
            return [
                (t.target, t.kind, t.due_at, t.state)
                for t in s.scalars(
                    select(SlaTimer).where(SlaTimer.ticket_id == n).order_by(SlaTimer.id)
                )
            ]

    def events(self, n: int, kind: str) -> list[dict[str, Any]]:
        with self.sessions() as s:
            return [
                e.detail
                for e in s.scalars(
                    select(Event).where(Event.ticket_id == n, Event.kind == kind).order_by(Event.id)
                )
            ]


NORMAL = "- name: all\n  then: {tier: L1, sla: normal}\n"


@pytest.fixture
def desk(tmp_path: Path, db_url: str, engine: Engine) -> Desk:
    return Desk(tmp_path, db_url, engine, NORMAL)


def test_reminder_once_then_breach_escalates(desk: Desk) -> None:
    n = desk.ingest(mail(), FRIDAY_5PM)
    assert desk.tick(at(17.99, FRIDAY_5PM - timedelta(hours=17))) == []
    assert desk.tick(at(9.4)) == []  # Monday 09:24: 84 of 90 business minutes gone
    [reminder] = desk.tick(at(9.5))
    assert (reminder.kind, reminder.target, reminder.to) == (
        "reminder",
        "first_response",
        ("bob@example.com",),
    )
    assert desk.tick(at(9.5)) == [] and desk.tick(at(9.9)) == []  # once
    [(to, subject, body)] = desk.mails("sla_reminder")
    assert to == ["bob@example.com"]
    assert subject.startswith(f"[#{n}] SLA reminder: first response due Mon 23 Nov 2026 10:00")
    assert "75% of the first response time" in body and "in 30 minutes" in body
    assert "It burns." in body  # the customer's words, to act on at once

    [breach] = desk.tick(at(10))
    assert breach.kind == "breach" and breach.detail == "tier L1 -> L2, priority normal -> high"
    assert breach.to == ("lead1@example.com", "lead2@example.com", "carol@example.com")
    ticket = desk.ticket(n)
    assert (ticket.tier, ticket.priority) == ("L2", "high")
    assert desk.events(n, "sla_breach") == [{"target": "first_response", "due": at(10).isoformat()}]
    assert desk.events(n, "tier")[-1] == {"from": "L1", "to": "L2", "why": "SLA breached"}
    [(to, subject, body)] = desk.mails("sla_breach")
    assert "SLA breached: first response" in subject
    assert "moved from tier L1 to tier L2" in body and "from normal to high" in body
    assert desk.tick(at(10.5)) == []  # the breach is not repeated


def test_catching_up_after_downtime_sends_the_breach_not_stale_reminders(desk: Desk) -> None:
    n = desk.ingest(mail(), FRIDAY_5PM)
    fired = desk.tick(at(12))  # the daemon was down all morning
    assert [(f.kind, f.target) for f in fired] == [("breach", "first_response+resolution")]
    assert desk.mails("sla_reminder") == []
    assert len(desk.mails("sla_breach")) == 1
    assert (desk.ticket(n).tier, desk.ticket(n).priority) == ("L2", "high")  # one step only
    assert {state for *_, state in desk.timers(n)} == {"fired"}


def test_a_kept_promise_fires_nothing(desk: Desk) -> None:
    n = desk.ingest(mail(), FRIDAY_5PM)
    desk.ingest(agent_reply(n, "thunderbird"), at(9.2))
    assert desk.tick(at(10.5)) == []
    [reminder] = desk.tick(at(11))
    assert reminder.target == "resolution"
    desk.ingest(agent_reply(n, "thunderbird", "#status resolved\n", "<bob2@x>"), at(11.5))
    assert desk.tick(at(40)) == []
    assert desk.mails("sla_breach") == []


def test_no_agents_means_the_lead_hears(tmp_path: Path, db_url: str, engine: Engine) -> None:
    d = Desk(tmp_path, db_url, engine, "- name: all\n  then: {tier: L1, sla: urgent}\n")
    d.settings = d.settings.model_copy(
        update={
            "tiers": (
                d.settings.tiers[0].model_copy(update={"agents": (), "escalates_to": None}),
                d.settings.tiers[1],
            )
        }
    )
    d.scheduler = d.make_scheduler()
    d.ingest(mail(), FRIDAY_5PM)
    [reminder] = d.tick(FRIDAY_5PM + timedelta(minutes=12))  # 24/7: 75 % of 15 minutes
    assert reminder.to == ("lead1@example.com",)
    [breach] = d.tick(FRIDAY_5PM + timedelta(minutes=15))
    assert breach.detail == "priority normal -> high" and breach.to == ("lead1@example.com",)


def test_breach_at_the_last_tier_with_priority_raise_off(
    tmp_path: Path, db_url: str, engine: Engine
) -> None:
    d = Desk(
        tmp_path,
        db_url,
        engine,
        "- name: all\n  then: {tier: L2, sla: normal}\n",
        raise_priority=False,
    )
    n = d.ingest(mail(), FRIDAY_5PM)
    d.ingest(agent_reply(n, "thunderbird", "#assign me\n"), FRIDAY_5PM + timedelta(minutes=5))
    [breach] = d.tick(at(12))
    assert breach.detail == "" and breach.to == ("lead2@example.com", "bob@example.com")
    assert (d.ticket(n).tier, d.ticket(n).priority) == ("L2", "normal")
    assert len(d.events(n, "sla_breach")) == 1  # resolution; first response was given


def test_pending_pauses_the_clock_and_a_customer_reply_resumes_it(desk: Desk) -> None:
    n = desk.ingest(mail(), FRIDAY_5PM)
    # Monday 09:00: the agent asks a question and waits for the customer.
    desk.ingest(agent_reply(n, "thunderbird", "#status pending\n"), at(9))
    assert desk.ticket(n).status == "pending"
    assert [(t, k, s) for t, k, _, s in desk.timers(n)] == [
        ("first_response", "reminder", "cancelled"),
        ("first_response", "breach", "cancelled"),
        ("resolution", "reminder", "paused"),
        ("resolution", "breach", "paused"),
    ]
    assert desk.tick(at(9, MONDAY + timedelta(days=1))) == []  # Tuesday: nothing runs
    # Wednesday 09:00 the customer answers: 3 business hours were left, so 12:00.
    wednesday = MONDAY + timedelta(days=2)
    desk.ingest(
        mail(f"Re: [#{n}] Printer on fire", msgid="<m2@example.org>", body="Still burns."),
        at(9, wednesday),
    )
    ticket = desk.ticket(n)
    assert ticket.status == "open"
    assert ticket.resolution_due == at(12, wednesday)
    assert ticket.next_response_due == at(10, wednesday)  # next response: 1 h
    assert sorted((t, k, due) for t, k, due, s in desk.timers(n) if s == "pending") == [
        ("next_response", "breach", at(10, wednesday)),
        ("next_response", "reminder", at(9.75, wednesday)),
        ("resolution", "breach", at(12, wednesday)),
        ("resolution", "reminder", at(11, wednesday)),
    ]
    assert [f.target for f in desk.tick(at(9.75, wednesday))] == ["next_response"]


def test_a_second_customer_mail_keeps_the_running_next_response_clock(desk: Desk) -> None:
    n = desk.ingest(mail(), FRIDAY_5PM)
    desk.ingest(agent_reply(n, "thunderbird"), at(9))
    desk.ingest(mail(f"Re: [#{n}] x", msgid="<m2@example.org>", body="Hello?"), at(10))
    desk.ingest(mail(f"Re: [#{n}] x", msgid="<m3@example.org>", body="Anyone?"), at(10.5))
    breaches = [due for t, k, due, s in desk.timers(n) if t == "next_response" and k == "breach"]
    assert breaches == [at(11)]
    desk.ingest(agent_reply(n, "thunderbird", msgid="<bob2@x>"), at(10.75))
    assert {s for t, _, _, s in desk.timers(n) if t == "next_response"} == {"cancelled"}


def test_an_autoreply_neither_resumes_nor_restarts_the_clock(desk: Desk) -> None:
    n = desk.ingest(mail(), FRIDAY_5PM)
    desk.ingest(agent_reply(n, "thunderbird", "#status pending\n"), at(9))
    desk.ingest(
        mail(
            f"Automatic reply: [#{n}] Printer on fire",
            msgid="<ooo@example.org>",
            headers="Auto-Submitted: auto-replied\r\n",
            body="I am out of office.",
        ),
        at(10),
    )
    assert desk.ticket(n).status == "pending"
    assert {s for t, _, _, s in desk.timers(n) if t == "resolution"} == {"paused"}


def test_default_policy_by_priority(tmp_path: Path, db_url: str, engine: Engine) -> None:
    d = Desk(
        tmp_path,
        db_url,
        engine,
        "- name: vip\n  when: {subject: {contains: outage}}\n  then: {tier: L1, priority: urgent}\n"
        "- name: rest\n  then: {tier: L1}\n",
        by_priority={"urgent": "urgent", "normal": "normal"},
    )
    urgent = d.ingest(mail("Total outage"), FRIDAY_5PM)
    normal = d.ingest(mail("Question", msgid="<m9@example.org>"), FRIDAY_5PM)
    assert (d.ticket(urgent).sla_policy, d.ticket(normal).sla_policy) == ("urgent", "normal")
    assert d.ticket(urgent).first_response_due == FRIDAY_5PM + timedelta(minutes=15)


def test_daily_digest_once_per_tier_on_working_days(
    tmp_path: Path, db_url: str, engine: Engine
) -> None:
    d = Desk(tmp_path, db_url, engine, NORMAL, digest_at="08:30")
    old = d.ingest(mail("Old one"), FRIDAY_5PM)
    d.ingest(mail("Newer", msgid="<m2@example.org>"), FRIDAY_5PM + timedelta(minutes=30))
    assert d.tick(FRIDAY_5PM + timedelta(days=1, hours=-8)) == []  # Saturday 09:00: day off
    assert [f.kind for f in d.tick(at(8.4))] == []  # Monday, before 08:30
    [digest] = [f for f in d.tick(at(8.5)) if f.kind == "digest"]
    assert digest.ticket == "L1" and digest.to == ("bob@example.com", "lead1@example.com")
    assert digest.detail == "2 open, 2 at risk, 0 breached"
    assert [f for f in d.tick(at(8.6)) if f.kind == "digest"] == []
    [(to, subject, body)] = d.mails("sla_digest")
    assert to == ["bob@example.com", "lead1@example.com"]
    assert subject == "Example Support tier L1, 2026-11-23: 2 open, 2 at risk, 0 breached"
    assert body.index(f"[#{old}] Old one") < body.index("Newer")  # oldest first
    with d.sessions() as s:  # L2 had nothing open: no mail, but the day is done
        assert sorted((r.tier, r.tickets) for r in s.scalars(select(SlaDigest))) == [
            ("L1", 2),
            ("L2", 0),
        ]
    d.tick(at(10))  # both breach: tier L2 now
    [digest] = [f for f in d.tick(at(8.5, MONDAY + timedelta(days=1))) if f.kind == "digest"]
    assert (digest.ticket, digest.detail) == ("L2", "2 open, 0 at risk, 2 breached")


def test_dry_run_changes_nothing(desk: Desk) -> None:
    n = desk.ingest(mail(), FRIDAY_5PM)
    desk.clock._at = at(12)
    fired = desk.scheduler.tick(dry_run=True)
    assert [(f.kind, f.detail) for f in fired] == [
        ("breach", "tier L1 -> L2, priority normal -> high")
    ]
    assert {state for *_, state in desk.timers(n)} == {"pending"}
    assert desk.mails("sla_breach") == [] and desk.ticket(n).tier == "L1"


def test_two_schedulers_at_once_fire_each_timer_once(
    tmp_path: Path, db_url: str, engine: Engine
) -> None:
    """Two schedulers (threads with their own connections) race over 60 tickets."""
    d = Desk(tmp_path, db_url, engine, "- name: all\n  then: {tier: L1, sla: urgent}\n")
    tickets = [d.ingest(mail(msgid=f"<m{i}@example.org>"), FRIDAY_5PM) for i in range(60)]
    d.clock._at = FRIDAY_5PM + timedelta(minutes=13)  # every first-response reminder is due
    schedulers = [d.make_scheduler(), d.make_scheduler()]
    for s in schedulers:
        s.batch = 7  # small batches: many rounds of claiming
    start = threading.Barrier(2)
    results: list[list[Any]] = [[], []]

    def work(i: int) -> None:
        start.wait()
        for _ in range(40):  # a busy SQLite or a locked row leaves work for the next tick
            results[i] += schedulers[i].tick()
            with d.sessions() as s:
                if not schedulers[i].due_tickets(s, d.clock.now(), 1):
                    return

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    fired = results[0] + results[1]
    assert sorted(f.ticket for f in fired) == sorted(f"[#{n}]" for n in tickets)
    assert len(d.mails("sla_reminder")) == 60
    for n in tickets:
        assert [s for t, k, _, s in d.timers(n) if t == "first_response"] == ["fired", "pending"]
        assert len(d.events(n, "sla_reminder")) == 1


def test_a_tick_with_the_database_away_logs_one_line(
    desk: Desk, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from maildesk.store.db import make_engine

    gone = make_engine(f"sqlite:///{tmp_path / 'no' / 'such' / 'dir.db'}")
    scheduler = desk.make_scheduler()
    scheduler.sessions = session_factory(gone)
    assert scheduler.tick(at(12)) == []
    [record] = [r for r in caplog.records if r.name == "maildesk.sla"]
    assert record.getMessage().startswith("SLA tick: database unavailable: ")
    assert record.exc_info is None
