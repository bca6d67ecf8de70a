"""A ticket pending on its customer: one reminder, then resolved, in business days.

The policy says close_pending_days = 3. Bob sets the ticket pending on
Friday 20 November 2026, 10:00 UTC (business days Monday to Friday): the
reminder is due Tuesday 24th 10:00 (a day before), the close Wednesday 25th
10:00: Monday, Tuesday and Wednesday are the three business days.
Through the intake, the SLA scheduler's tick and the real SMTP sink.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from maildesk.clock import FixedClock
from maildesk.intake import Intake
from maildesk.outbox.sender import Sender
from maildesk.sla.scheduler import SlaScheduler
from maildesk.store.models import Event, SlaTimer, Survey, Ticket
from tests.support.pipeline import mail
from tests.support.sinkdesk import Desk, agent
from tests.support.smtpsink import Sink

FRIDAY = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


class Waiting(Desk):
    def __init__(self, engine: Engine, db_url: str, tmp_path: Path, sink: Sink) -> None:
        super().__init__(engine, db_url, tmp_path, sink)
        settings = self.intake.settings
        policy = settings.sla_policies[0].model_copy(update={"close_pending_days": 3})
        calendar = settings.calendar.model_copy(update={"hours": ("09:00-18:00",)})
        settings = settings.model_copy(update={"sla_policies": (policy,), "calendar": calendar})
        self.clock = FixedClock(FRIDAY)
        self.intake = Intake(settings, self.sessions, self.clock)
        self.sender = Sender(settings, self.sessions, self.clock)
        self.sla = SlaScheduler(
            settings,
            self.sessions,
            self.clock,
            self.intake.mailer,
            lambda: self.intake.router.calendar,
        )

    def at(self, moment: datetime) -> list[str]:
        self.clock._at = moment  # the scheduler's tick as of that moment
        fired = self.sla.tick()
        self.sender.deliver_due()
        return [f"{f.kind} {f.target}" for f in fired]


@pytest.fixture
def desk(engine: Engine, db_url: str, tmp_path: Path, smtp_sink: Sink) -> Waiting:
    return Waiting(engine, db_url, tmp_path, smtp_sink)


def pending(desk: Waiting) -> int:
    n = desk.send(mail("Printer on fire", msgid="<a1@example.org>"))
    desk.send(agent(n, "#status pending\n", "<b1@x>", "Which model is it?"))
    desk.sink.messages.clear()
    return n


def test_one_reminder_then_resolved_in_business_days(desk: Waiting) -> None:
    n = pending(desk)
    assert desk.at(datetime(2026, 11, 24, 9, 59, tzinfo=UTC)) == []
    assert desk.at(datetime(2026, 11, 24, 10, 0, tzinfo=UTC)) == ["reminder waiting"]
    [reminder] = desk.to("alice@example.org")
    assert "not heard back" in reminder.get_body(("plain",)).get_content()
    assert "Wed 25 Nov 2026 10:00" in reminder.get_body(("plain",)).get_content()
    assert desk.at(datetime(2026, 11, 24, 16, 0, tzinfo=UTC)) == []  # once
    assert desk.at(datetime(2026, 11, 25, 10, 0, tzinfo=UTC)) == ["closed waiting"]
    with desk.sessions() as s:
        ticket = s.get(Ticket, n)
        assert ticket is not None and (ticket.status, ticket.resolution) == ("resolved", "no_reply")
        assert s.scalars(select(Survey)).all() == []  # nobody answered: no survey
        assert (
            s.scalars(select(SlaTimer).where(SlaTimer.state.in_(("pending", "paused")))).all() == []
        )
    closed = [
        m
        for m in desk.to("alice@example.org")
        if "marked it resolved" in m.get_body(("plain",)).get_content()
    ]
    assert len(closed) == 1
    # The customer writes after all: the ticket is open again.
    reply = desk.intake.ingest(
        mail(f"Re: [#{n}] Printer on fire", msgid="<a2@example.org>"), "test"
    )
    assert reply.ticket_id == n
    with desk.sessions() as s:
        assert s.get(Ticket, n).status == "open"  # type: ignore[union-attr]


def test_a_reply_while_pending_stops_the_clock(desk: Waiting) -> None:
    n = pending(desk)
    desk.clock._at = FRIDAY + timedelta(hours=2)
    desk.intake.ingest(
        mail(f"Re: [#{n}] Printer on fire", msgid="<a2@example.org>", body="HP 4000."), "test"
    )
    fired = desk.at(datetime(2026, 11, 30, 10, 0, tzinfo=UTC))
    assert [f for f in fired if "waiting" in f] == []
    with desk.sessions() as s:
        ticket = s.get(Ticket, n)
        assert ticket is not None and ticket.status == "open"
        kinds = s.scalars(select(Event.kind).where(Event.kind == "waiting_reminded")).all()
        assert kinds == []
    assert [
        m
        for m in desk.to("alice@example.org")
        if "not heard back" in m.get_body(("plain",)).get_content()
    ] == []


def test_without_the_setting_a_pending_ticket_waits_for_ever(
    engine: Engine, db_url: str, tmp_path: Path, smtp_sink: Sink
) -> None:
    desk = Desk(engine, db_url, tmp_path, smtp_sink)
    n = desk.send(mail("Printer on fire", msgid="<a1@example.org>"))
    desk.send(agent(n, "#status pending\n", "<b1@x>", "Which model?"))
    with desk.sessions() as s:
        waiting = s.scalars(select(SlaTimer).where(SlaTimer.target == "waiting")).all()
        assert waiting == []


def test_business_days_skip_weekends_and_holidays() -> None:
    from datetime import date, time
    from zoneinfo import ZoneInfo

    from maildesk.sla.calendar import BusinessCalendar

    calendar = BusinessCalendar(
        zone=ZoneInfo("Europe/Berlin"),
        days=frozenset(range(5)),
        hours=((time(9), time(18)),),
        holidays=frozenset({date(2026, 11, 24)}),
    )
    start = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)  # Friday 10:00 in Berlin
    assert calendar.add_days(start, 3) == datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    assert calendar.add_days(start, 0) == start
