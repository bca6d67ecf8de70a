"""`maildesk sla report` against tickets whose numbers were worked out by hand.

Business hours: Monday to Friday 09:00-18:00 UTC. "normal": first response
2 h, resolution 4 h of business time; "urgent": 15 min and 4 h, 24/7.
The report is judged as of Monday 30 November 2026 12:00 UTC.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from maildesk.store.db import make_engine, session_factory
from maildesk.store.models import Ticket
from maildesk.store.schema import upgrade
from tests.support.desks import Run

CONFIG = """
[helpdesk]
address = "support@example.com"

[database]
url = "sqlite:///maildesk.db"

[smtp]
spool_dir = "outgoing"

[[tiers]]
name = "L1"
escalates_to = "L2"

[[tiers]]
name = "L2"

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


def t(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


# (first tier, tier now, policy, created, first response, its due, resolved, closed, due)
TICKETS = [
    # L1 / normal
    # T1: answered after 30 min (due 12:00, met); resolved 13:00 (due 14:00, met).
    ("L1", "L1", "normal", t(16, 10), t(16, 10, 30), t(16, 12), t(16, 13), None, t(16, 14)),
    # T2: Mon 17:00 -> Tue 10:30 is 1 h + 1 h 30 = 2 h 30 (due Tue 10:00, missed);
    # resolved Tue 15:00 (due Tue 12:00, missed).
    ("L1", "L1", "normal", t(16, 17), t(17, 10, 30), t(17, 10), t(17, 15), None, t(17, 12)),
    # T3: Fri 16:00 -> Mon 09:15 is 2 h + 15 min (due Fri 18:00, missed); never resolved,
    # due Mon 11:00 has passed: missed.
    ("L1", "L1", "normal", t(20, 16), t(23, 9, 15), t(20, 18), None, None, t(23, 11)),
    # T4: opened an hour before "now": both targets still running, left out.
    ("L1", "L1", "normal", t(30, 11), None, t(30, 13), None, None, t(30, 15)),
    # T5: 45 min (met); closed without "resolved" at 12:00 (due 13:00, met).
    ("L1", "L1", "normal", t(17, 9), t(17, 9, 45), t(17, 11), None, t(17, 12), t(17, 13)),
    # T6: never answered, escalated to L2: still counts against L1; both missed.
    ("L1", "L2", "normal", t(18, 9), None, t(18, 11), None, None, t(18, 13)),
    # L2 / urgent, 24/7
    # U1: Saturday night, 10 min (met); resolved 05:00 (due 06:00, met).
    ("L2", "L2", "urgent", t(21, 2), t(21, 2, 10), t(21, 2, 15), t(21, 5), None, t(21, 6)),
    # U2: 30 min across midnight (due 00:05, missed); resolved 03:00 (due 03:50, met).
    ("L2", "L2", "urgent", t(22, 23, 50), t(23, 0, 20), t(23, 0, 5), t(23, 3), None, t(23, 3, 50)),
    # No policy: counted, no compliance.
    ("L2", "L2", None, t(20, 12), None, None, None, None, None),
    # Before --since: not counted at all.
    ("L1", "L1", "normal", t(1, 10), t(1, 10, 5), t(1, 12), None, None, t(1, 14)),
]


def make_desk(write_desk: Callable[..., Path]) -> Path:
    path = write_desk(CONFIG, rules=False)
    engine = make_engine(f"sqlite:///{path.parent / 'maildesk.db'}")
    upgrade(engine)
    with session_factory(engine)() as s:
        for first, tier, policy, created, answered, due, resolved, closed, rdue in TICKETS:
            s.add(
                Ticket(
                    subject="x",
                    status="closed" if closed else "resolved" if resolved else "open",
                    priority="normal",
                    tier=tier,
                    first_tier=first,
                    sla_policy=policy,
                    created_at=created,
                    updated_at=created,
                    first_response_at=answered,
                    first_response_due=due,
                    resolved_at=resolved,
                    closed_at=closed,
                    resolution_due=rdue,
                )
            )
        s.commit()
    engine.dispose()
    return path


NOW = "2026-11-30T12:00:00+00:00"


def test_report_matches_the_hand_computed_numbers(
    write_desk: Callable[..., Path], run: Run
) -> None:
    path = make_desk(write_desk)
    code, out, err = run(
        "-c", str(path), "sla", "report", "--since", "2026-11-02", "--now", NOW, "--json"
    )
    assert (code, err) == (0, "")
    data = json.loads(out)
    assert data["since"] == "2026-11-02T00:00:00+00:00"
    rows = {(r["tier"], r["policy"]): r for r in data["rows"]}
    assert list(rows) == [("L1", "normal"), ("L2", "-"), ("L2", "urgent"), ("all", "all")]

    l1 = rows["L1", "normal"]
    assert l1["tickets"] == 6
    # First response: T1 and T5 met; T2, T3 and T6 missed; T4 still running.
    assert l1["first_response"] == {
        "met": 2,
        "counted": 5,
        "compliance_percent": 40.0,
        # Answered in 30, 45, 135 and 150 business minutes: median (45 + 135) / 2 = 90,
        # p90 = the 4th of 4 (nearest rank, ceil(0.9 * 4) = 4) = 150.
        "median_seconds": 90 * 60.0,
        "p90_seconds": 150 * 60.0,
        "answered": 4,
    }
    assert l1["resolution"] == {"met": 2, "counted": 5, "compliance_percent": 40.0}

    urgent = rows["L2", "urgent"]
    assert urgent["tickets"] == 2
    assert urgent["first_response"]["compliance_percent"] == 50.0
    assert urgent["first_response"]["median_seconds"] == 20 * 60.0  # 10 and 30 minutes
    assert urgent["first_response"]["p90_seconds"] == 30 * 60.0
    assert urgent["resolution"]["compliance_percent"] == 100.0

    none = rows["L2", "-"]
    assert none["tickets"] == 1 and none["first_response"]["compliance_percent"] is None

    total = rows["all", "all"]
    assert total["tickets"] == 9
    assert (total["first_response"]["met"], total["first_response"]["counted"]) == (3, 7)
    assert total["first_response"]["compliance_percent"] == 42.9
    assert total["resolution"]["compliance_percent"] == 57.1  # 4 of 7
    # 10, 30, 30, 45, 135, 150 minutes: median 37.5, p90 ceil(5.4) = 6th = 150.
    assert total["first_response"]["median_seconds"] == 37.5 * 60
    assert total["first_response"]["p90_seconds"] == 150 * 60.0


def test_report_table_and_tier_filter(write_desk: Callable[..., Path], run: Run) -> None:
    path = make_desk(write_desk)
    code, out, _ = run(
        "-c", str(path), "sla", "report", "--since", "2026-11-02", "--now", NOW, "--tier", "L1"
    )
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "tickets opened since 2026-11-02 00:00 UTC"
    assert lines[1].split() == [
        "TIER",
        "POLICY",
        "TICKETS",
        "FIRST",
        "RESPONSE",
        "MET",
        "RESOLUTION",
        "MET",
        "MEDIAN",
        "P90",
    ]
    assert lines[2].split() == [
        "L1",
        "normal",
        "6",
        "40.0%",
        "(2/5)",
        "40.0%",
        "(2/5)",
        "1h30m",
        "2h30m",
    ]
    assert lines[3].split()[:3] == ["all", "all", "6"]
    assert len(lines) == 4


def test_report_refuses_unknown_tier_and_bad_date(
    write_desk: Callable[..., Path], run: Run
) -> None:
    path = make_desk(write_desk)
    code, _, err = run("-c", str(path), "sla", "report", "--tier", "L9")
    assert code == 2 and "--tier: unknown tier 'L9' (known: L1, L2)" in err
    code, _, err = run("-c", str(path), "sla", "report", "--since", "last week")
    assert code == 2 and "--since: expected a day like 2026-11-01, got 'last week'" in err
    code, out, _ = run("-c", str(path), "sla", "report", "--since", "2027-01-01")
    assert code == 0 and "no tickets in this period" in out
