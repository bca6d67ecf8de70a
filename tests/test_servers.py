"""The server fixtures themselves: real Dovecot, a real SMTP sink, real PostgreSQL."""

from __future__ import annotations

import smtplib

from sqlalchemy import create_engine, text

from tests.support.dovecot import Account, Dovecot
from tests.support.smtpsink import Sink

MESSAGE = (
    b"From: alice@example.org\r\nTo: support@example.com\r\nSubject: hello\r\n"
    b"Message-ID: <fixture-1@example.org>\r\n\r\nIs anyone there?\r\n"
)


def test_dovecot_stores_and_returns_a_message(dovecot: Dovecot, imap_account: Account) -> None:
    client = dovecot.client(imap_account)
    try:
        client.append("INBOX", MESSAGE)
        info = client.select_folder("INBOX")
        assert info[b"EXISTS"] == 1
        uids = client.search()
        fetched = client.fetch(uids, ["RFC822"])
        assert fetched[uids[0]][b"RFC822"].replace(b"\r\n", b"\n") == MESSAGE.replace(
            b"\r\n", b"\n"
        )
        assert b"IDLE" in client.capabilities() and b"MOVE" in client.capabilities()
    finally:
        client.logout()


def test_each_account_has_its_own_mailbox(dovecot: Dovecot) -> None:
    first, second = dovecot.add_account(), dovecot.add_account()
    c1 = dovecot.client(first)
    c1.append("INBOX", MESSAGE)
    c1.logout()
    c2 = dovecot.client(second)
    try:
        assert c2.select_folder("INBOX")[b"EXISTS"] == 0
    finally:
        c2.logout()


def test_smtp_sink_keeps_what_it_receives(smtp_sink: Sink) -> None:
    with smtplib.SMTP(smtp_sink.host, smtp_sink.port, timeout=10) as client:
        client.sendmail("support@example.com", ["alice@example.org"], MESSAGE)
    assert len(smtp_sink.messages) == 1
    got = smtp_sink.messages[0]
    assert got.rcpt_tos == ["alice@example.org"]
    assert b"Subject: hello" in got.data


def test_smtp_sink_can_be_told_to_fail(smtp_sink: Sink) -> None:
    smtp_sink.handler.fail_with = "451 4.3.0 try later"
    with smtplib.SMTP(smtp_sink.host, smtp_sink.port, timeout=10) as client:
        try:
            client.sendmail("support@example.com", ["alice@example.org"], MESSAGE)
        except smtplib.SMTPDataError as exc:
            assert exc.smtp_code == 451
        else:
            raise AssertionError("the sink accepted a message it was told to refuse")
    assert smtp_sink.messages == []


def test_postgres_database_is_fresh_and_writable(postgres_url: str) -> None:
    engine = create_engine(postgres_url)
    try:
        with engine.begin() as conn:
            tables = conn.execute(
                text("select count(*) from information_schema.tables where table_schema='public'")
            ).scalar()
            assert tables == 0
            conn.execute(text("create table t (x int)"))
            conn.execute(text("insert into t values (42)"))
            assert conn.execute(text("select x from t")).scalar() == 42
    finally:
        engine.dispose()
