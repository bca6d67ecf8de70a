"""The SLA clock from the command line and in the running daemon."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

from maildesk.clock import FixedClock, SystemClock
from maildesk.config import load_settings
from maildesk.daemon import Daemon
from maildesk.intake import Intake
from maildesk.store.db import make_engine, session_factory
from maildesk.store.schema import upgrade
from tests.support.desks import Run
from tests.support.pipeline import mail

CONFIG = """
[helpdesk]
address = "support@example.com"

[database]
url = "sqlite:///maildesk.db"

[smtp]
spool_dir = "outgoing"

[sla]
by_priority = {{ normal = "{policy}" }}
check_interval = 1

[[tiers]]
name = "L1"
agents = ["bob@example.com"]
lead = "lead@example.com"

[[sla_policies]]
name = "normal"
first_response = "2h"
resolution = "4h"

[[sla_policies]]
name = "urgent"
first_response = "15m"
resolution = "4h"
hours = "24/7"
"""

FRIDAY_5PM = datetime(2026, 11, 20, 17, 0, tzinfo=UTC)


def desk_with_ticket(
    write_desk: Callable[..., Path], when: datetime, policy: str = "normal"
) -> Path:
    """A desk whose one ticket (tier L1 by the rule below) arrived at ``when``."""
    path = write_desk(CONFIG.format(policy=policy), rules=False)
    (path.parent / "rules" / "00.yaml").write_text("- name: all\n  then: {tier: L1}\n")
    settings = load_settings(path)
    engine = make_engine(settings.database.url)
    upgrade(engine)
    Intake(settings, session_factory(engine), FixedClock(when)).ingest(mail(), "test")
    engine.dispose()
    return path


def spooled(path: Path) -> list[tuple[str, list[str]]]:
    found = []
    for file in sorted((path.parent / "outgoing").glob("*.eml")):
        parsed = message_from_bytes(file.read_bytes(), policy=policy.default)
        found.append((str(parsed["Subject"]), [str(parsed["To"])]))
    return found


def test_dry_run_shows_what_would_fire_and_changes_nothing(
    write_desk: Callable[..., Path], run: Run
) -> None:
    path = desk_with_ticket(write_desk, FRIDAY_5PM)
    args = ("-c", str(path), "run", "--once", "--now", "2026-11-23T09:30:00Z", "--dry-run")
    code, out, err = run(*args)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "as of 2026-11-23T09:30:00+00:00 (dry run: nothing was changed or sent)"
    assert lines[2].split()[:5] == [
        "reminder",
        "[#1]",
        "first_response",
        "2026-11-23T09:30",
        "bob@example.com",
    ]
    assert "acknowledgement" in out and "notification" in out  # queued, would be sent
    code, out, _ = run(*args, "--json")
    data = json.loads(out)
    assert data["sla"] == [
        {
            "kind": "reminder",
            "ticket": "[#1]",
            "target": "first_response",
            "due_at": "2026-11-23T09:30:00+00:00",
            "to": ["bob@example.com"],
            "detail": "",
        }
    ]
    assert sorted(q["kind"] for q in data["outbox"]) == ["acknowledgement", "notification"]
    assert spooled(path) == []  # nothing was sent
    # The real thing at the same moment: the reminder goes out, once.
    code, out, _ = run("-c", str(path), "run", "--once", "--now", "2026-11-23T09:30:00Z")
    assert code == 0 and out == "handled 0 message(s)\n"
    subjects = [s for s, _ in spooled(path)]
    assert len(subjects) == 3
    assert "[#1] SLA reminder: first response due Mon 23 Nov 2026 10:00 UTC - Printer on fire" in (
        subjects
    )
    run("-c", str(path), "run", "--once", "--now", "2026-11-23T09:45:00Z")
    assert len(spooled(path)) == 3
    code, out, _ = run(*args, "--json")
    assert json.loads(out) == {"now": "2026-11-23T09:30:00+00:00", "sla": [], "outbox": []}


def test_tickets_show_the_sla(write_desk: Callable[..., Path], run: Run) -> None:
    path = desk_with_ticket(write_desk, FRIDAY_5PM)
    code, out, _ = run("-c", str(path), "tickets", "show", "1")
    assert code == 0
    assert (
        "SLA normal: first response due 2026-11-23T10:00:00+00:00, "
        "resolution due 2026-11-23T12:00:00+00:00"
    ) in out.splitlines()
    code, out, _ = run("-c", str(path), "tickets", "show", "1", "--json")
    assert json.loads(out)["sla"] == {
        "policy": "normal",
        "first_response_due": "2026-11-23T10:00:00+00:00",
        "first_response_at": None,
        "next_response_due": None,
        "resolution_due": "2026-11-23T12:00:00+00:00",
    }


def test_time_options_need_once_and_a_real_time(write_desk: Callable[..., Path], run: Run) -> None:
    path = desk_with_ticket(write_desk, FRIDAY_5PM)
    code, _, err = run("-c", str(path), "run", "--now", "2026-11-23T09:30:00Z")
    assert code == 2 and "--now and --dry-run work with --once" in err
    code, _, err = run("-c", str(path), "run", "--once", "--now", "Monday")
    assert code == 2 and "--now: expected a time like 2026-11-23T10:00+01:00, got 'Monday'" in err
    code, _, err = run("-c", str(path), "run", "--once", "--json")
    assert code == 2 and "--json works with --dry-run" in err


def test_the_running_daemon_ticks_the_sla_clock(write_desk: Callable[..., Path]) -> None:
    """APScheduler drives the tick; the breach is spooled by the outbox thread."""
    path = desk_with_ticket(write_desk, datetime.now(UTC) - timedelta(hours=1), "urgent")
    settings = load_settings(path)
    engine = make_engine(settings.database.url)
    daemon = Daemon(settings, Intake(settings, session_factory(engine), SystemClock()))
    thread = threading.Thread(target=daemon.run)
    thread.start()
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if any("SLA breached" in s for s, _ in spooled(path)):
                break
            time.sleep(0.2)
    finally:
        daemon.stop()
        thread.join(timeout=10)
        engine.dispose()
    assert not thread.is_alive()
    breach = [(s, to) for s, to in spooled(path) if "SLA breached" in s]
    assert breach == [("[#1] SLA breached: first response - Printer on fire", ["lead@example.com"])]
