"""End-to-end ingest throughput: Dovecot -> `maildesk run` daemons -> stored tickets.

For SQLite and (with --postgres) PostgreSQL, with 1 and 3 daemon processes
sharing one mailbox, on a database that already holds 1,000 or 20,000
messages (so that any cost growing with the store shows). Acknowledgements
are queued in the same transaction as each message, and the daemons send
them (to a spool folder) while they ingest, as a running desk does. Also the
same corpus through `maildesk import` (no IMAP, nothing sent) to separate the
pipeline's cost from IMAP's. Prints a table; nothing here is a test.

    .venv/bin/python bench/ingest.py [--messages 1000] [--stored 1000,20000]
        [--processes 1,3] [--postgres URL]

msg/s is the steady rate, first message received to last by the times stored
with them; "wall s" also holds the daemons' start (about a second) and the
last look at the database (up to 0.25 s). Peak MB is the largest daemon's peak RSS
(VmHWM).
"""

from __future__ import annotations

import argparse
import mailbox
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from bench.mailgen import messages
from maildesk.starter import starter_dir
from maildesk.store.db import make_engine, session_factory
from maildesk.store.models import Message, QuarantinedMessage
from maildesk.store.schema import upgrade
from tests.support import postgres
from tests.support.dovecot import Dovecot, find_dovecot, start_dovecot


@dataclass(frozen=True)
class Row:
    database: str
    stored: int
    processes: int
    path: str
    wall: float
    rate: float
    peak_mb: float
    # CPU seconds of maildesk, postgres and imap from the first message stored to the
    # last, and that window's (seconds, messages)
    cpu: dict[str, float] | None = None
    window: tuple[float, int] = (0.0, 0)


TICK = os.sysconf("SC_CLK_TCK")
SERVERS = {"postgres": "postgres", "imap": "imap"}  # process name -> column


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a live process has used (/proc/PID/stat)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def server_cpu() -> dict[int, tuple[str, float]]:
    """pid -> (column, CPU seconds) of every PostgreSQL and Dovecot IMAP process."""
    found: dict[int, tuple[str, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            name = (entry / "comm").read_text().strip()
        except OSError:
            continue
        if name in SERVERS:
            found[int(entry.name)] = (SERVERS[name], cpu_seconds(int(entry.name)))
    return found


def servers_used(before: dict[int, tuple[str, float]]) -> dict[str, float]:
    """CPU seconds the servers used since ``before`` (a backend born since counts whole)."""
    used = dict.fromkeys(SERVERS.values(), 0.0)
    for pid, (column, now) in server_cpu().items():
        used[column] += now - before.get(pid, (column, 0.0))[1]
    return used


def byte_compile() -> None:
    """maildesk's modules compiled once, as `pip install` does for a wheel (and did for
    the peers): a checkout under PYTHONDONTWRITEBYTECODE=1 would compile its 160
    modules again at every start (0.1 s here)."""
    package = Path(__file__).resolve().parent.parent / "maildesk"
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(package)], check=True)


def write_desk(folder: Path, db_url: str, mailbox_toml: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "rules").mkdir(exist_ok=True)
    shutil.copytree(starter_dir("templates"), folder / "templates", dirs_exist_ok=True)
    config = folder / "maildesk.toml"
    config.write_text(
        f'[helpdesk]\naddress = "support@example.com"\n[database]\nurl = "{db_url}"\n'
        f'[smtp]\nspool_dir = "out"\n[[tiers]]\nname = "L1"\n{mailbox_toml}'
    )
    return config


def kept(db_url: str) -> int:
    engine = make_engine(db_url)
    try:
        with session_factory(engine)() as s:
            return int(s.scalar(select(func.count()).select_from(Message)) or 0) + int(
                s.scalar(select(func.count()).select_from(QuarantinedMessage)) or 0
            )
    finally:
        engine.dispose()


def mbox_of(path: Path, corpus: list[bytes]) -> Path:
    box = mailbox.mbox(str(path))
    for raw in corpus:
        box.add(raw)
    box.close()
    return path


def peak_mb(pid: int) -> float:
    """The process's own high-water RSS (VmHWM), read while it runs.

    Not ru_maxrss from wait4: Linux carries the forking parent's RSS into the
    child's across exec, and this script holds the corpus.
    """
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def run_import(config: Path, box: Path) -> tuple[float, float]:
    """(seconds, peak MB) of `maildesk import`, process start included."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "maildesk", "-c", str(config), "import", str(box), "--json"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    peak = 0.0
    while process.poll() is None:
        peak = max(peak, peak_mb(process.pid))
        time.sleep(0.02)
    if process.returncode != 0:
        sys.exit(f"maildesk import failed with exit code {process.returncode}")
    return time.perf_counter() - started, peak


def steady_rate(db_url: str, since: datetime) -> float:
    """Messages a second between the first and the last kept after ``since``, by the
    time each was received (stored or quarantined), as the daemons' clocks recorded it."""
    engine = make_engine(db_url)
    try:
        with session_factory(engine)() as s:
            times = [
                t
                for model in (Message, QuarantinedMessage)
                for t in s.scalars(select(model.received_at).where(model.received_at >= since))
            ]
    finally:
        engine.dispose()
    span = (max(times) - min(times)).total_seconds() if len(times) > 1 else 0.0
    return (len(times) - 1) / span if span else 0.0


def run_daemons(config: Path, db_url: str, count: int, before: int, total: int) -> Row:
    """Start ``count`` daemons, wait until ``total`` more messages are kept, stop them.

    The database is looked at only a few times a second (each look costs CPU that
    the daemons share); the rate comes from the stored times, not from these looks.
    """
    log = (config.parent / "daemons.log").open("ab")
    since = datetime.now(UTC)
    started = time.perf_counter()
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "maildesk", "-c", str(config), "run"],
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        for _ in range(count)
    ]
    peaks = [0.0] * count
    looked = 0.0
    first: tuple[float, int, float, dict[int, tuple[str, float]]] | None = None
    try:
        while True:
            peaks = [max(p, peak_mb(d.pid)) for p, d in zip(peaks, processes, strict=True)]
            if time.perf_counter() - looked > 0.25:
                looked = time.perf_counter()
                done = kept(db_url) - before
                if first is None and done > 0:  # CPU is counted from here: not the starts
                    mine = sum(cpu_seconds(d.pid) for d in processes)
                    first = (looked, done, mine, server_cpu())
                if done >= total:
                    break
            if any(p.poll() is not None for p in processes):
                sys.exit(f"a daemon died; see {config.parent / 'daemons.log'}")
            time.sleep(0.05)
        # Read before the daemons stop: their database backends end with them.
        assert first is not None
        at, done_then, mine, servers = first
        mine = sum(cpu_seconds(d.pid) for d in processes) - mine
        cpu = {"maildesk": mine, **servers_used(servers)}
        window = (time.perf_counter() - at, total - done_then)
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait()
    wall = time.perf_counter() - started
    rate = steady_rate(db_url, since)
    return Row("", before, count, "IMAP -> run", wall, rate, max(peaks), cpu, window)


class Databases:
    """Fresh databases, each a copy of one prepared with N messages already stored."""

    def __init__(self, work: Path, admin_url: str | None) -> None:
        self.work = work
        self.admin_url = admin_url
        self.created: list[str] = []

    def kinds(self) -> list[str]:
        return ["sqlite", "postgresql"] if self.admin_url else ["sqlite"]

    def empty(self, kind: str) -> str:
        if kind == "sqlite":
            url = f"sqlite:///{self.work / f'{uuid.uuid4().hex[:8]}.db'}"
        else:
            assert self.admin_url
            url = postgres.create_database(self.admin_url)
            self.created.append(url)
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        return url

    def copy(self, kind: str, template: str) -> str:
        if kind == "sqlite":
            source = make_url(template).database
            target = self.work / f"{uuid.uuid4().hex[:8]}.db"
            with sqlite3.connect(str(source)) as connection:
                connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            shutil.copy(str(source), target)
            return f"sqlite:///{target}"
        assert self.admin_url
        name = f"maildesk_bench_{uuid.uuid4().hex[:12]}"
        admin = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(
                    text(f'CREATE DATABASE "{name}" TEMPLATE "{make_url(template).database}"')
                )
        finally:
            admin.dispose()
        url = make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)
        self.created.append(url)
        # A copy starts without planner statistics, and autovacuum, which counts
        # changes per database, never sees a reason to gather them; a desk that
        # grew to this size has them.
        engine = create_engine(url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(text("ANALYZE"))
        finally:
            engine.dispose()
        return url

    def drop_all(self) -> None:
        if self.admin_url:
            for url in self.created:
                postgres.drop_database(self.admin_url, url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--stored", default="1000,20000", help="messages already stored")
    parser.add_argument("--processes", default="1,3")
    parser.add_argument("--postgres", default=os.environ.get(postgres.URL_ENV))
    args = parser.parse_args()
    sizes = [int(s) for s in args.stored.split(",")]
    counts = [int(s) for s in args.processes.split(",")]
    corpus = list(messages(args.messages))
    size = sum(len(m) for m in corpus)
    byte_compile()
    binary = find_dovecot()
    if binary is None:
        sys.exit("bench needs Dovecot (apt-get install dovecot-imapd)")
    server = start_dovecot(binary)
    work = Path(tempfile.mkdtemp(prefix="maildesk-bench-"))
    databases = Databases(work, args.postgres)
    rows: list[Row] = []
    try:
        for kind in databases.kinds():
            for stored in sizes:
                template = databases.empty(kind)
                history = mbox_of(work / f"history-{stored}.mbox", list(messages(stored, seed=99)))
                progress(f"{kind}: storing {stored} messages first")
                run_import(write_desk(work / f"{kind}-{stored}-fill", template), history)
                for count in counts:
                    progress(f"{kind}, {stored} stored, {count} daemon(s)")
                    rows.append(
                        imap_run(server, databases, kind, template, stored, count, corpus, work)
                    )
                progress(f"{kind}, {stored} stored, import")
                url = databases.copy(kind, template)
                box = mbox_of(work / "corpus.mbox", corpus)
                seconds, peak = run_import(write_desk(work / f"{kind}-{stored}-import", url), box)
                rows.append(
                    Row(kind, stored, 1, "mbox -> import", seconds, args.messages / seconds, peak)
                )
    finally:
        databases.drop_all()
        server.stop()
        shutil.rmtree(server.root, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
    print(f"\n{args.messages} messages, {size / 1e6:.1f} MB, {os.cpu_count()} cores\n")
    header = ("database", "stored", "procs", "path", "wall s", "msg/s", "peak MB", "CPU ms/msg")
    print("{:<11} {:>7} {:>5} {:<15} {:>7} {:>7} {:>8}  {}".format(*header))
    for r in rows:
        print(
            f"{r.database:<11} {r.stored:>7} {r.processes:>5} {r.path:<15} {r.wall:>7.1f} "
            f"{r.rate:>7.0f} {r.peak_mb:>8.0f}  {cpu_shares(r)}"
        )
    print(
        "\nCPU ms/msg: CPU time per message of the daemons (md), the PostgreSQL server (pg)"
        "\nand Dovecot (imap), first message stored to last (the daemons' starts left out);"
        "\nbusy: how many cores they kept busy in that time, on average."
        "\nWith one process keeping B of the machine's cores busy, more processes can"
        "\ngain at most cores / B."
    )


def cpu_shares(row: Row) -> str:
    if row.cpu is None:
        return ""
    seconds, messages = row.window
    spent = sum(row.cpu.values())
    names = {"maildesk": "md", "postgres": "pg", "imap": "imap"}
    parts = " ".join(f"{names[k]} {v / messages * 1000:.2f}" for k, v in row.cpu.items())
    return f"{parts} = {spent / messages * 1000:.2f}; busy {spent / seconds:.2f}"


def imap_run(
    server: Dovecot,
    databases: Databases,
    kind: str,
    template: str,
    stored: int,
    count: int,
    corpus: list[bytes],
    work: Path,
) -> Row:
    url = databases.copy(kind, template)
    before = kept(url)
    account = server.add_account()
    client = server.client(account)
    for raw in corpus:
        client.append("INBOX", raw)
    client.logout()
    config = write_desk(
        work / f"{kind}-{stored}-{count}",
        url,
        f'[[mailboxes]]\nname = "b"\nhost = "127.0.0.1"\nport = {server.imap_port}\n'
        f'security = "none"\nusername = "{account.username}"\npassword = "{account.password}"\n',
    )
    row = run_daemons(config, url, count, before, len(corpus))
    return Row(kind, stored, count, row.path, row.wall, row.rate, row.peak_mb, row.cpu, row.window)


def progress(line: str) -> None:
    print(f"... {line}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
