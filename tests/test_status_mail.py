"""Status by mail: "status" gets the sender's open tickets, not a new ticket.

Through the desk's intake and the real SMTP sink, on SQLite and PostgreSQL;
one test the whole way through Dovecot and `maildesk run --once`.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from maildesk.store.models import Event, QuarantinedMessage, Ticket
from tests.support.dovecot import Account, Dovecot
from tests.support.pipeline import mail
from tests.support.processes import maildesk
from tests.support.sinkdesk import Desk, imap_desk, parsed
from tests.support.smtpsink import Sink
from tests.support.sources import append


@pytest.fixture
def desk(engine: Engine, db_url: str, tmp_path: Path, smtp_sink: Sink) -> Desk:
    return Desk(engine, db_url, tmp_path, smtp_sink)


def status(
    subject: str = "status", body: str = "", msgid: str = "<s1@example.org>", **kw: str
) -> bytes:
    return mail(subject, msgid=msgid, body=body, **kw)


def tickets(desk: Desk) -> int:
    with desk.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(Ticket)) or 0)


def test_status_lists_the_senders_open_tickets(desk: Desk) -> None:
    first = desk.send(mail("Printer on fire", msgid="<a1@example.org>"))
    second = desk.send(mail("VPN down", msgid="<a2@example.org>"))
    desk.send(mail("Other person", sender="Bob <bob@elsewhere.example>", msgid="<b1@x>"))
    desk.clock.advance(timedelta(minutes=5))
    desk.sink.messages.clear()
    outcome = desk.intake.ingest(status(), "test")
    desk.sender.deliver_due()
    assert outcome.status == "status" and outcome.ticket_id is None
    assert "2 open ticket(s) listed" in outcome.detail
    assert tickets(desk) == 3  # no new ticket
    [answer] = desk.to("alice@example.org")
    text = answer.get_body(("plain",)).get_content()
    assert f"[#{first}] Printer on fire" in text and f"[#{second}] VPN down" in text
    assert "Other person" not in text  # only the sender's own tickets
    assert "next answer by" in text
    assert answer["In-Reply-To"] == "<s1@example.org>"
    assert answer["Auto-Submitted"] == "auto-replied"
    assert desk.to("bob@elsewhere.example") == []


def test_the_same_status_mail_twice_is_answered_once(desk: Desk) -> None:
    desk.send(mail("Printer on fire", msgid="<a1@example.org>"))
    desk.sink.messages.clear()
    assert desk.intake.ingest(status(), "test").status == "status"
    assert desk.intake.ingest(status(), "test").status == "duplicate"
    desk.sender.deliver_due()
    assert len(desk.to("alice@example.org")) == 1
    with desk.sessions() as s:
        [kept] = s.scalars(select(QuarantinedMessage)).all()
        assert (kept.kind, kept.state, kept.sender) == ("status", "released", "alice@example.org")


@pytest.mark.parametrize(
    ("subject", "body", "asks"),
    [
        ("Status", "", True),
        ("Re: STATUS?", "", True),
        ("статус", "", True),
        ("Question", "Status\n\nthanks", True),
        ("Status of my order 1234", "Where is it?", False),
        ("Printer", "What is the status of my printer?", False),
        ("Status", " ".join(["word"] * 25), False),  # a report titled "status"
    ],
)
def test_which_mail_asks_for_the_status(desk: Desk, subject: str, body: str, asks: bool) -> None:
    outcome = desk.intake.ingest(status(subject, body or "x"), "test")
    assert (outcome.status == "status") is asks
    assert (tickets(desk) == 0) is asks


def test_a_status_mail_with_a_file_is_a_report(desk: Desk) -> None:
    """The test corpus holds a "статус" mail with a file attached: a report, not a question."""
    raw = (
        b"From: Alice <alice@example.org>\r\nTo: support@example.com\r\nSubject: status\r\n"
        b"Message-ID: <r1@example.org>\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\nSee the file.\r\n"
        b"--b\r\nContent-Type: application/pdf\r\n"
        b'Content-Disposition: attachment; filename="week.pdf"\r\n\r\n%PDF-1.4\r\n--b--\r\n'
    )
    assert desk.intake.ingest(raw, "test").status == "stored"


def test_russian_gets_the_russian_list(desk: Desk) -> None:
    desk.send(mail("Принтер горит", msgid="<a1@example.org>", body="Принтер горит, помогите."))
    desk.sink.messages.clear()
    desk.intake.ingest(status("статус", "Какой статус моих заявок?"), "test")
    desk.sender.deliver_due()
    [answer] = desk.to("alice@example.org")
    assert "Ваши открытые запросы" in answer.get_body(("plain",)).get_content()


def test_a_reply_with_a_token_is_no_status_request(desk: Desk) -> None:
    first = desk.send(mail("Printer on fire", msgid="<a1@example.org>"))
    outcome = desk.intake.ingest(status(f"Re: [#{first}] status", "status"), "test")
    assert (outcome.status, outcome.ticket_id) == ("stored", first)


def test_no_list_for_a_robot_or_too_often(desk: Desk) -> None:
    desk.send(mail("Printer on fire", msgid="<a1@example.org>"))
    desk.sink.messages.clear()
    robot = desk.intake.ingest(
        status(msgid="<r1@x>", headers="Auto-Submitted: auto-replied\r\n"), "test"
    )
    assert robot.status == "status"
    for n in range(5):
        desk.intake.ingest(status(msgid=f"<again{n}@x>"), "test")
    desk.sender.deliver_due()
    assert len(desk.to("alice@example.org")) == 3  # status_per_hour
    with desk.sessions() as s:
        refused = s.scalars(select(Event.detail).where(Event.kind == "status_refused")).all()
        whys = [d["why"] for d in refused]
        assert any("automatic" in w for w in whys)
        assert sum("this hour already" in w for w in whys) == 2


def test_with_a_trusted_mta_only_an_authenticated_sender_gets_the_list(
    engine: Engine, db_url: str, tmp_path: Path, smtp_sink: Sink
) -> None:
    desk = Desk(engine, db_url, tmp_path, smtp_sink)
    settings = desk.intake.settings
    trust = settings.trust.model_copy(update={"authserv_id": ("mx.example.com",)})
    from maildesk.intake import Intake

    desk.intake = Intake(settings.model_copy(update={"trust": trust}), desk.sessions, desk.clock)
    desk.send(mail("Printer on fire", msgid="<a1@example.org>"))
    desk.sink.messages.clear()
    desk.intake.ingest(status(msgid="<n1@x>"), "test")  # no word from our MTA
    failed = "Authentication-Results: mx.example.com; dmarc=fail header.from=example.org\r\n"
    desk.intake.ingest(status(msgid="<f1@x>", headers=failed), "test")  # a forged From
    passed = "Authentication-Results: mx.example.com; dmarc=pass header.from=example.org\r\n"
    desk.intake.ingest(status(msgid="<p1@x>", headers=passed), "test")
    desk.sender.deliver_due()
    [answer] = desk.to("alice@example.org")
    assert answer["In-Reply-To"] == "<p1@x>"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_status_through_dovecot_and_a_daemon(
    tmp_path: Path, db_url: str, dovecot: Dovecot, imap_account: Account, smtp_sink: Sink
) -> None:
    config = imap_desk(
        tmp_path, db_url, dovecot, imap_account, smtp_sink, tiers='[[tiers]]\nname = "L1"\n'
    )
    append(dovecot, imap_account, [mail("Printer on fire", msgid="<a1@example.org>")])
    assert maildesk(config, "run", "--once").wait(120) == 0
    smtp_sink.messages.clear()
    append(dovecot, imap_account, [status()])
    assert maildesk(config, "run", "--once").wait(120) == 0
    assert maildesk(config, "run", "--once").wait(120) == 0
    answers = [parsed(m.data) for m in smtp_sink.messages if m.rcpt_tos == ["alice@example.org"]]
    assert len(answers) == 1 and "Printer on fire" in answers[0].get_body(("plain",)).get_content()
