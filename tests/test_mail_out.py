"""Mail out: acknowledgements and agent notifications through the outbox, to a real SMTP sink."""

from __future__ import annotations

import email
import email.policy
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from maildesk.clock import FixedClock
from maildesk.config.model import Smtp
from maildesk.intake import Intake
from maildesk.mail import Outgoing
from maildesk.outbox.compose import compose
from maildesk.outbox.humanize import humanize
from maildesk.outbox.relay import close, end_data, open_relay, start_data
from maildesk.outbox.sender import Sender
from maildesk.store import outbox as queue
from maildesk.store.db import make_engine, session_factory
from maildesk.store.models import Event, OutboxMessage
from tests.support.mailout import settings_for
from tests.support.need import free_port
from tests.support.pipeline import T0, mail
from tests.support.smtpsink import Sink


def parsed(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]


def test_acknowledgement_and_notification_arrive_once(
    engine: Engine, db_url: str, tmp_path: Path, smtp_sink: Sink
) -> None:
    settings = settings_for(
        tmp_path, db_url, {"host": "127.0.0.1", "port": smtp_sink.port, "security": "none"}
    )
    clock = FixedClock(T0)
    p = Intake(settings, session_factory(engine), clock)
    out = p.ingest(mail(sender="Alice Example <alice@example.org>"), "test")
    sender = Sender(settings, session_factory(engine), clock)
    assert sender.deliver_due() == 2
    assert sender.deliver_due() == 0
    by_rcpt = {tuple(m.rcpt_tos): parsed(m.data) for m in smtp_sink.messages}
    ack = by_rcpt[("alice@example.org",)]
    token = f"[#{out.ticket_id}]"
    assert ack["Subject"] == f"{token} Printer on fire"
    assert ack["From"] == "Example Support <support@example.com>"
    assert ack["Reply-To"] == f"support+{out.ticket_id}@example.com"
    assert ack["In-Reply-To"] == "<m1@example.org>" and "<m1@example.org>" in ack["References"]
    assert ack["Auto-Submitted"] == "auto-replied" and ack["X-Loop"] == "support@example.com"
    assert ack["Message-ID"].endswith("@example.com>")
    body = ack.get_body(("plain",)).get_content()
    assert "Hello Alice Example" in body and token in body and "within 2 hours" in body
    note = by_rcpt[("agent1@example.com", "agent2@example.com")]
    assert token in note["Subject"] and "It burns." in note.get_body(("plain",)).get_content()
    # The customer's reply to the acknowledgement threads back into the ticket.
    reply = mail(
        "Re: Printer on fire",
        msgid="<m2@example.org>",
        headers=f"In-Reply-To: {ack['Message-ID']}\r\n",
    )
    assert p.ingest(reply, "test").ticket_id == out.ticket_id


def test_no_acknowledgement_to_robots_or_imports(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    settings = settings_for(tmp_path, db_url, {"spool_dir": "out"})
    p = Intake(settings, session_factory(engine), FixedClock(T0))
    p.ingest(mail(headers="Auto-Submitted: auto-replied\r\n"), "test")
    p.ingest(mail(msgid="<m2@x>", sender="b@example.org"), "import", history=True)
    with session_factory(engine)() as s:
        kinds = [r.kind for r in s.scalars(select(OutboxMessage))]
    assert kinds == ["notification"]  # the import: nothing at all


def test_a_burst_gets_a_handful_of_acknowledgements(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    settings = settings_for(tmp_path, db_url, {"spool_dir": "out"}, acknowledgements_per_hour=3)
    clock = FixedClock(T0)
    p = Intake(settings, session_factory(engine), clock)
    for n in range(30):
        # Each its own text: the same one five times would be a robot (a loop suspect).
        p.ingest(mail(f"Question {n}", msgid=f"<burst{n}@x>", body=f"Question {n}?"), "test")
    with session_factory(engine)() as s:
        acks = s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "acknowledgement")).all()
        suppressed = s.scalars(
            select(Event).where(Event.kind == "acknowledgement_suppressed")
        ).all()
    assert (len(acks), len(suppressed)) == (3, 27)
    clock.advance(timedelta(hours=1, minutes=1))
    p.ingest(mail("Later", msgid="<later@x>"), "test")
    with session_factory(engine)() as s:
        assert (
            len(
                s.scalars(
                    select(OutboxMessage).where(OutboxMessage.kind == "acknowledgement")
                ).all()
            )
            == 4
        )


@pytest.mark.servers  # its own aiosmtpd relay, stopped and started
def test_relay_down_then_up_delivers_each_message_exactly_once(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    port = free_port()
    settings = settings_for(
        tmp_path, db_url, {"host": "127.0.0.1", "port": port, "security": "none"}, retry_first="1m"
    )
    clock = FixedClock(T0)
    p = Intake(settings, session_factory(engine), clock)
    for n in range(5):
        p.ingest(mail(f"Q{n}", sender=f"c{n}@example.org", msgid=f"<q{n}@x>", body=f"Q{n}"), "test")
    sender = Sender(settings, session_factory(engine), clock)
    assert sender.deliver_due() == 0  # nobody listens
    with session_factory(engine)() as s:
        rows = s.scalars(select(OutboxMessage)).all()
        assert {r.state for r in rows} == {"pending"} and all(r.attempts == 1 for r in rows)
        assert all("connection refused" in (r.last_error or "") for r in rows)
    assert sender.deliver_due() == 0  # not due yet: backoff
    sink = Sink()
    sink.port = port
    sink.controller.port = port
    sink.start()
    try:
        sink.handler.fail_with = "451 4.3.0 busy"
        clock.advance(timedelta(minutes=1))
        assert sender.deliver_due() == 0
        sink.handler.fail_with = None
        clock.advance(timedelta(minutes=2))
        assert sender.deliver_due() == 10
        assert sender.deliver_due() == 0
        ids = [parsed(m.data)["Message-ID"] for m in sink.messages]
        assert len(ids) == 10 and len(set(ids)) == 10
    finally:
        sink.stop()


def test_giving_up_leaves_an_event_and_a_failed_row(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    settings = settings_for(
        tmp_path,
        db_url,
        {"host": "127.0.0.1", "port": free_port(), "security": "none"},
        give_up_after="1h",
    )
    clock = FixedClock(T0)
    out = Intake(settings, session_factory(engine), clock).ingest(mail(), "test")
    sender = Sender(settings, session_factory(engine), clock)
    for _ in range(12):
        sender.deliver_due()
        clock.advance(timedelta(minutes=30))
    with session_factory(engine)() as s:
        states = {r.state for r in s.scalars(select(OutboxMessage))}
        events = s.scalars(
            select(Event).where(Event.kind == "delivery_failed", Event.ticket_id == out.ticket_id)
        ).all()
    assert states == {"failed"} and len(events) == 2


def test_spool_writes_one_file_per_message(engine: Engine, db_url: str, tmp_path: Path) -> None:
    settings = settings_for(tmp_path, db_url, {"spool_dir": "out"})
    clock = FixedClock(T0)
    Intake(settings, session_factory(engine), clock).ingest(mail(), "test")
    sender = Sender(settings, session_factory(engine), clock)
    assert sender.deliver_due() == 2
    files = sorted((tmp_path / "out").glob("*.eml"))
    assert len(files) == 2
    with session_factory(engine).begin() as s:  # as if we died before recording "sent"
        for row in s.scalars(select(OutboxMessage)):
            row.state = "pending"
    clock.advance(timedelta(minutes=10))
    assert sender.deliver_due() == 2
    assert sorted((tmp_path / "out").glob("*.eml")) == files  # the same files, not new ones


def test_two_senders_reading_the_same_rows_claim_each_once(
    engine: Engine, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process claims while this one has read its due rows (SQLite reads them
    without a lock; PostgreSQL has them locked, so the other skips them): no row is
    leased to both, none to neither."""
    settings = settings_for(tmp_path, db_url, {"spool_dir": "out"})
    clock = FixedClock(T0)
    intake = Intake(settings, session_factory(engine), clock)
    for n in range(5):
        intake.ingest(mail(msgid=f"<race{n}@example.org>"), "test")
    mine = Sender(settings, session_factory(engine), clock)
    other = make_engine(db_url)  # the other process's own connection and turns
    theirs = Sender(settings, session_factory(other), clock)
    read = queue.due
    cut_in: list[int] = []
    turn = ["mine"]

    def due_then_the_other_claims(session, now, limit):  # type: ignore[no-untyped-def]
        rows = read(session, now, limit)
        if turn and turn.pop() == "mine":  # then theirs reads for itself, unhooked
            cut_in.extend(c.id for c in theirs._claim(limit))
        return rows

    monkeypatch.setattr(queue, "due", due_then_the_other_claims)
    try:
        won = [c.id for c in mine._claim(50)]
    finally:
        other.dispose()
    with session_factory(engine)() as s:
        every = set(s.scalars(select(OutboxMessage.id)))
    assert len(every) >= 5 and not set(won) & set(cut_in)
    assert set(won) | set(cut_in) == every


@pytest.mark.parametrize(
    ("minutes", "language", "text"),
    [
        (120, "en", "2 hours"),
        (15, "en", "15 minutes"),
        (60, "en", "1 hour"),
        (120, "ru", "2 часа"),
        (300, "ru", "5 часов"),
        (21, "ru", "21 минута"),
        (1500, "en", "1 day 1 hour"),
    ],
)
def test_humanize(minutes: int, language: str, text: str) -> None:
    assert humanize(timedelta(minutes=minutes), language) == text


@pytest.mark.parametrize(
    ("minutes", "language", "text"),
    [
        (120, "en", "within 2 hours"),
        (60, "ru", "в течение 1 часа"),
        (120, "ru", "в течение 2 часов"),
        (240, "ru", "в течение 4 часов"),
        (300, "ru", "в течение 5 часов"),
        (21 * 60, "ru", "в течение 21 часа"),
        (11 * 60, "ru", "в течение 11 часов"),
        (15, "ru", "в течение 15 минут"),
        (1, "ru", "в течение 1 минуты"),
        (22, "ru", "в течение 22 минут"),
        (1440, "ru", "в течение 1 дня"),
        (2 * 1440 + 120, "ru", "в течение 2 дней 2 часов"),
    ],
)
def test_a_promise_has_the_case_its_phrase_needs(minutes: int, language: str, text: str) -> None:
    from maildesk.outbox.humanize import within

    assert within(timedelta(minutes=minutes), language) == text


def test_status_names_for_customers() -> None:
    from maildesk.outbox.humanize import status_name

    assert [status_name(s, "ru") for s in ("new", "open", "pending", "resolved", "closed")] == [
        "новый",
        "в работе",
        "ждёт вашего ответа",
        "решён",
        "закрыт",
    ]
    assert status_name("resolved", "en") == "resolved"


def test_header_injection_is_impossible() -> None:
    raw = compose(
        Outgoing(
            kind="acknowledgement",
            to=("a@example.org",),
            subject="Hi\r\nBcc: victim@example.net",
            text="x",
            from_name="Evil\r\nBcc: victim@example.net",
        ),
        message_id="<x@example.com>",
        sender="support@example.com",
        reply_to="support@example.com",
        loop_token="support@example.com",
        date=T0,
    )
    message = parsed(raw)
    assert message["Bcc"] is None
    assert "victim" in message["Subject"]  # kept as text, on the one line
    assert raw.count(b"\nBcc:") == 0


def test_end_to_end_from_dovecot_to_the_customer(
    engine: Engine, db_url: str, tmp_path: Path, smtp_sink: Sink, dovecot, imap_account
) -> None:  # type: ignore[no-untyped-def]
    """A customer mail in IMAP -> `run --once` -> the acknowledgement with the token arrives."""
    from maildesk.daemon import Daemon

    settings = settings_for(
        tmp_path, db_url, {"host": "127.0.0.1", "port": smtp_sink.port, "security": "none"}
    )
    box = {
        "name": "support",
        "host": "127.0.0.1",
        "port": dovecot.imap_port,
        "security": "none",
        "username": imap_account.username,
        "password": imap_account.password,
    }
    settings = settings.model_copy(
        update={
            "mailboxes": (
                type(settings)
                .model_validate({**settings.model_dump(), "mailboxes": [box]})
                .mailboxes
            )
        }
    )
    client = dovecot.client(imap_account)
    client.append("INBOX", mail(sender="Alice <alice@example.org>"))
    client.logout()
    daemon = Daemon(settings, Intake(settings, session_factory(engine)))
    assert daemon.run_once() == 1
    [ack] = [parsed(m.data) for m in smtp_sink.messages if m.rcpt_tos == ["alice@example.org"]]
    assert ack["Subject"].startswith("[#") and ack["In-Reply-To"] == "<m1@example.org>"
    assert any(
        m.rcpt_tos == ["agent1@example.com", "agent2@example.com"] for m in smtp_sink.messages
    )


def test_outbox_list_shows_waiting_and_failed_mail(
    run,
    write_desk,
    minimal_config,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    import json

    config = write_desk(minimal_config())
    run("-c", str(config), "db", "upgrade")
    message = tmp_path / "m.eml"
    message.write_bytes(mail(sender="alice@example.org"))
    assert run("-c", str(config), "ingest", str(message))[0] == 0
    code, out, _ = run("-c", str(config), "outbox", "list", "--json")
    rows = json.loads(out)
    assert code == 0 and sorted(r["kind"] for r in rows) == ["acknowledgement", "notification"]
    assert all(r["state"] == "pending" for r in rows)
    code, out, _ = run("-c", str(config), "run", "--once")
    assert code == 0
    code, out, _ = run("-c", str(config), "outbox", "list")
    # Not "outbox is empty": it holds the two sent mails, which the default filter hides.
    assert (code, out.strip()) == (
        0,
        "no pending or failed mail (2 sent; see them with --state sent)",
    )
    code, out, _ = run("-c", str(config), "outbox", "list", "--state", "sent", "--json")
    assert len(json.loads(out)) == 2
    assert len(list((config.parent / "outgoing").glob("*.eml"))) == 2


def test_handover_in_two_steps_keeps_dots_and_line_ends(smtp_sink: Sink) -> None:
    """start_data + end_data (the sender's split at the final dot) deliver the mail intact."""
    raw = b"Subject: dots\r\n\r\n.leading dot\r\n..two\nbare LF line\r\n.\r\nlast"
    relay = open_relay(Smtp(host="127.0.0.1", port=smtp_sink.port, security="none"), None)
    try:
        assert start_data(relay, "a@example.com", ["b@example.org", "c@example.org"], raw) is None
        assert end_data(relay) is None
        smtp_sink.handler.fail_with = "451 4.3.0 try later"
        assert start_data(relay, "a@example.com", ["b@example.org"], raw) is None
        assert end_data(relay) == "451 4.3.0 try later"
    finally:
        close(relay)
    (got,) = smtp_sink.messages
    assert got.rcpt_tos == ["b@example.org", "c@example.org"]
    assert got.data == raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n") + b"\r\n"


def test_header_text_from_customers_cannot_break_composing() -> None:
    """A subject with a broken encoded word, or an undecodable byte, still makes a mail."""
    cases = {
        "=?utf-8?Q?=D1=80=D0=B═=D0=│B=D1=": "= ?utf-8?Q?=D1=80=D0=B═=D0=│B=D1=",
        "caf\udce9 au lait": "caf\ufffd au lait",
    }
    for subject, shown in cases.items():
        raw = compose(
            Outgoing(kind="acknowledgement", to=("c@example.org",), subject=subject, text="t"),
            message_id="<m@example.com>",
            sender="support@example.com",
            reply_to="support@example.com",
            loop_token="support@example.com",
            date=T0,
        )
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert str(parsed["Subject"]) == shown


@given(
    text=st.text(max_size=3000),
    html=st.one_of(st.none(), st.text(min_size=1, max_size=500)),
)
@settings(max_examples=300, deadline=None)
def test_any_text_comes_back_as_written_in_7bit_mail(text: str, html: str | None) -> None:
    """The hand-written MIME body: ASCII only, no defects, the text intact (line
    endings aside) in the plain part and the HTML in its own."""
    raw = compose(
        Outgoing(kind="acknowledgement", to=("a@example.org",), subject="S", text=text, html=html),
        message_id="<x@example.com>",
        sender="support@example.com",
        reply_to="support@example.com",
        loop_token="support@example.com",
        date=T0,
    )
    assert raw.isascii()
    message = parsed(raw)
    assert all(not part.defects for part in message.walk())

    def lines(value: str) -> list[str]:
        return value.replace("\r\n", "\n").replace("\r", "\n").removesuffix("\n").split("\n")

    plain = message.get_body(("plain",))
    assert plain is not None and lines(str(plain.get_content())) == lines(text)
    if html:
        part = message.get_body(("html",))
        # Non-ASCII letters travel as character references (the same page, 7bit).
        as_sent = html.encode("ascii", "xmlcharrefreplace").decode()
        assert part is not None and lines(str(part.get_content())) == lines(as_sent)
