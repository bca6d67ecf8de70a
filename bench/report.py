"""`maildesk report` cost over a year of history, and the demo page for the README.

Writes a deterministic support history (bench/history.py) into a fresh
SQLite database, then times collecting the numbers and rendering the page.
Prints a table; nothing here is a test.

    .venv/bin/python bench/report.py [--days 365] [--per-day 40] [--out report.html]
        [--screenshot report.png]   # with Debian's chromium installed
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.history import fill_history
from maildesk.config import settings_from_mapping
from maildesk.reports.data import collect
from maildesk.reports.page import render
from maildesk.sla.calendar import BusinessCalendar
from maildesk.store.db import make_engine, session_factory
from maildesk.store.schema import upgrade

END = datetime(2026, 11, 21, 0, 0, tzinfo=UTC)


def demo_settings(folder: Path, url: str):  # type: ignore[no-untyped-def]
    return settings_from_mapping(
        {
            "helpdesk": {"address": "support@example.com", "name": "Example Support"},
            "database": {"url": url},
            "smtp": {"spool_dir": "out"},
            "calendar": {"timezone": "Europe/Berlin", "hours": ["09:00-13:00", "14:00-18:00"]},
            "tiers": [
                {"name": "L1", "escalates_to": "L2"},
                {"name": "L2", "escalates_to": "L3"},
                {"name": "L3"},
            ],
            "sla_policies": [
                {"name": "normal", "first_response": "2h", "resolution": "4h"},
                {"name": "corporate", "first_response": "1h", "resolution": "8h"},
                {"name": "urgent", "first_response": "15m", "resolution": "4h", "hours": "24/7"},
            ],
        },
        name="bench",
        base=folder,
    )


def screenshot(html: Path, png: Path) -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise SystemExit("install Debian's chromium for --screenshot")
    subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--screenshot={png}",
            "--window-size=820,3200",
            html.resolve().as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--per-day", type=int, default=40)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--screenshot", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        url = f"sqlite:///{folder / 'bench.db'}"
        engine = make_engine(url)
        upgrade(engine)
        settings = demo_settings(folder, url)
        sessions = session_factory(engine)
        t0 = time.perf_counter()
        tickets = fill_history(sessions, settings, END, days=args.days, per_day=args.per_day)
        filled = time.perf_counter() - t0
        calendar = BusinessCalendar.from_settings(settings)
        t0 = time.perf_counter()
        with sessions() as session:
            data = collect(session, settings, calendar, END - timedelta(days=args.days), END, END)
        collected = time.perf_counter() - t0
        t0 = time.perf_counter()
        html = render(data, "Example Support: support report")
        rendered = time.perf_counter() - t0
        engine.dispose()
    if args.out:
        args.out.write_text(html, encoding="utf-8")
        if args.screenshot:
            screenshot(args.out, args.screenshot)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{tickets:,} tickets over {args.days} days (history written in {filled:.1f} s), SQLite")
    print()
    print(f"{'step':<28} {'seconds':>10}")
    print(f"{'-' * 28} {'-' * 10}")
    print(f"{'collect the numbers':<28} {collected:>10.2f}")
    print(f"{'render the HTML page':<28} {rendered:>10.3f}")
    print(f"{'page size (KB)':<28} {len(html.encode()) / 1024:>10.0f}")
    print(f"{'process peak RSS (MB)':<28} {peak:>10.0f}")


if __name__ == "__main__":
    main()
