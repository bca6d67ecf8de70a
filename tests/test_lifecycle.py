"""The daemon's life: SIGHUP reloads (and refuses a broken config), SIGTERM stops in time,
and the log can be JSON lines that name the ticket and the Message-ID."""

from __future__ import annotations

import json
import signal
import smtplib
import time
from email import message_from_bytes, policy
from pathlib import Path

from tests.support.cli import maildesk
from tests.support.lifecycle import start, wait_for
from tests.support.need import free_port, wait_for_port
from tests.support.pipeline import mail


def send(port: int, msgid: str) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.sendmail(
            "alice@example.org", ["support@example.com"], mail(msgid=f"<{msgid}@example.org>")
        )


def acknowledgement_from(out: Path, msgid: str) -> str:
    for file in out.glob("*.eml"):
        parsed = message_from_bytes(file.read_bytes(), policy=policy.default)
        if parsed["In-Reply-To"] == f"<{msgid}@example.org>":
            return str(parsed["From"])
    return ""


def desk(tmp_path: Path) -> tuple[Path, int]:
    assert maildesk("init", str(tmp_path / "d")).returncode == 0
    config = tmp_path / "d" / "maildesk.toml"
    port = free_port()
    config.write_text(config.read_text().replace("127.0.0.1:8025", f"127.0.0.1:{port}"))
    return config, port


def test_sighup_reloads_the_config_and_refuses_a_broken_one(tmp_path: Path) -> None:
    config, port = desk(tmp_path)
    out = config.parent / "outgoing"
    process, log = start(config)
    try:
        assert wait_for_port(port)
        send(port, "before")
        wait_for(lambda: acknowledgement_from(out, "before") != "")
        assert acknowledgement_from(out, "before").startswith("Example Support <")

        good = config.read_text()
        config.write_text(good.replace('name = "Example Support"', 'name = "Acme Help"'))
        process.send_signal(signal.SIGHUP)
        wait_for(lambda: "config reloaded from" in log.read_text())
        assert wait_for_port(port)
        send(port, "after")
        wait_for(lambda: acknowledgement_from(out, "after") != "")
        assert acknowledgement_from(out, "after").startswith("Acme Help <")

        config.write_text(good.replace("[helpdesk]", "[helpdesk]\ncolour = 1"))
        process.send_signal(signal.SIGHUP)
        wait_for(lambda: "config not reloaded, the running one stays" in log.read_text())
        assert "helpdesk.colour: unknown key" in log.read_text()
        assert wait_for_port(port)
        send(port, "still")
        wait_for(lambda: acknowledgement_from(out, "still") != "")
        assert acknowledgement_from(out, "still").startswith("Acme Help <")

        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        assert time.monotonic() - started < 10
    finally:
        process.kill()
        process.wait()
    assert "Traceback" not in log.read_text()


def test_json_log_lines_name_the_ticket_and_message_id(tmp_path: Path) -> None:
    config, port = desk(tmp_path)
    process, log = start(config, "--log-format", "json")
    try:
        assert wait_for_port(port)
        send(port, "json1")
        wait_for(lambda: "sent " in log.read_text())
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert {"time", "level", "logger", "message"} <= set(lines[0])
    stored = [line for line in lines if line["message"].startswith("smtp message <json1@")]
    assert stored and stored[0]["ticket"] == 1 and stored[0]["message_id"] == "<json1@example.org>"
    sent = [line for line in lines if line["message"].startswith("sent ")]
    assert sent and all(line["ticket"] == 1 and line["message_id"] for line in sent)
    # The body of the customer's mail is never logged.
    assert not any("It burns" in line["message"] for line in lines)
