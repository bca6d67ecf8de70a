"""Arrival-to-acknowledgement latency with IMAP IDLE, at a steady rate of new mail.

Mail is appended to a real Dovecot at --rate messages a second; the daemon
(IDLE, SQLite) stores each and sends its acknowledgement to a real SMTP
server (aiosmtpd). For each message: arrival to stored (the acknowledgement
is queued in the same commit) and arrival to the acknowledgement received
by the SMTP server. Prints percentiles; nothing here is a test.

.venv/bin/python bench/idle_latency.py [--messages 600] [--rate 20]
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time
from email import message_from_bytes, policy
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select

from bench.mailgen import messages
from maildesk.config import settings_from_mapping
from maildesk.daemon import Daemon
from maildesk.intake import Intake
from maildesk.parse import parse_mail
from maildesk.starter import starter_dir
from maildesk.store.db import make_engine, session_factory
from maildesk.store.models import Message
from maildesk.store.schema import upgrade
from tests.support.dovecot import find_dovecot, start_dovecot
from tests.support.smtpsink import Sink


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=600)
    parser.add_argument("--rate", type=float, default=20.0, help="messages per second")
    args = parser.parse_args()
    binary = find_dovecot()
    if binary is None:
        sys.exit("bench needs Dovecot (apt-get install dovecot-imapd)")
    server = start_dovecot(binary)
    sink = Sink().start()
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
                "smtp": {"host": "127.0.0.1", "port": sink.port, "security": "none"},
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
        daemon = Daemon(settings, Intake(settings, session_factory(engine)))
        thread = threading.Thread(target=daemon.run, daemon=True)
        thread.start()
        time.sleep(1.0)
        # New questions only (each gets an acknowledgement), each from its own sender so
        # that the per-address limit on automatic replies does not hold any back.
        corpus = [
            raw.replace(b"<customer", b"<c%d-customer" % n, 1)
            for n, raw in enumerate(messages(args.messages * 3, seed=7))
            if not re.search(rb"(?m)^(In-Reply-To|Auto-Submitted):|\[#\d+\]", raw)
        ][: args.messages]
        ids = [parse_mail(raw).message_id for raw in corpus]
        sent: dict[str, float] = {}
        seen: dict[str, float] = {}
        acked: dict[str, float] = {}
        done = threading.Event()

        def watch() -> None:
            """Notice each commit as it happens (polling the database every 5 ms)."""
            last_row = 0
            last_mail = 0
            while not done.is_set():
                arrived = sink.messages[last_mail:]
                moment = time.perf_counter()
                for received in arrived:
                    answer = message_from_bytes(received.data, policy=policy.default)
                    acked.setdefault(str(answer["In-Reply-To"]), moment)
                last_mail += len(arrived)
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
        while len(acked) < len(sent) and time.perf_counter() < deadline:
            time.sleep(0.05)
        done.set()
        watcher.join()
        daemon.stop()
        thread.join(10)
        print(f"\n{len(sent)} messages appended at {args.rate:g}/s; IDLE; SQLite\n")
        header = ("arrival to", "count", "p50 ms", "p90 ms", "p99 ms", "max ms")
        print("{:<22} {:>6} {:>8} {:>8} {:>8} {:>8}".format(*header))
        for label, times in (("stored, ack queued", seen), ("ack at the SMTP server", acked)):
            lat = sorted((times[m] - sent[m]) * 1000 for m in sent if m in times)
            q = statistics.quantiles(lat, n=100)
            cells = (label, len(lat), q[49], q[89], q[98], lat[-1])
            print("{:<22} {:>6} {:>8.0f} {:>8.0f} {:>8.0f} {:>8.0f}".format(*cells))
    finally:
        sink.stop()
        server.stop()
        shutil.rmtree(server.root, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
