"""Resource limits and the smaller poison cases of issue 20, end to end.

A desk from `maildesk init` runs with its SMTP listener and a real relay (the
aiosmtpd sink), or the listener runs in-process on SQLite and PostgreSQL.
"""

from __future__ import annotations

import smtplib
import socket
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from maildesk import metrics as metrics_module
from maildesk.intake import Intake
from maildesk.metrics import HTTP_CONNECTIONS, Metrics, start_http
from maildesk.sources import receive
from maildesk.store.db import make_engine, session_factory
from maildesk.store.models import Message
from maildesk.store.schema import upgrade
from tests.support.attacks import (
    AGENT,
    ALICE,
    arrives,
    cli_json,
    daemon,
    everyone,
    init_desk,
    mail,
    send,
)
from tests.support.need import free_port
from tests.support.processes import wait_until
from tests.support.smtpsink import Sink
from tests.support.sources import listening, settings_for

VICTIM = "victim@innocent.example"


def test_3000_cc_never_make_a_reply_go_to_3001(tmp_path: Path, smtp_sink: Sink) -> None:
    config, port = init_desk(tmp_path, smtp_sink)
    crowd = [f"person{i}@crowd.example" for i in range(3000)]
    with daemon(config, port):
        first = mail(ALICE, "Printer", "It jams.", "<cc1@c>", headers=f"Cc: {', '.join(crowd)}\r\n")
        send(port, first, ALICE)
        ack = arrives(smtp_sink, ALICE, lambda m: "Printer" in str(m["Subject"]))
        n = int(str(ack["Subject"]).split("[#")[1].split("]")[0])
        answer = mail(AGENT, f"Re: [#{n}] Printer", "Open the tray.", "<g1@example.com>")
        send(port, answer, AGENT)
        arrives(smtp_sink, ALICE, lambda m: "Open the tray" in m.get_body(("plain",)).get_content())
        shown = cli_json(config, "tickets", "show", str(n))
    [relay] = [
        m for m in smtp_sink.handler.messages if b"Open the tray" in m.data and ALICE in m.rcpt_tos
    ]
    assert len(relay.rcpt_tos) == 21 and relay.rcpt_tos[0] == ALICE  # the requester and 20
    assert set(relay.rcpt_tos[1:]) == set(crowd[:20])
    held = [e for e in shown["events"] if e["kind"] == "participants_held"]  # type: ignore[index]
    assert held and held[0]["detail"]["count"] == 2980


def test_only_the_requester_says_solved(tmp_path: Path, smtp_sink: Sink) -> None:
    config, port = init_desk(tmp_path, smtp_sink)
    colleague = "carol@customer.example"
    with daemon(config, port):
        first = mail(
            ALICE, "VPN down", "It does not connect.", "<v1@c>", headers=f"Cc: {colleague}\r\n"
        )
        send(port, first, ALICE)
        ack = arrives(smtp_sink, ALICE, lambda m: "VPN down" in str(m["Subject"]))
        n = int(str(ack["Subject"]).split("[#")[1].split("]")[0])
        send(port, mail(colleague, f"Re: [#{n}] VPN down", "Solved", "<v2@c>"), colleague)
        wait_until(lambda: cli_json(config, "tickets", "show", str(n))["message_count"] == 2, 30)  # type: ignore[index, call-overload]
        assert cli_json(config, "tickets", "show", str(n))["status"] == "new"  # type: ignore[index, call-overload]
        send(port, mail(ALICE, f"Re: [#{n}] VPN down", "Solved", "<v3@c>"), ALICE)
        wait_until(lambda: cli_json(config, "tickets", "show", str(n))["status"] == "resolved", 30)  # type: ignore[index, call-overload]


def test_an_encoded_word_cannot_add_a_recipient(tmp_path: Path, smtp_sink: Sink) -> None:
    """=?utf-8?q?bob=40customer.example=2Cvictim=40innocent.example?= is no address."""
    config, port = init_desk(tmp_path, smtp_sink)
    trick = "=?utf-8?q?bob=40customer.example=2Cvictim=40innocent.example?="
    with daemon(config, port):
        first = mail(ALICE, "Invoice", "Wrong total.", "<i1@c>", headers=f"Cc: {trick}\r\n")
        send(port, first, ALICE)
        ack = arrives(smtp_sink, ALICE, lambda m: "Invoice" in str(m["Subject"]))
        n = int(str(ack["Subject"]).split("[#")[1].split("]")[0])
        send(port, mail(AGENT, f"Re: [#{n}] Invoice", "Corrected.", "<g2@example.com>"), AGENT)
        reply = arrives(
            smtp_sink, ALICE, lambda m: "Corrected" in m.get_body(("plain",)).get_content()
        )
        # The same word as the From: no address at all, so no acknowledgement to anyone.
        send(port, mail(trick, "Refund", "Please.", "<i2@c>"), "bob@customer.example")
        wait_until(lambda: len(cli_json(config, "quarantine", "list")) == 1, 30)  # type: ignore[arg-type]
    [kept] = cli_json(config, "quarantine", "list")  # type: ignore[misc]
    assert "no sender" in kept["reason"]
    assert VICTIM not in everyone(smtp_sink)
    assert not any("," in r for r in everyone(smtp_sink))
    assert "victim" not in str(reply["To"]) and "victim" not in str(reply.get("Cc", ""))


def html_mail(sender: str, msgid: str) -> bytes:
    return (
        f"From: {sender}\r\nTo: support@example.com\r\nSubject: Screenshot\r\n"
        f"Message-ID: {msgid}\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/html; charset=utf-8\r\n\r\n"
        '<p>See <img src="https://track.example/open.gif?u=alice" width="1" height="1">'
        '<img src="cid:shot@c" alt="screenshot"> and '
        '<a href="https://status.example">the status page</a>.</p>\r\n'
    ).encode()


def deliver(engine: Engine, db_url: str, raw: bytes) -> None:
    """One mail over the SMTP listener of a desk on this database."""
    pipeline = Intake(settings_for(db_url), session_factory(engine))
    with listening(pipeline) as port, smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.sendmail(ALICE, ["support@example.com"], raw)


def test_remote_images_are_not_kept(engine: Engine, db_url: str) -> None:
    deliver(engine, db_url, html_mail(ALICE, "<h1@c>"))
    with session_factory(engine)() as s:
        html = s.scalars(select(Message.html)).one()
    assert html is not None
    assert "track.example" not in html and 'src="cid:shot@c"' in html
    assert 'href="https://status.example"' in html


def test_lines_over_1000_bytes_are_accepted(engine: Engine, db_url: str) -> None:
    long_line = "word " * 2000  # 10,000 bytes, as some webmail sends HTML
    deliver(engine, db_url, mail(ALICE, "Long", long_line, "<l1@c>"))
    with session_factory(engine)() as s:
        assert s.scalars(select(Message.full_text)).one().strip() == long_line.strip()


def _data_started(port: int) -> smtplib.SMTP:
    """A client that has been answered 354: the message is its to send."""
    client = smtplib.SMTP("127.0.0.1", port, timeout=30)
    client.ehlo()
    client.mail(ALICE)
    client.rcpt("support@example.com")
    client.putcmd("data")
    assert client.getreply()[0] == 354
    return client


def test_clients_still_sending_hold_up_nobody(engine: Engine, db_url: str) -> None:
    """Receiving goes to a spool file: three slow senders leave the two slots free."""
    with listening(Intake(settings_for(db_url), session_factory(engine))) as port:
        slow = [_data_started(port) for _ in range(3)]
        for n, client in enumerate(slow):
            client.send(mail(ALICE, "Slow", "Half of a mess", f"<slow{n}@c>")[:-10])
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            client.sendmail(ALICE, ["support@example.com"], mail(ALICE, "Quick", "Hi.", "<q@c>"))
        for client in slow:
            client.send(b"age.\r\n\r\n.\r\n")
            assert client.getreply()[0] == 250
            client.close()
    with session_factory(engine)() as s:
        assert len(s.scalars(select(Message.message_id)).all()) == 4


def test_messages_stored_at_once_are_bounded(
    engine: Engine, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two slots (inbound.max_receiving): a third message waits, then is told 451."""
    monkeypatch.setattr(receive, "SLOT_WAIT", 1.0)
    pipeline = Intake(settings_for(db_url), session_factory(engine))
    ingest, busy, most = pipeline.ingest, [0], [0]
    lock = threading.Lock()

    def slow_ingest(raw: bytes, source: str) -> object:  # the database under load
        with lock:
            busy[0] += 1
            most[0] = max(most[0], busy[0])
        try:
            time.sleep(3.0 if b"Subject: Slow" in raw else 0)
            return ingest(raw, source)
        finally:
            with lock:
                busy[0] -= 1

    pipeline.ingest = slow_ingest  # type: ignore[assignment, method-assign]
    codes: list[int] = []

    def send_slow(port: int, n: int) -> None:
        client = _data_started(port)
        client.send(mail(ALICE, "Slow", "Please.", f"<slow{n}@c>") + b".\r\n")
        codes.append(client.getreply()[0])
        client.close()

    with listening(pipeline) as port:
        senders = [threading.Thread(target=send_slow, args=(port, n)) for n in range(3)]
        for t in senders:
            t.start()
        for t in senders:
            t.join()
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
            client.sendmail(ALICE, ["support@example.com"], mail(ALICE, "Next", "Hi.", "<n@c>"))
    assert sorted(codes) == [250, 250, 451] and most[0] == 2
    with session_factory(engine)() as s:
        assert len(s.scalars(select(Message.message_id)).all()) == 3


def test_idle_http_connections_cannot_exhaust_threads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database behind /healthz does not matter here: SQLite only. A shorter idle
    timeout than the shipped 5 s, the same rule."""
    monkeypatch.setattr(metrics_module, "HTTP_TIMEOUT", 1.0)
    engine = make_engine(f"sqlite:///{tmp_path / 'maildesk.db'}")
    upgrade(engine)
    port = free_port()
    metrics = Metrics(lambda: session_factory(engine), lambda: [])
    server = start_http(("127.0.0.1", port), metrics)
    idle = []
    try:
        before = threading.active_count()
        for _ in range(200):
            idle.append(socket.create_connection(("127.0.0.1", port), timeout=10))
        time.sleep(0.5)
        assert threading.active_count() - before <= HTTP_CONNECTIONS
        # Idle connections are closed after the timeout; then the page answers again.
        wait_until(lambda: _health(port) == 200, 30)
    finally:
        for s in idle:
            s.close()
        server.shutdown()
        engine.dispose()


def _health(port: int) -> int | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
            return int(answer.status)
    except OSError:
        return None
