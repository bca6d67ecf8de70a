"""Loops end whatever the headers say: hourly budgets, the same text again, our own mail
quoted back (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine, select

from maildesk.clock import FixedClock
from maildesk.guards import Ours, judge
from maildesk.parse import parse_mail
from maildesk.store.db import session_factory
from maildesk.store.models import Event, Message
from tests.support.pipeline import mail
from tests.support.trust import desk, outbox


def events(engine: Engine, kind: str) -> list[Event]:
    with session_factory(engine)() as s:
        return list(s.scalars(select(Event).where(Event.kind == kind)))


def test_a_ticket_gets_at_most_its_hourly_budget(engine: Engine, tmp_path: Path) -> None:
    p = desk(engine, tmp_path, outbox={"per_ticket_per_hour": 4})
    clock = p.clock
    assert isinstance(clock, FixedClock)
    n = p.ingest(mail(sender="alice@example.org"), "test").ticket_id  # ack + notification
    for i in range(6):
        reply = mail(f"Re: [#{n}] x", sender="alice@example.org", msgid=f"<r{i}@x>", body=f"{i}")
        assert p.ingest(reply, "test").status == "stored"
    mails = [o for o in outbox(engine) if o.kind != "loop_alert"]
    assert [o.kind for o in mails] == [
        "acknowledgement",
        "notification",
        "customer_reply",
        "customer_reply",
    ]
    assert len(events(engine, "mail_suppressed")) == 4
    [alert] = outbox(engine, "loop_alert")
    assert alert.recipients == ["lead@example.com"] and b"4 mails about ticket" in alert.raw
    clock.advance(timedelta(hours=1))
    p.ingest(mail(f"Re: [#{n}] x", sender="alice@example.org", msgid="<later@x>", body="?"), "test")
    assert len(outbox(engine, "customer_reply")) == 3  # a new hour, a new budget
    assert len(outbox(engine, "loop_alert")) == 1  # once a day per ticket


def test_one_address_gets_at_most_its_hourly_budget(engine: Engine, tmp_path: Path) -> None:
    p = desk(engine, tmp_path, outbox={"per_address_per_hour": 2, "acknowledgements_per_hour": 9})
    for i in range(4):
        p.ingest(mail(f"Question {i}", msgid=f"<q{i}@x>", body=f"Question {i}?"), "test")
    acks = outbox(engine, "acknowledgement")
    assert [a.recipients for a in acks] == [["alice@example.org"]] * 2
    assert len(outbox(engine, "notification")) == 4  # agents have no address budget
    why = {e.detail["why"] for e in events(engine, "mail_suppressed")}
    assert why == {"2 mails to alice@example.org this hour already"}


def test_the_same_text_again_and_again_is_a_robot(engine: Engine, tmp_path: Path) -> None:
    p = desk(engine, tmp_path, outbox={"same_text_per_hour": 3})
    for i in range(5):
        out = p.ingest(
            mail(f"Hello {i}", sender=f"robot{i}@loop.example", msgid=f"<l{i}@x>", body="Hi THERE"),
            "test",
        )
        assert out.status == "stored" and out.auto_reply is (i < 2)
    assert len(outbox(engine, "acknowledgement")) == 2
    assert len(outbox(engine, "notification")) == 2  # a robot's tickets are not announced
    assert len(outbox(engine, "loop_alert")) == 1
    with session_factory(engine)() as s:
        kinds = [m.kind for m in s.scalars(select(Message).order_by(Message.id))]
    assert kinds == ["mail", "mail", "auto", "auto", "auto"]


def test_our_own_mail_quoted_with_its_headers_is_a_loop() -> None:
    ours = Ours(frozenset({"support@example.com"}), "support@example.com", "example.com")
    ack_id = "<md.12.0123456789abcdef0123456789abcdef@example.com>"
    for text in (f"> Message-ID: {ack_id}", "> X-Loop: support@example.com", f"Re {ack_id}"):
        raw = f"From: r@x.example\r\nSubject: x\r\n\r\nThanks.\r\n{text}\r\n".encode()
        verdict = judge(parse_mail(raw), ours)
        assert verdict.loop and verdict.loop_suspect, text
    human = b"From: r@x.example\r\nSubject: x\r\n\r\nWrite to support@example.com.\r\n"
    assert not judge(parse_mail(human), ours).loop_suspect


def test_the_alert_is_not_held_back_by_the_budget_it_reports(
    engine: Engine, tmp_path: Path
) -> None:
    p = desk(engine, tmp_path, outbox={"per_ticket_per_hour": 1})
    p.ingest(mail(), "test")
    assert [o.kind for o in outbox(engine)] == ["acknowledgement", "loop_alert"]
    [suppressed] = events(engine, "mail_suppressed")
    assert suppressed.detail["kind"] == "notification"
