"""The attack scenarios' parts: who writes, a daemon on real servers, what arrives."""

from __future__ import annotations

import json
import re
import signal
import smtplib
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from maildesk.cli.main import main
from tests.support.need import free_port, wait_for_port
from tests.support.processes import wait_until
from tests.support.smtpsink import Received, Sink

ALICE, MALLORY, AGENT, LEAD = (
    "alice@customer.example",
    "mallory@evil.example",
    "agent@example.com",
    "lead@example.com",
)


def init_desk(
    tmp_path: Path, sink: Sink, extra: str = "", port: int | None = None
) -> tuple[Path, int]:
    """`maildesk init`, then the relay pointed at the sink and the listener on ``port``
    (a free one if not given)."""
    desk = tmp_path / "desk"
    assert main(["init", str(desk)]) == 0
    config = desk / "maildesk.toml"
    port = port or free_port()
    text = config.read_text()
    text = text.replace(
        'spool_dir = "outgoing"', f'host = "127.0.0.1"\nport = {sink.port}\nsecurity = "none"'
    )
    text = text.replace('listen = "127.0.0.1:8025"', f'listen = "127.0.0.1:{port}"')
    config.write_text(text + extra)
    return config, port


@contextmanager
def daemon(config: Path, port: int, stops_within: float = 20) -> Iterator[None]:
    log = (config.parent / "maildesk.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "maildesk", "-c", str(config), "run"], stderr=log
    )
    try:
        assert wait_for_port(port, 30), (config.parent / "maildesk.log").read_text()
        yield
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=stops_within)
        except subprocess.TimeoutExpired:
            process.kill()
            code = process.wait()
        assert code == 0, (config.parent / "maildesk.log").read_text()


def send(port: int, raw: bytes, sender: str) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.sendmail(sender, ["support@example.com"], raw)


def mail(
    sender: str, subject: str, body: str, msgid: str, headers: str = "", name: str = ""
) -> bytes:
    who = f"{name} <{sender}>" if name else sender
    return (
        f"{headers}From: {who}\r\nTo: support@example.com\r\nSubject: {subject}\r\n"
        f"Message-ID: {msgid}\r\nDate: Wed, 02 Dec 2026 10:00:00 +0100\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    ).encode()


def parsed(m: Received) -> EmailMessage:
    return message_from_bytes(m.data, policy=policy.default)  # type: ignore[return-value]


def to(sink: Sink, address: str) -> list[EmailMessage]:
    return [parsed(m) for m in sink.handler.messages if address in m.rcpt_tos]


def arrives(sink: Sink, address: str, test: Callable[[EmailMessage], bool]) -> EmailMessage:
    wait_until(lambda: any(test(m) for m in to(sink, address)), 30)
    return next(m for m in to(sink, address) if test(m))


def ticket_of(message: EmailMessage) -> int:
    found = re.search(r"\[#(\d+)\]", str(message["Subject"]))
    assert found is not None, message["Subject"]
    return int(found.group(1))


def ask(port: int, sink: Sink, subject: str, text: str) -> tuple[EmailMessage, int]:
    """Alice writes to the desk; her acknowledgement and the ticket number."""
    send(port, mail(ALICE, subject, text, "<a1@c>"), ALICE)
    ack = arrives(sink, ALICE, lambda m: subject in str(m["Subject"]))
    return ack, ticket_of(ack)


def everyone(sink: Sink) -> set[str]:
    return {r for m in sink.handler.messages for r in m.rcpt_tos}


def cli_json(config: Path, *args: str) -> object:
    result = subprocess.run(
        [sys.executable, "-m", "maildesk", "-c", str(config), *args, "--json"],
        capture_output=True,
        check=True,
    )
    return json.loads(result.stdout)
