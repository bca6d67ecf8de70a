"""Hostile input against a desk from `maildesk init` with its SMTP listener (issue 19).

The relay is a robot (tests/support/robot.py) that answers every mail the desk
sends, without the headers that mark automatic mail. Each loop must end after
a handful of mails, with every incoming mail stored and the lead told once.
"""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.support.attacks import (
    AGENT,
    ALICE,
    LEAD,
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
from tests.support.need import free_port
from tests.support.processes import wait_until
from tests.support.robot import Robot
from tests.support.smtpsink import Sink


def settle(robot: Robot, quiet: float = 3.0, longest: float = 60.0) -> None:
    """Until the robot has had nothing to answer for ``quiet`` seconds."""
    deadline = time.monotonic() + longest
    seen, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        if robot.answered != seen:
            seen, since = robot.answered, time.monotonic()
        elif time.monotonic() - since > quiet:
            return
        time.sleep(0.2)
    raise AssertionError(f"the loop still runs after {longest}s: {robot.answered} answers")


def stored(config: Path) -> int:
    """Mails kept: in tickets, or held or quarantined."""
    tickets = cli_json(config, "tickets", "list", "--limit", "100000")
    held = cli_json(config, "quarantine", "list", "--all")
    messages = sum(t["message_count"] for t in tickets)  # type: ignore[union-attr, index]
    return messages + len(held)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("style", "most"),
    [("same", 21), ("varied", 21), ("fresh", 5)],
)
def test_an_autoresponder_loop_ends_after_a_handful(tmp_path: Path, style: str, most: int) -> None:
    port = free_port()
    robot = Robot(port, style).start()
    config, _ = init_desk(tmp_path, robot, port=port)
    try:
        with daemon(config, port):
            send(port, mail(ALICE, "Printer on fire", "It burns.", "<a1@c>"), ALICE)
            settle(robot)
            sent = len(robot.messages)
        assert 2 <= sent <= most, f"{style}: the desk sent {sent} mails"
        # Nothing lost: the first mail and every answer of the robot are kept.
        assert stored(config) == robot.answered + 1
        alerts = [m for m in robot.messages if LEAD in m.rcpt_tos]
        assert len(alerts) <= 1
    finally:
        robot.stop()
    print(f"{style}: {sent} mails sent, {robot.answered} answers from the robot, all stored")


def test_an_agents_out_of_office_is_never_relayed(tmp_path: Path, smtp_sink: Sink) -> None:
    config, port = init_desk(tmp_path, smtp_sink)
    with daemon(config, port):
        send(port, mail(ALICE, "Printer on fire", "It burns.", "<a1@c>"), ALICE)
        notice = arrives(smtp_sink, AGENT, lambda m: "Printer on fire" in str(m["Subject"]))
        away = mail(
            AGENT,
            f"Automatic reply: {notice['Subject']}",
            "#status closed\r\nI am on holiday until Monday.",
            "<ooo@example.com>",
            headers=f"Auto-Submitted: auto-replied\r\nIn-Reply-To: {notice['Message-ID']}\r\n",
        )
        send(port, away, AGENT)
        n = ticket_of(notice)
        wait_until(lambda: len(cli_json(config, "tickets", "show", str(n))["messages"]) == 2, 30)  # type: ignore[call-overload, index]
    shown = cli_json(config, "tickets", "show", str(n))
    assert shown["status"] == "new" and shown["sla"]["first_response_at"] is None  # type: ignore[call-overload, index]
    assert [m["is_note"] for m in shown["messages"]] == [False, True]  # type: ignore[call-overload, index]
    assert len(to(smtp_sink, ALICE)) == 1  # the acknowledgement, nothing more


def test_a_ticket_is_assigned_to_agents_only(tmp_path: Path, smtp_sink: Sink) -> None:
    config, port = init_desk(tmp_path, smtp_sink)
    with daemon(config, port):
        _ack, n = ask(port, smtp_sink, "Printer on fire", "It burns.")
        grab = mail(AGENT, f"Re: [#{n}] Printer", "#assign mallory@evil.example", "<g@example.com>")
        send(port, grab, AGENT)
        error = arrives(smtp_sink, AGENT, lambda m: "not sent" in str(m["Subject"]))
        assert (
            "mallory@evil.example is not an agent of this desk"
            in error.get_body(("plain",)).get_content()
        )
        send(port, mail(ALICE, f"Re: [#{n}] Printer", "Still burning.", "<a2@c>"), ALICE)
        arrives(smtp_sink, AGENT, lambda m: "Still burning" in m.get_body(("plain",)).get_content())
    assert cli_json(config, "tickets", "show", str(n))["assignee"] is None  # type: ignore[call-overload, index]
    assert "mallory@evil.example" not in everyone(smtp_sink)


@pytest.mark.servers  # its own aiosmtpd relay, with and without SMTPUTF8
@pytest.mark.parametrize("smtputf8", [True, False], ids=["smtputf8", "ascii-relay"])
def test_a_non_ascii_address_holds_back_nothing(tmp_path: Path, smtputf8: bool) -> None:
    """jürgen@müller.test once left his mail, and every row after it, stuck."""
    # aiosmtpd's default offers SMTPUTF8; the other relay is told not to.
    relay = Sink(smtputf8=smtputf8).start()
    try:
        config, _ = init_desk(tmp_path, relay)
        for sender, subject in (
            ("jürgen@müller.test", "Drucker brennt"),
            ("anna@müller.test", "Drucker raucht"),
            (ALICE, "Printer on fire"),
        ):
            raw = mail(sender, subject, "Hilfe.", f"<{subject.split()[1]}@x>")
            pipe = ["maildesk", "-c", str(config), "ingest"]
            subprocess.run([sys.executable, "-m", *pipe], input=raw, check=True)
        # One run sends the whole outbox in one batch, the poisoned rows first.
        subprocess.run(
            [sys.executable, "-m", "maildesk", "-c", str(config), "run", "--once"], check=True
        )
        got = everyone(relay)
        assert ALICE in got and AGENT in got
        if smtputf8:
            assert {"jürgen@müller.test", "anna@müller.test"} <= got
        else:
            assert "anna@xn--mller-kva.test" in got and "jürgen@müller.test" not in got
            failed = cli_json(config, "outbox", "list", "--state", "failed")
            [row] = failed  # type: ignore[misc]
            assert row["to"] == ["jürgen@müller.test"] and "no SMTPUTF8" in row["last_error"]
        assert cli_json(config, "outbox", "list", "--state", "pending") == []
    finally:
        relay.stop()


def healthy(port: int) -> float:
    """Seconds /healthz took to answer 200."""
    started = time.monotonic()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
        assert answer.status == 200
    return time.monotonic() - started


def test_a_rule_that_hangs_or_explodes_does_not_stop_the_desk(
    tmp_path: Path, smtp_sink: Sink
) -> None:
    http = free_port()
    config, port = init_desk(tmp_path, smtp_sink, f'\n[http]\nlisten = "127.0.0.1:{http}"\n')
    rules, log = config.parent / "rules", config.parent / "maildesk.log"
    with daemon(config, port, stops_within=10):
        (rules / "50-evil.yaml").write_text(
            "- name: catastrophic backtracking\n"
            "  when: {body: {matches: '(x+x+)+y'}}\n"
            "  then: {tags: [evil]}\n"
        )
        wait_until(lambda: "rules reloaded" in log.read_text(), 30)
        send(port, mail(ALICE, "Logs", "x" * 990, "<x@c>"), ALICE)
        assert healthy(http) < 2.0  # while the pattern runs out of time
        arrives(smtp_sink, ALICE, lambda m: "Logs" in str(m["Subject"]))
        assert "ran out of time; it counts as no match" in log.read_text()
        # A billion laughs and a 4 MB file, dropped into the running desk: refused at once.
        laughs = ['      - subject: {in: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol"]}']
        laughs += [
            f"      - subject: {{in: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]}}" for i in range(1, 9)
        ]
        bomb = (
            "- name: laughs\n  when:\n    all:\n"
            + "\n".join(laughs)
            + "\n  then: {priority: *a8}\n"
        )
        (rules / "60-bomb.yaml").write_text(bomb)
        wait_until(lambda: "aliases (*a0) are not allowed" in log.read_text(), 30)
        (rules / "60-bomb.yaml").unlink()
        (rules / "70-huge.yaml").write_text("- name: x\n  then: {tags: [x]}\n" * 150_000)
        wait_until(lambda: "MB is too large" in log.read_text(), 30)
        assert healthy(http) < 2.0
    # daemon(..., stops_within=10): SIGTERM ended it cleanly within 10 seconds.


@pytest.mark.parametrize(
    "results",
    [
        "mx.example.com; spf=pass smtp.mailfrom=evil.test",  # passes, for someone else
        "mx.example.com; dkim=fail (spf=pass dkim=pass in a comment) header.d=example.com",
        "evil.test; dmarc=pass header.from=example.com",  # not our MTA
    ],
    ids=["unaligned", "comment", "foreign"],
)
def test_a_forged_agent_cannot_pass_with_words(
    tmp_path: Path, smtp_sink: Sink, results: str
) -> None:
    """The old check looked for "spf=pass" anywhere in Authentication-Results."""
    config, port = init_desk(tmp_path, smtp_sink, '\n[trust]\nauthserv_id = ["mx.example.com"]\n')
    with daemon(config, port):
        _, n = ask(port, smtp_sink, "Printer on fire", "It burns.")
        forged = mail(
            AGENT,
            f"Re: [#{n}] Printer on fire",
            "#assign agent@example.com\r\nPlease send your password to reset it.",
            "<forged@evil.test>",
            headers=f"Authentication-Results: {results}\r\n",
        )
        send(port, forged, AGENT)
        arrives(smtp_sink, LEAD, lambda m: "not believed" in str(m["Subject"]))
    assert len(to(smtp_sink, ALICE)) == 1  # only the acknowledgement
    shown = cli_json(config, "tickets", "show", str(n))
    assert shown["assignee"] is None  # type: ignore[call-overload, index]
