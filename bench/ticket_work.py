"""Ticket work by mail on a big desk: #merge, #problem with 500 links, #broadcast, "status".

A desk of --tickets tickets (default 100,000; customers, tickets, one message
each, written in bulk, not through the pipeline) on SQLite and, with
--postgres, PostgreSQL. Then each command comes in as an agent's (or a
customer's) mail through the desk's intake, and the table shows the wall
time of that one message's transaction and the SQL statements it ran. The
outgoing mail is only queued (the outbox), not sent. Nothing here is a test.

    .venv/bin/python bench/ticket_work.py [--tickets 100000] [--incidents 500]
        [--postgres URL]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import tomllib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import Engine, create_engine, event, func, insert, select, text
from sqlalchemy.engine import make_url

from maildesk.clock import FixedClock
from maildesk.config import settings_from_mapping
from maildesk.intake import Intake
from maildesk.kb.terms import problem_key
from maildesk.starter import CONFIG, starter_dir
from maildesk.store.db import make_engine, session_factory
from maildesk.store.models import Customer, Message, OutboxMessage, Participant, Ticket
from maildesk.store.schema import upgrade

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
NOW = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
TOPICS = ("printer", "vpn", "password", "invoice", "laptop", "wifi", "mail", "phone")


def fill(engine: Engine, tickets: int) -> None:
    """Customers (one per 4 tickets), tickets and their first message, in bulk."""
    chunk = 5000
    with engine.begin() as connection:
        for start in range(0, tickets // 4 + 1, chunk):
            connection.execute(
                insert(Customer),
                [
                    {
                        "address": f"c{n}@example.org",
                        "name": f"C{n}",
                        "created_at": T0,
                        "updated_at": T0,
                    }
                    for n in range(start, min(start + chunk, tickets // 4 + 1))
                ],
            )
        for start in range(0, tickets, chunk):
            rows = []
            for n in range(start, min(start + chunk, tickets)):
                subject = f"{TOPICS[n % len(TOPICS)]} trouble {n % 97}"
                when = T0 + timedelta(seconds=n * 20)
                rows.append(
                    {
                        "subject": subject,
                        "status": ("new", "open", "pending", "resolved")[n % 4],
                        "priority": "normal",
                        "tier": "L1",
                        "first_tier": "L1",
                        "requester_id": n // 4 + 1,
                        "tags": [],
                        "notify": [],
                        "problem_key": problem_key(subject),
                        "created_at": when,
                        "updated_at": when,
                    }
                )
            connection.execute(insert(Ticket), rows)
        for start in range(0, tickets, chunk):
            connection.execute(
                insert(Message),
                [
                    {
                        "ticket_id": n + 1,
                        "direction": "in",
                        "dedupe_key": f"<m{n}@bench>",
                        "message_id": f"<m{n}@bench>",
                        "from_address": f"c{n // 4}@example.org",
                        "subject": "x",
                        "received_at": T0,
                        "visible_text": "x",
                        "full_text": "x",
                        "references": [],
                        "to": [],
                        "cc": [],
                        "guard_reasons": [],
                    }
                    for n in range(start, min(start + chunk, tickets))
                ],
            )
            connection.execute(
                insert(Participant),
                [
                    {
                        "ticket_id": n + 1,
                        "address": f"c{n // 4}@example.org",
                        "role": "requester",
                        "added_at": T0,
                    }
                    for n in range(start, min(start + chunk, tickets))
                ],
            )


@contextmanager
def counted(engine: Engine) -> Iterator[list[int]]:
    seen = [0]

    def count(*_args: object) -> None:
        seen[0] += 1

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def agent(n: int, body: str) -> bytes:
    return (
        f"From: Bob <bob@example.com>\r\nTo: support@example.com\r\n"
        f"Subject: Re: [#{n}] x\r\nMessage-ID: <{uuid.uuid4().hex}@example.com>\r\n\r\n{body}\r\n"
    ).encode()


def run(url: str, engine: Engine, root: Path, tickets: int, incidents: int) -> list[list[str]]:
    config = tomllib.loads(CONFIG.read_text(encoding="utf-8"))
    config["database"] = {"url": url}
    config["smtp"] = {"spool_dir": str(root / "out")}
    config["outbox"] = {"per_address_per_hour": 100_000, "per_ticket_per_hour": 100_000}
    config["tiers"] = [{"name": "L1", "agents": ["bob@example.com"]}]
    config["paths"] = {"rules": str(root / "rules"), "templates": str(starter_dir("templates"))}
    (root / "rules").mkdir(exist_ok=True)
    settings = settings_from_mapping(config, name="bench.toml", base=root)
    intake = Intake(settings, session_factory(engine), FixedClock(NOW))
    rows = []

    def measure(what: str, raw: bytes) -> None:
        with counted(engine) as statements:
            started = time.perf_counter()
            outcome = intake.ingest(raw, "bench")
            took = time.perf_counter() - started
        assert outcome.status in ("stored", "status"), outcome
        rows.append([what, f"{took * 1000:,.0f}", f"{statements[0]:,}"])

    measure("#merge (1 message moves)", agent(tickets, f"#merge {tickets - 1}"))
    numbers = " ".join(str(n) for n in range(tickets - 2 - incidents, tickets - 2))
    measure(f"#problem with {incidents} links", agent(tickets - 2, f"#problem {numbers}"))
    with session_factory(engine)() as s:
        queued = s.scalar(select(func.count()).select_from(OutboxMessage)) or 0
    measure(f"#broadcast to {incidents} incidents", agent(tickets - 2, "#broadcast\n\nFixed."))
    with session_factory(engine)() as s:
        after = s.scalar(select(func.count()).select_from(OutboxMessage)) or 0
    rows[-1][0] += f" ({after - queued} mails queued)"
    measure(f"#status resolved ({incidents} incidents)", agent(tickets - 2, "#status resolved"))
    status = (
        b"From: C7 <c7@example.org>\r\nTo: support@example.com\r\nSubject: status\r\n"
        b"Message-ID: <status@bench>\r\n\r\nstatus\r\n"
    )
    measure("status request (4 tickets)", status)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--incidents", type=int, default=500)
    parser.add_argument("--postgres", help="a server URL; a scratch database is made there")
    args = parser.parse_args()
    table: list[list[str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        targets = [("sqlite", f"sqlite:///{root / 'desk.db'}")]
        if args.postgres:
            name = f"maildesk_bench_{uuid.uuid4().hex[:8]}"
            admin = create_engine(args.postgres, isolation_level="AUTOCOMMIT")
            with admin.connect() as c:
                c.execute(text(f'CREATE DATABASE "{name}"'))
            targets.append(("postgresql", str(make_url(args.postgres).set(database=name))))
        try:
            for label, url in targets:
                engine = make_engine(url)
                upgrade(engine)
                started = time.perf_counter()
                fill(engine, args.tickets)
                took = time.perf_counter() - started
                print(f"... {label}: {args.tickets:,} tickets in {took:.0f} s", file=sys.stderr)
                for row in run(url, engine, root, args.tickets, args.incidents):
                    table.append([label, *row])
                engine.dispose()
        finally:
            if args.postgres:
                with admin.connect() as c:
                    c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    print(f"\n{args.tickets:,} tickets on the desk\n")
    print(f"{'database':<11} {'message':<48} {'ms':>7} {'statements':>11}")
    for label, what, ms, statements in table:
        print(f"{label:<11} {what:<48} {ms:>7} {statements:>11}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
