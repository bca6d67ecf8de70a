"""`maildesk report` cost over a year of history, and the demo page for the README.

Writes a deterministic support history (bench/history.py) into a fresh
SQLite database, then times collecting the numbers and rendering the page.
Prints a table; nothing here is a test.

    .venv/bin/python bench/report.py [--days 365] [--history 730] [--per-day 40 --per-day 365]
        [--postgres URL] [--out report.html] [--screenshot report.png]

Each collection runs in a fresh process, so its peak RSS is the report's own.
--screenshot needs Debian's chromium.
"""

from __future__ import annotations

import argparse
import json
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
            "--window-size=820,4700",
            html.resolve().as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )


def fill(url: str, folder: Path, days: int, per_day: int) -> tuple[int, float]:
    engine = make_engine(url)
    upgrade(engine)
    t0 = time.perf_counter()
    tickets = fill_history(
        session_factory(engine), demo_settings(folder, url), END, days=days, per_day=per_day
    )
    engine.dispose()
    return tickets, time.perf_counter() - t0


def measure(url: str, folder: Path, days: int, out: Path | None) -> dict[str, float]:
    """In this (fresh) process: collect and render, timed; the peak RSS is this process's."""
    settings = demo_settings(folder, url)
    engine = make_engine(url)
    sessions = session_factory(engine)
    calendar = BusinessCalendar.from_settings(settings)
    t0 = time.perf_counter()
    with sessions() as session:
        data = collect(session, settings, calendar, END - timedelta(days=days), END, END)
    collected = time.perf_counter() - t0
    t0 = time.perf_counter()
    html = render(data, "Example Support: support report")
    rendered = time.perf_counter() - t0
    engine.dispose()
    if out is not None:
        out.write_text(html, encoding="utf-8")
    return {
        "tickets": data.tickets,
        "collect": collected,
        "render": rendered,
        "page_kb": len(html.encode()) / 1024,
        "rss_mb": peak_rss_mb(),
    }


def peak_rss_mb() -> float:
    """This process's own peak (VmHWM): ru_maxrss would carry the parent's over exec."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365, help="the period reported")
    parser.add_argument(
        "--history",
        type=int,
        help="days of history written [default: twice --days, so the period before, "
        "which the report compares with, is as full]",
    )
    parser.add_argument(
        "--per-day",
        type=int,
        action="append",
        help="tickets per working day; repeat for several sizes [default: 40 and 365, "
        "about 11k and 100k tickets a year]",
    )
    parser.add_argument("--postgres", metavar="URL", help="also on this (empty) database")
    parser.add_argument("--runs", type=int, default=3, help="collections per size")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--screenshot", type=Path)
    parser.add_argument("--measure", metavar="URL", help=argparse.SUPPRESS)  # the child
    args = parser.parse_args()
    if args.measure:
        folder = Path(tempfile.gettempdir())
        print(json.dumps(measure(args.measure, folder, args.days, args.out)))
        return
    sizes = args.per_day or [40, 365]
    print(
        f"{'database':<11} {'in period':>9} {'collect s (min-max of ' + str(args.runs) + ')':>28}"
        f" {'render s':>9} {'page KB':>8} {'peak RSS MB':>12}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for per_day in sizes:
            urls = [("SQLite", f"sqlite:///{folder / f'bench{per_day}.db'}")]
            if args.postgres:
                urls.append(("PostgreSQL", args.postgres))
            for name, url in urls:
                if name == "PostgreSQL":
                    reset_postgres(url)
                fill(url, folder, args.history or 2 * args.days, per_day)
                runs = [
                    child(url, args.days, args.out if per_day == sizes[0] else None)
                    for _ in range(args.runs)
                ]
                times = sorted(r["collect"] for r in runs)
                row = runs[0]
                print(
                    f"{name:<11} {row['tickets']:>9,.0f} "
                    f"{f'{times[len(times) // 2]:.2f} ({times[0]:.2f}-{times[-1]:.2f})':>28} "
                    f"{row['render']:>9.3f} {row['page_kb']:>8.0f} "
                    f"{max(r['rss_mb'] for r in runs):>12.0f}"
                )
    if args.out and args.screenshot:
        screenshot(args.out, args.screenshot)


def child(url: str, days: int, out: Path | None) -> dict[str, float]:
    command = [sys.executable, __file__, "--measure", url, "--days", str(days)]
    if out is not None:
        command += ["--out", str(out)]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return dict(json.loads(done.stdout))


def reset_postgres(url: str) -> None:
    from sqlalchemy import text

    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()


if __name__ == "__main__":
    main()
