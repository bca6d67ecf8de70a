"""The attacks of issue 14, end to end, against a desk made by `maildesk init`.

Mail goes in over SMTP to the daemon's own listener (smtplib to aiosmtpd) or
through Dovecot, and out to a real SMTP relay (the aiosmtpd sink); nothing is
mocked. Each attack must leak nothing and make the desk mail no stranger.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.attacks import (
    AGENT,
    ALICE,
    LEAD,
    MALLORY,
    arrives,
    ask,
    cli_json,
    daemon,
    everyone,
    init_desk,
    mail,
    send,
    ticket_of,
    to,
)
from tests.support.dovecot import Account, Dovecot
from tests.support.processes import wait_until
from tests.support.smtpsink import Sink


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
        assert f"#admit {MALLORY}" in notice.get_body(("plain",)).get_content()
        # The agent answers the customer; the answer must reach Alice alone.
        answer = mail(
            AGENT,
            f"Re: [#{n}] Contract renewal",
            "Your contract number 4711 is renewed until 2027.",
            "<g1@example.com>",
            name="Agent Smith",
        )
        send(port, answer, AGENT)
        arrives(
            smtp_sink, ALICE, lambda m: "renewed until 2027" in m.get_body(("plain",)).get_content()
        )
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
        assert "quarantine admit" in report.get_body(("plain",)).get_content()
        real = mail(
            AGENT,
            f"Re: [#{n}] Printer on fire",
            "Please unplug it first.",
            "<real@example.com>",
            headers="Authentication-Results: mx.example.com; dkim=pass header.d=example.com\r\n",
        )
        send(port, real, AGENT)
        arrives(smtp_sink, ALICE, lambda m: "unplug" in m.get_body(("plain",)).get_content())
    texts = [m.get_body(("plain",)).get_content() for m in to(smtp_sink, ALICE)]
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
    assert [m.get_body(("plain",)).get_content().strip() for m in to(smtp_sink, ALICE)][
        -1
    ].startswith("Renewed.")
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
        status = arrives(
            smtp_sink, ALICE, lambda m: "решён" in m.get_body(("plain",)).get_content()
        )
    assert "Мы ответим в течение 2 часов." in ack.get_body(("plain",)).get_content()
    assert "resolved" not in status.get_body(("plain",)).get_content() and "(решён)" in str(
        status["Subject"]
    )
