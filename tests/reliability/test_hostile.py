"""Hostile input against a desk from `maildesk init` with its SMTP listener (issue 19).

The relay is a robot (tests/support/robot.py) that answers every mail the desk
sends, without the headers that mark automatic mail. Each loop must end after
a handful of mails, with every incoming mail stored and the lead told once.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.need import free_port
from tests.support.robot import Robot
from tests.support.smtpsink import Sink
from tests.test_attacks import (
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
from tests.test_exactly_once import wait_until


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
        assert "mallory@evil.example is not an agent of this desk" in error.get_content()
        send(port, mail(ALICE, f"Re: [#{n}] Printer", "Still burning.", "<a2@c>"), ALICE)
        arrives(smtp_sink, AGENT, lambda m: "Still burning" in m.get_content())
    assert cli_json(config, "tickets", "show", str(n))["assignee"] is None  # type: ignore[call-overload, index]
    assert "mallory@evil.example" not in everyone(smtp_sink)


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
