"""/healthz and /metrics from a running daemon, against real Dovecot and SMTP."""

from __future__ import annotations

import json
import shutil
import smtplib
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine

from maildesk.config import settings_from_mapping
from maildesk.daemon import Daemon
from maildesk.intake import Intake
from maildesk.starter import starter_dir
from maildesk.store.db import session_factory
from tests.support.dovecot import Account, Dovecot
from tests.support.need import free_port, wait_for_port
from tests.support.pipeline import mail


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def wait_for(condition: Callable[[], bool], seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def value(metrics: str, name: str) -> float:
    for line in metrics.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in /metrics")


def test_health_and_metrics(
    tmp_path: Path, db_url: str, engine: Engine, dovecot: Dovecot, imap_account: Account
) -> None:
    shutil.copytree(starter_dir("templates"), tmp_path / "templates")
    (tmp_path / "rules").mkdir()
    http_port, smtp_port, closed_port = free_port(), free_port(), free_port()
    box = {
        "host": "127.0.0.1",
        "security": "none",
        "username": imap_account.username,
        "password": imap_account.password,
    }
    settings = settings_from_mapping(
        {
            "helpdesk": {"address": "support@example.com"},
            "database": {"url": db_url},
            "smtp": {"spool_dir": "out"},
            "inbound": {"listen": f"127.0.0.1:{smtp_port}"},
            "http": {"listen": f"127.0.0.1:{http_port}"},
            "tiers": [{"name": "L1", "agents": ["bob@example.com"]}],
            "mailboxes": [
                {**box, "name": "support", "port": dovecot.imap_port},
                {**box, "name": "broken", "port": closed_port},
            ],
        },
        name="maildesk.toml",
        base=tmp_path,
    )
    daemon = Daemon(settings, Intake(settings, session_factory(engine)))
    thread = threading.Thread(target=daemon.run)
    thread.start()
    base = f"http://127.0.0.1:{http_port}"
    try:
        assert wait_for_port(http_port) and wait_for_port(smtp_port)
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=10) as smtp:
            smtp.sendmail("a@example.org", ["support@example.com"], mail(sender="a@example.org"))
            robot = mail(
                sender="robot@example.org",
                msgid="<r@example.org>",
                headers="Auto-Submitted: auto-generated\r\n",
            )
            smtp.sendmail("robot@example.org", ["support@example.com"], robot)
        wait_for(
            lambda: (
                'maildesk_automatic_replies_total{result="sent"} 1.0' in get(base + "/metrics")[1]
            )
        )
        wait_for(
            lambda: 'maildesk_imap_connected{mailbox="support"} 1.0' in get(base + "/metrics")[1]
        )
        status, metrics = get(base + "/metrics")
        assert status == 200
        assert value(metrics, 'maildesk_messages_total{source="smtp",status="stored"}') == 2
        assert value(metrics, 'maildesk_automatic_replies_total{result="suppressed"}') == 1
        assert value(metrics, "maildesk_arrival_to_stored_seconds_count") == 2
        assert value(metrics, "maildesk_stored_to_acknowledged_seconds_count") == 1
        assert value(metrics, 'maildesk_imap_connected{mailbox="broken"}') == 0
        wait_for(lambda: value(get(base + "/metrics")[1], "maildesk_outbox_depth") == 0)
        status, body = get(base + "/healthz")
        report = json.loads(body)
        assert status == 503 and report["status"] == "unhealthy"
        assert report["database"] == "ok" and report["mailboxes"]["support"] == "ok"
        assert (
            "refused" in report["mailboxes"]["broken"] or "connect" in report["mailboxes"]["broken"]
        )
        assert get(base + "/nothing")[0] == 404
    finally:
        daemon.stop()
        thread.join(timeout=15)
    assert not thread.is_alive()
