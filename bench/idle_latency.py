"""Arrival-to-stored latency with IMAP IDLE: append at a steady rate, time each commit.

.venv/bin/python bench/idle_latency.py [--messages 200] [--rate 20]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select

from bench.mailgen import messages
from maildesk.config import settings_from_mapping
from maildesk.daemon import Daemon
from maildesk.parse import parse_mail
from maildesk.pipeline import Pipeline
from maildesk.starter import starter_dir
from maildesk.store.db import make_engine, session_factory
from maildesk.store.models import Message
from maildesk.store.schema import upgrade
from tests.support.dovecot import find_dovecot, start_dovecot


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--rate", type=float, default=20.0, help="messages per second")
    args = parser.parse_args()
    binary = find_dovecot()
    if binary is None:
        sys.exit("bench needs Dovecot (apt-get install dovecot-imapd)")
    server = start_dovecot(binary)
    work = Path(tempfile.mkdtemp(prefix="maildesk-latency-"))
    try:
        account = server.add_account()
        url = f"sqlite:///{work / 'l.db'}"
        (work / "rules").mkdir()
        shutil.copytree(starter_dir("templates"), work / "templates")
        engine = make_engine(url)
        upgrade(engine)
        settings = settings_from_mapping(
            {
                "helpdesk": {"address": "support@example.com"},
                "database": {"url": url},
                "smtp": {"spool_dir": "out"},
                "mailboxes": [
                    {
                        "name": "b",
                        "host": "127.0.0.1",
                        "port": server.imap_port,
                        "security": "none",
                        "username": account.username,
                        "password": account.password,
                        "poll_interval": 300,
                    }
                ],
            },
            name="bench",
            base=work,
        )
        daemon = Daemon(settings, Pipeline(settings, session_factory(engine)))
        thread = threading.Thread(target=daemon.run, daemon=True)
        thread.start()
        time.sleep(1.0)
        corpus = list(messages(args.messages, seed=7))
        ids = [parse_mail(raw).message_id for raw in corpus]
        sent: dict[str, float] = {}
        seen: dict[str, float] = {}
        done = threading.Event()

        def watch() -> None:
            """Notice each commit as it happens (polling the database every 5 ms)."""
            last_row = 0
            while not done.is_set():
                with session_factory(engine)() as s:
                    rows = s.execute(
                        select(Message.id, Message.message_id).where(Message.id > last_row)
                    ).all()
                now = time.perf_counter()
                for row_id, message_id in rows:
                    last_row = max(last_row, row_id)
                    seen.setdefault(message_id or "", now)
                time.sleep(0.005)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        client = server.client(account)
        start = time.perf_counter()
        for n, (raw, message_id) in enumerate(zip(corpus, ids, strict=True)):
            time.sleep(max(0.0, start + n / args.rate - time.perf_counter()))
            sent[message_id or ""] = time.perf_counter()
            client.append("INBOX", raw)
        client.logout()
        deadline = time.perf_counter() + 120
        while len(seen) < len(sent) and time.perf_counter() < deadline:
            time.sleep(0.05)
        done.set()
        watcher.join()
        daemon.stop()
        thread.join(10)
        lat = sorted((seen[m] - sent[m]) * 1000 for m in sent if m in seen)
        print(f"\n{len(lat)}/{len(sent)} messages at {args.rate:g}/s, IDLE, SQLite\n")
        print(f"{'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8}")
        q = statistics.quantiles(lat, n=100)
        print(f"{q[49]:>8.0f} {q[89]:>8.0f} {q[98]:>8.0f} {lat[-1]:>8.0f}")
    finally:
        server.stop()
        shutil.rmtree(server.root, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
