"""The weekly report by mail: due at its hour, once a week, through a kill -9 and two
daemons at once; real `maildesk run` processes and the SMTP sink as the relay."""

from __future__ import annotations

import shutil
from collections import Counter
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import func, select, update

from maildesk.clock import FixedClock
from maildesk.config import load_settings
from maildesk.intake import Intake
from maildesk.reports.weekly import WeeklyReport
from maildesk.sla.calendar import BusinessCalendar
from maildesk.starter import starter_dir
from maildesk.store.db import make_engine, session_factory
from maildesk.store.models import OutboxMessage, ReportMailing
from maildesk.store.schema import upgrade
from tests.support.agent import agent_reply
from tests.support.pipeline import mail
from tests.support.reliability import daemon, kill_when
from tests.support.smtpsink import Sink

READERS = 100  # report.to: enough mails that a kill lands while they are handed over
MONDAY = datetime(2026, 11, 23, 8, 5, tzinfo=UTC)  # weekly = "mon 08:00", calendar UTC


def at(moment: datetime) -> str:
    return moment.isoformat()


def weekly_desk(tmp_path: Path, db_url: str, sink: Sink) -> Path:
    """A desk with no mailbox (it only keeps the clock), a tier lead and READERS more
    readers, and a week of tickets, three of them answered by bob in 40 minutes."""
    readers = ", ".join(f'"reader{n}@example.net"' for n in range(READERS))
    config = tmp_path / "maildesk.toml"
    config.write_text(
        '[helpdesk]\naddress = "support@example.com"\nname = "Example Support"\n'
        f'[database]\nurl = "{db_url}"\n'
        f'[smtp]\nhost = "127.0.0.1"\nport = {sink.port}\nsecurity = "none"\n'
        f'[report]\nweekly = "mon 08:00"\nto = [{readers}]\n'
        '[[tiers]]\nname = "L1"\nagents = ["bob@example.com"]\nlead = "lead@example.com"\n'
    )
    (tmp_path / "rules").mkdir()
    shutil.copytree(starter_dir("templates"), tmp_path / "templates")
    engine = make_engine(db_url)
    try:
        upgrade(engine)
        clock = FixedClock(datetime(2026, 11, 17, 10, 0, tzinfo=UTC))
        intake = Intake(load_settings(config), session_factory(engine), clock)
        numbers = []
        for n in range(6):
            outcome = intake.ingest(mail(f"VPN down {n}", msgid=f"<v{n}@example.org>"), "setup")
            numbers.append(outcome.ticket_id)
        clock.advance(timedelta(minutes=40))
        for n in numbers[:3]:
            assert n is not None
            intake.ingest(agent_reply(n, "thunderbird", msgid=f"<bob{n}@example.com>"), "setup")
        with session_factory(engine).begin() as s:  # the setup's own mails are not under test
            s.execute(update(OutboxMessage).values(state="sent"))
    finally:
        engine.dispose()
    return config


def reports(sink: Sink) -> list[tuple[str, str, EmailMessage]]:
    """(recipient, Message-ID, mail) of every weekly report the relay took."""
    found = []
    for m in list(sink.handler.messages):
        parsed = message_from_bytes(m.data, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        if "the week" in str(parsed["Subject"]):
            found.append((m.rcpt_tos[0], str(parsed["Message-ID"]), parsed))
    return found


def mailings(db_url: str) -> list[tuple[str, int]]:
    engine = make_engine(db_url)
    try:
        with session_factory(engine)() as s:
            rows = s.execute(select(ReportMailing.week, ReportMailing.recipients)).all()
            weekly = s.scalar(
                select(func.count()).where(
                    OutboxMessage.kind == "weekly_report", OutboxMessage.state == "sent"
                )
            )
            assert weekly == sum(n for _, n in rows)  # every mail written was sent
            return sorted((str(w), int(n)) for w, n in rows)
    finally:
        engine.dispose()


def run_once(config: Path, moment: datetime) -> None:
    process = daemon(config, "--once", "--now", at(moment))
    assert process.wait(timeout=300) == 0, (config.parent / "maildesk.log").read_text()[-3000:]


def test_the_week_reported_and_when(tmp_path: Path) -> None:
    """Due from the scheduled minute on, for the seven days before that day; a daemon
    that was down then sends it later the same week."""
    config = tmp_path / "maildesk.toml"
    config.write_text(
        '[helpdesk]\naddress = "support@example.com"\n[smtp]\nspool_dir = "out"\n'
        '[calendar]\ntimezone = "Europe/Berlin"\n'
        '[report]\nweekly = "mon 08:00"\nto = ["boss@example.com"]\n'
    )
    settings = load_settings(config)
    weekly = WeeklyReport(settings, None, None, lambda: BusinessCalendar.from_settings(settings))  # type: ignore[arg-type]
    # 07:59 in Berlin is 06:59 UTC: still last week's report (W46) is the newest due.
    early = weekly.due(datetime(2026, 11, 23, 6, 59, tzinfo=UTC))
    assert early is not None and early.week == "2026-W46"
    due = weekly.due(datetime(2026, 11, 23, 7, 0, tzinfo=UTC))
    assert due is not None and (due.week, str(due.first), str(due.last)) == (
        "2026-W47",
        "2026-11-16",
        "2026-11-22",
    )
    assert due.since == datetime(2026, 11, 15, 23, 0, tzinfo=UTC)  # Monday 00:00 in Berlin
    assert due.until == datetime(2026, 11, 22, 23, 0, tzinfo=UTC)
    later = weekly.due(datetime(2026, 11, 29, 22, 0, tzinfo=UTC))  # Sunday night
    assert later is not None and later.week == "2026-W47"
    assert weekly.recipients() == ["boss@example.com"]


def test_weekly_report_once_through_a_kill_9_and_two_daemons(
    tmp_path: Path, db_url: str, smtp_sink: Sink
) -> None:
    config = weekly_desk(tmp_path, db_url, smtp_sink)
    everyone = {"lead@example.com", *(f"reader{n}@example.net" for n in range(READERS))}

    # W47 is due at 08:00: the daemon is killed while it hands the mails to the relay.
    process = daemon(config, "--once", "--now", at(MONDAY))
    assert kill_when(process, lambda: len(reports(smtp_sink)) >= 20, 0.0), "ended first"
    in_flight = len(reports(smtp_sink))
    assert 20 <= in_flight < READERS + 1, in_flight
    run_once(config, MONDAY + timedelta(minutes=6))  # past the killed one's outbox lease
    got = reports(smtp_sink)
    per_reader = Counter(to for to, _, _ in got)
    assert set(per_reader) == everyone
    twice = {to for to, n in per_reader.items() if n > 1}
    assert len(twice) <= 1, twice  # at most the one mail in flight at the kill
    for to in twice:
        assert len({mid for who, mid, _ in got if who == to}) == 1  # the same mail again
    assert mailings(db_url) == [("2026-W47", READERS + 1)]

    # What the lead reads: the week's numbers as text, the page as HTML and attached.
    lead = next(m for to, _, m in got if to == "lead@example.com")
    assert lead["Subject"] == "Example Support: the week 2026-11-16 to 2026-11-22, 6 tickets"
    text = lead.get_body(("plain",))
    assert text is not None
    words = text.get_content()
    assert "- tickets: 6" in words and "bob@example.com: 3, 40 min" in words
    html = lead.get_body(("html",))
    assert html is not None
    page = html.get_content()
    assert page.count("<svg") >= 5 and "<script" not in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in page
    [attached] = [p for p in lead.iter_attachments() if p.get_filename()]
    assert attached.get_filename() == "report-2026-W47.html"
    assert "Agents" in attached.get_content()

    # Two daemons at the same minute of the next week: one mailing, each reader once.
    smtp_sink.handler.messages.clear()
    next_monday = MONDAY + timedelta(days=7, minutes=10)
    both = [daemon(config, "--once", "--now", at(next_monday)) for _ in range(2)]
    assert [p.wait(timeout=300) for p in both] == [0, 0]
    assert mailings(db_url) == [("2026-W47", READERS + 1), ("2026-W48", READERS + 1)]
    assert Counter(to for to, _, _ in reports(smtp_sink)) == dict.fromkeys(everyone, 1)
