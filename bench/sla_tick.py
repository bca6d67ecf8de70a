"""SLA scheduler tick cost with many open tickets (target: < 50 ms for an idle tick on SQLite).

Fills a fresh SQLite database with N open tickets, each with its four
pending timers (reminder and breach for first response and resolution)
spread over the next weeks, then measures:

- idle ticks: nothing due (the common case, every check_interval seconds);
- busy ticks: a batch of timers due, each fired with its mail queued.

Prints a table; nothing here is a test.

    .venv/bin/python bench/sla_tick.py [--tickets 100000] [--ticks 200] [--due 200]
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert

from maildesk.clock import FixedClock
from maildesk.config import settings_from_mapping
from maildesk.outbox.mails import Mailer
from maildesk.sla.calendar import BusinessCalendar
from maildesk.sla.scheduler import SlaScheduler
from maildesk.starter import starter_dir
from maildesk.store.db import make_engine, session_factory
from maildesk.store.models import Customer, SlaTimer, Ticket
from maildesk.store.schema import upgrade

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def fill(url: str, tickets: int, due: int, seed: int = 7) -> None:
    """``tickets`` open tickets; ``due`` of them have a reminder due before NOW."""
    rng = random.Random(seed)
    engine = make_engine(url)
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(
            insert(Customer),
            [{"address": "alice@example.org", "created_at": NOW, "updated_at": NOW}],
        )
        for start in range(0, tickets, 10_000):
            rows = []
            timers = []
            for i in range(start, min(start + 10_000, tickets)):
                created = NOW - timedelta(minutes=rng.randrange(1, 60))
                rows.append(
                    {
                        "id": i + 1,
                        "subject": f"Ticket {i}",
                        "status": "open",
                        "priority": "normal",
                        "tier": "L1",
                        "first_tier": "L1",
                        "requester_id": 1,
                        "sla_policy": "normal",
                        "tags": [],
                        "notify": [],
                        "created_at": created,
                        "updated_at": created,
                    }
                )
                late = i < due
                base = (
                    NOW - timedelta(minutes=1)
                    if late
                    else NOW + timedelta(minutes=rng.randrange(10, 60 * 24 * 14))
                )
                for target, kind, fraction, shift in (
                    ("first_response", "reminder", 0.75, 0),
                    ("first_response", "breach", 1.0, 30),
                    ("resolution", "reminder", 0.75, 60),
                    ("resolution", "breach", 1.0, 120),
                ):
                    timers.append(
                        {
                            "ticket_id": i + 1,
                            "target": target,
                            "kind": kind,
                            "fraction": fraction,
                            "due_at": base + timedelta(minutes=shift),
                            "state": "pending",
                            "created_at": created,
                        }
                    )
            conn.execute(insert(Ticket), rows)
            conn.execute(insert(SlaTimer), timers)
    engine.dispose()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(round(p / 100 * (len(ordered) - 1)), len(ordered) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--ticks", type=int, default=200)
    parser.add_argument("--due", type=int, default=200, help="tickets with a reminder due")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        url = f"sqlite:///{folder / 'bench.db'}"
        started = time.perf_counter()
        fill(url, args.tickets, args.due)
        filled = time.perf_counter() - started
        settings = settings_from_mapping(
            {
                "helpdesk": {"address": "support@example.com"},
                "database": {"url": url},
                "smtp": {"spool_dir": "out"},
                "paths": {"templates": str(starter_dir("templates"))},
                "tiers": [{"name": "L1", "agents": ["bob@example.com"]}],
                "sla_policies": [{"name": "normal", "first_response": "2h", "resolution": "4h"}],
            },
            name="bench",
            base=folder,
        )
        engine = make_engine(url)
        calendar = BusinessCalendar.from_settings(settings)
        scheduler = SlaScheduler(
            settings,
            session_factory(engine),
            FixedClock(NOW),
            Mailer(settings),
            lambda: calendar,
        )
        busy_started = time.perf_counter()
        fired = scheduler.tick(NOW)
        busy = time.perf_counter() - busy_started
        idle = []
        for _ in range(args.ticks):
            t0 = time.perf_counter()
            assert scheduler.tick(NOW) == []
            idle.append((time.perf_counter() - t0) * 1000)
        # Memory of one idle tick, traced separately: tracing slows Python down.
        tracemalloc.start()
        scheduler.tick(NOW)
        traced = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
        engine.dispose()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{args.tickets:,} open tickets, {4 * args.tickets:,} pending timers "
        f"(filled in {filled:.1f} s), SQLite"
    )
    print()
    print(f"{'measure':<34} {'value':>12}")
    print(f"{'-' * 34} {'-' * 12}")
    print(f"{'idle tick p50 (ms)':<34} {statistics.median(idle):>12.2f}")
    print(f"{'idle tick p99 (ms)':<34} {percentile(idle, 99):>12.2f}")
    print(f"{'idle tick max (ms)':<34} {max(idle):>12.2f}")
    print(f"{'busy tick: timers fired':<34} {len(fired):>12}")
    print(f"{'busy tick: total (ms)':<34} {busy * 1000:>12.1f}")
    rate = len(fired) / busy if busy else 0.0
    print(f"{'busy tick: reminders/s (mail queued)':<34} {rate:>12.0f}")
    print(f"{'idle tick: memory allocated (MB)':<34} {traced:>12.2f}")
    print(f"{'process peak RSS (MB)':<34} {peak:>12.1f}")


if __name__ == "__main__":
    main()
