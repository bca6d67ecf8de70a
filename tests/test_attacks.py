"""The attacks of issue 14, end to end, against a desk made by `maildesk init`.

Mail goes in over SMTP to the daemon's own listener (smtplib to aiosmtpd) or
through Dovecot, and out to a real SMTP relay (the aiosmtpd sink); nothing is
mocked. Each attack must leak nothing and make the desk mail no stranger.
"""

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
from tests.support.dovecot import Account, Dovecot
from tests.support.need import free_port, wait_for_port
from tests.support.smtpsink import Received, Sink
from tests.test_exactly_once import wait_until

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


def test_a_leaked_message_id_reaches_nobody(tmp_path: Path, smtp_sink: Sink) -> None:
    config, port = init_desk(tmp_path, smtp_sink)
    with daemon(config, port):
        ack, n = ask(port, smtp_sink, "Contract renewal", "Our contract 4711 expires.")
        # Mallory got hold of the acknowledgement's Message-ID (a forward, a list).
        leak = mail(
            MALLORY,
            "Re: Contract renewal",
            "Please send me the contract too.",
            "<m1@evil>",
            headers=f"In-Reply-To: {ack['Message-ID']}\r\nReferences: {ack['Message-ID']}\r\n",
        )
        send(port, leak, MALLORY)
        notice = arrives(smtp_sink, AGENT, lambda m: "Held:" in str(m["Subject"]))
        assert f"#admit {MALLORY}" in notice.get_content()
        # The agent answers the customer; the answer must reach Alice alone.
        answer = mail(
            AGENT,
            f"Re: [#{n}] Contract renewal",
            "Your contract number 4711 is renewed until 2027.",
            "<g1@example.com>",
            name="Agent Smith",
        )
        send(port, answer, AGENT)
        arrives(smtp_sink, ALICE, lambda m: "renewed until 2027" in m.get_content())
        # The customer's own Message-ID leaks just the same.
        again = leak.replace(b"<m1@evil>", b"<m2@evil>").replace(
            str(ack["Message-ID"]).encode(), b"<a1@c>"
        )
        send(port, again, MALLORY)
        wait_until(lambda: len(cli_json(config, "quarantine", "list")) == 2, 30)  # type: ignore[arg-type]
    assert MALLORY not in everyone(smtp_sink)
    assert everyone(smtp_sink) <= {ALICE, AGENT, LEAD}
    held = cli_json(config, "quarantine", "list")
    assert [(h["kind"], h["ticket"], h["sender"]) for h in held] == [  # type: ignore[index, union-attr]
        ("held", n, MALLORY),
        ("held", n, MALLORY),
    ]
    shown = cli_json(config, "tickets", "show", str(n))
    assert [h["from"] for h in shown["held"]] == [MALLORY, MALLORY]  # type: ignore[index, call-overload]
    assert len([m for m in to(smtp_sink, AGENT) if "Held:" in str(m["Subject"])]) == 1


def test_spam_with_a_forged_sender_sends_no_backscatter(tmp_path: Path, smtp_sink: Sink) -> None:
    config, port = init_desk(tmp_path, smtp_sink, '\n[trust]\nauthserv_id = ["mx.example.com"]\n')
    victims = ["victim1@innocent.example", "victim2@innocent.example", "victim3@innocent.example"]
    attacks = [
        "X-Spam-Flag: YES\r\nX-Spam-Status: Yes, score=8.2 required=5.0 tests=X\r\n",
        "Authentication-Results: mx.example.com; dmarc=fail (p=reject) "
        "header.from=innocent.example\r\n",
        "X-Spamd-Result: default: True [16.10 / 15.00]; BAYES_SPAM(5.00)\r\n"
        "X-Rspamd-Action: add header\r\n",
    ]
    with daemon(config, port):
        for i, (victim, headers) in enumerate(zip(victims, attacks, strict=True)):
            send(port, mail(victim, f"You won {i}", "Click.", f"<s{i}@x>", headers), victim)
        send(port, mail(ALICE, "A real question", "Help?", "<real@c>"), ALICE)
        arrives(smtp_sink, ALICE, lambda m: "A real question" in str(m["Subject"]))
        wait_until(lambda: len(to(smtp_sink, AGENT)) == 4, 30)  # agents hear of all four
    assert not everyone(smtp_sink) & set(victims)
    tickets = cli_json(config, "tickets", "list")
    assert len(tickets) == 4  # type: ignore[arg-type]
    for victim in victims:
        [ticket] = [t for t in tickets if t["requester"] == victim]  # type: ignore[union-attr, index]
        events = cli_json(config, "tickets", "show", str(ticket["id"]))["events"]  # type: ignore[index, call-overload]
        assert "acknowledgement_suppressed" in [e["kind"] for e in events]


def test_a_forged_agent_changes_nothing(tmp_path: Path, smtp_sink: Sink) -> None:
    config, port = init_desk(tmp_path, smtp_sink, '\n[trust]\nauthserv_id = ["mx.example.com"]\n')
    with daemon(config, port):
        _ack, n = ask(port, smtp_sink, "Printer on fire", "It burns.")
        forged = mail(
            AGENT,
            f"Re: [#{n}] Printer on fire",
            "#status closed\r\n#assign mallory@evil.example\r\nSend your password to me.",
            "<forged@evil>",
            headers="Authentication-Results: evil.example; dmarc=pass header.from=example.com\r\n",
        )
        send(port, forged, AGENT)
        report = arrives(smtp_sink, LEAD, lambda m: "not believed" in str(m["Subject"]))
        assert "quarantine admit" in report.get_content()
        real = mail(
            AGENT,
            f"Re: [#{n}] Printer on fire",
            "Please unplug it first.",
            "<real@example.com>",
            headers="Authentication-Results: mx.example.com; dkim=pass header.d=example.com\r\n",
        )
        send(port, real, AGENT)
        arrives(smtp_sink, ALICE, lambda m: "unplug" in m.get_content())
    texts = [m.get_content() for m in to(smtp_sink, ALICE)]
    assert not any("password" in t for t in texts) and len(texts) == 2  # ack and real answer
    shown = cli_json(config, "tickets", "show", str(n))
    assert (shown["status"], shown["assignee"]) == ("open", None)  # type: ignore[index, call-overload]
    [held] = cli_json(config, "quarantine", "list")  # type: ignore[misc]
    assert held["sender"] == AGENT and "the From is not authenticated" in held["reason"]


def test_a_leaked_message_id_over_imap(
    tmp_path: Path, smtp_sink: Sink, dovecot: Dovecot, imap_account: Account
) -> None:
    """The same attack through a real Dovecot mailbox and `run --once`."""
    box = (
        f'\n[[mailboxes]]\nname = "support"\nhost = "{dovecot.host}"\nport = {dovecot.imap_port}\n'
        f'security = "none"\nusername = "{imap_account.username}"\n'
        f'password = "{imap_account.password}"\n'
    )
    config, _ = init_desk(tmp_path, smtp_sink, box)

    def deliver(raw: bytes) -> None:
        client = dovecot.client(imap_account)
        client.append("INBOX", raw)
        client.logout()
        subprocess.run(
            [sys.executable, "-m", "maildesk", "-c", str(config), "run", "--once"], check=True
        )

    deliver(mail(ALICE, "Contract renewal", "Contract 4711.", "<a1@c>"))
    [ack] = to(smtp_sink, ALICE)
    deliver(mail(MALLORY, "Re: x", "Me too.", "<m1@evil>", f"In-Reply-To: {ack['Message-ID']}\r\n"))
    n = ticket_of(ack)
    deliver(mail(AGENT, f"Re: [#{n}] Contract", "Renewed.", "<g1@example.com>"))
    assert [m.get_content().strip() for m in to(smtp_sink, ALICE)][-1].startswith("Renewed.")
    assert MALLORY not in everyone(smtp_sink)


def test_a_russian_customer_reads_russian(tmp_path: Path, smtp_sink: Sink) -> None:
    """Issue 21: "в течение 2 часов", not "2 часа"; the status in Russian, not "resolved"."""
    config, port = init_desk(tmp_path, smtp_sink)
    with daemon(config, port):
        question = "Здравствуйте! Не работает принтер в бухгалтерии, помогите пожалуйста."
        send(port, mail(ALICE, "Не работает принтер", question, "<ru1@c>"), ALICE)
        ack = arrives(smtp_sink, ALICE, lambda m: "принтер" in str(m["Subject"]))
        n = ticket_of(ack)
        answer = "#status resolved\r\nЗаменили картридж."
        send(
            port, mail(AGENT, f"Re: [#{n}] Не работает принтер", answer, "<ru2@example.com>"), AGENT
        )
        status = arrives(smtp_sink, ALICE, lambda m: "решён" in m.get_content())
    assert "Мы ответим в течение 2 часов." in ack.get_content()
    assert "resolved" not in status.get_content() and "(решён)" in str(status["Subject"])
