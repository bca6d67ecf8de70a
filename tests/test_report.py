"""`maildesk report`: numbers worked out by hand, and the page in a real headless Chromium."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from maildesk.store.db import make_engine, session_factory
from maildesk.store.models import Customer, Survey, Ticket
from maildesk.store.schema import upgrade
from tests.support.browser import chromium, png_size
from tests.support.desks import Run

CONFIG = """
[helpdesk]
address = "support@example.com"
name = "Example Support"

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
"""

MONDAY = datetime(2026, 11, 16, tzinfo=UTC)  # business hours 09-18 UTC (the defaults)
EVIL = '<script>alert("x")</script> Printer not printing'
EVIL_TAG = '<script>alert("tag")</script>'  # agents' #tag lines are free text


def at(day: int, hour: float) -> datetime:
    return MONDAY + timedelta(days=day, hours=hour)


def make_desk(write_desk: Callable[..., Path]) -> Path:
    path = write_desk(CONFIG, rules=False)
    engine = make_engine(f"sqlite:///{path.parent / 'maildesk.db'}")
    upgrade(engine)
    with session_factory(engine)() as s:
        alice = Customer(address="alice@example.org")
        rows = [
            # (tier, subject, tags, created, first response, resolved, resolution)
            ("L1", "Printer not printing", ["printer"], at(0, 10), at(0, 10.25), at(0, 11), None),
            ("L1", "printers not printing!", ["printer"], at(0, 11), at(0, 12.5), at(0, 17), None),
            ("L1", EVIL, ["printer", EVIL_TAG], at(0, 12), at(0, 14.5), None, None),
            ("L2", "Forgot password", ["login"], at(1, 9), None, at(1, 9.5), "self_served"),
            ("L2", "VPN down", ["vpn"], at(1, 10), at(1, 10.5), at(1, 12), None),
        ]
        for tier, subject, tags, created, first, resolved, resolution in rows:
            ticket = Ticket(
                subject=subject,
                status="resolved" if resolved else "open",
                priority="normal",
                tier=tier,
                first_tier=tier,
                requester=alice,
                sla_policy="normal",
                tags=tags,
                created_at=created,
                updated_at=created,
                first_response_at=first,
                first_response_due=created + timedelta(hours=2),
                resolution_due=created + timedelta(hours=4),
                resolved_at=resolved,
                resolution=resolution,
            )
            s.add(ticket)
            if resolved is not None:
                scored = {"Printer not printing": 5, "VPN down": 2}.get(subject)
                s.add(
                    Survey(
                        ticket=ticket,
                        state="answered" if scored else "sent",
                        due_at=resolved + timedelta(hours=1),
                        sent_at=resolved + timedelta(hours=1),
                        score=scored,
                        answered_at=resolved + timedelta(hours=3) if scored else None,
                    )
                )
        s.commit()
    engine.dispose()
    return path


ARGS = ("report", "--since", "2026-11-16", "--until", "2026-11-17", "--now", "2026-11-20T00:00Z")


def test_report_numbers(write_desk: Callable[..., Path], run: Run) -> None:
    config = make_desk(write_desk)
    code, out, err = run("-c", str(config), *ARGS, "--json")
    assert (code, err) == (0, "")
    data = json.loads(out)
    assert data["tickets"] == 5 and data["tiers"] == ["L1", "L2"]
    assert data["per_day"] == [
        {"day": "2026-11-16", "tiers": {"L1": 3}},
        {"day": "2026-11-17", "tiers": {"L2": 2}},
    ]
    # First responses: 15 min (12.5% of 2 h), 90 min (75%: a bucket includes its upper
    # bound), 150 min (125%), 30 min (25%).
    buckets = {b["label"]: b["tickets"] for b in data["first_response"]["buckets"]}
    assert buckets == {
        "≤ 25%": 2,
        "25–50%": 0,
        "50–75%": 1,
        "75–100%": 0,
        "100–150%": 1,
        "150–200%": 0,
        "> 200%": 0,
    }
    assert data["first_response"]["answered"] == 4
    assert data["first_response"]["unanswered_overdue"] == 0  # the self-served one needs none
    assert data["satisfaction"] == {
        "sent": 4,
        "answered": 2,
        "average": 3.5,
        "distribution": [
            {"score": 1, "answers": 0},
            {"score": 2, "answers": 1},
            {"score": 3, "answers": 0},
            {"score": 4, "answers": 0},
            {"score": 5, "answers": 1},
        ],
        "weekly": [{"week": "2026-W47", "average": 3.5, "answers": 2}],
    }
    assert data["self_service"]["self_served"] == 1
    assert data["self_service"]["rate_percent"] == 20.0
    assert data["top_tags"][0] == {"tag": "printer", "tickets": 3}
    # "Printer not printing" and "printers not printing!" are one problem; the evil subject
    # has other words (script, alert) and stands alone, so only the pair is listed.
    assert data["frequent_subjects"] == [{"subject": "Printer not printing", "tickets": 2}]
    assert data["busiest_hours"][0][10] == 1 and data["busiest_hours"][1][9] == 1
    l1 = next(c for c in data["compliance"] if c["tier"] == "L1")
    assert l1["first_response_percent"] == 66.7  # 2 of 3 in time


def test_report_page_is_self_contained_and_escapes_customer_text(
    write_desk: Callable[..., Path], run: Run, tmp_path: Path
) -> None:
    config = make_desk(write_desk)
    out = tmp_path / "report.html"
    code, said, _ = run("-c", str(config), *ARGS, "--out", str(out))
    assert code == 0 and said.startswith(f"wrote {out} (5 tickets")
    html = out.read_text()
    assert "default-src 'none'" in html  # nothing outside the file may load
    assert "src=" not in html and '<link rel="stylesheet"' not in html
    assert "<script>alert" not in html


def test_report_usage_errors(write_desk: Callable[..., Path], run: Run) -> None:
    config = make_desk(write_desk)
    code, _, err = run("-c", str(config), "report", "--since", "2026-11-16")
    assert code == 2 and "--out report.html, or --json" in err
    code, _, err = run("-c", str(config), "report", "--since", "yesterday", "--json")
    assert code == 2 and "--since: expected a day like 2026-11-01, got 'yesterday'" in err
    code, _, err = run(
        "-c", str(config), "report", "--since", "2026-11-16", "--until", "2026-11-01", "--json"
    )
    assert code == 2 and "--until: 2026-11-01 is before --since 2026-11-16" in err


def test_report_renders_in_headless_chromium(
    write_desk: Callable[..., Path], run: Run, tmp_path: Path
) -> None:
    browser = chromium()
    config = make_desk(write_desk)
    page = tmp_path / "report.html"
    assert run("-c", str(config), *ARGS, "--out", str(page))[0] == 0
    common = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    dom = subprocess.run(
        [*common, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    # The page's own script ran (it counts the charts) and caught no error.
    charts = page.read_text().count("<svg ")
    assert charts == 10 and f'data-rendered="{charts}"' in dom.stdout
    assert '<pre id="console-errors" hidden=""></pre>' in dom.stdout
    assert "Uncaught" not in dom.stderr and "CONSOLE" not in dom.stderr
    assert "&lt;script&gt;alert" in dom.stdout  # shown as text, never run
    shot = tmp_path / "report.png"
    result = subprocess.run(
        [*common, f"--screenshot={shot}", "--window-size=820,3200", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert png_size(shot) == (820, 3200)
    assert shot.stat().st_size > 50_000  # charts and text, not a blank page


@pytest.mark.parametrize("days", [0])
def test_an_empty_period_still_renders(
    write_desk: Callable[..., Path], run: Run, tmp_path: Path, days: int
) -> None:
    config = make_desk(write_desk)
    page = tmp_path / "empty.html"
    code, said, _ = run(
        "-c",
        str(config),
        "report",
        "--since",
        "2027-01-01",
        "--until",
        "2027-01-01",
        "--out",
        str(page),
    )
    assert code == 0 and "(0 tickets" in said
    assert "nothing in this period" in page.read_text()
    # The header names the last day included, as the command line did (not the 2nd).
    assert "from 2027-01-01 to 2027-01-01 (" in page.read_text()
    assert "2027-01-01 to 2027-01-01" in said
