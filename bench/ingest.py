"""End-to-end ingest throughput: Dovecot -> `maildesk run --once` -> stored tickets.

Also the same messages through `maildesk import` (no IMAP), to separate the
pipeline's cost from IMAP's. Prints a table; nothing here is a test.

    .venv/bin/python bench/ingest.py [--messages 1000] [--postgres URL]
"""

from __future__ import annotations

import argparse
import mailbox
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.mailgen import messages
from maildesk.starter import starter_dir
from maildesk.store.db import make_engine
from maildesk.store.schema import upgrade
from tests.support import postgres
from tests.support.dovecot import find_dovecot, start_dovecot


def desk(folder: Path, db_url: str, mailbox_toml: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "rules").mkdir(exist_ok=True)
    shutil.copytree(starter_dir("templates"), folder / "templates", dirs_exist_ok=True)
    config = folder / "maildesk.toml"
    config.write_text(
        f'[helpdesk]\naddress = "support@example.com"\n[database]\nurl = "{db_url}"\n'
        f'[smtp]\nspool_dir = "out"\n[[tiers]]\nname = "L1"\n{mailbox_toml}'
    )
    engine = make_engine(db_url)
    upgrade(engine)
    engine.dispose()
    return config


def run(config: Path, *args: str) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of one maildesk process, process start included."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "maildesk", "-c", str(config), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        sys.exit(f"maildesk {' '.join(args)} failed with exit code {process.returncode}")
    return elapsed, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--postgres", default=os.environ.get(postgres.URL_ENV))
    args = parser.parse_args()
    corpus = list(messages(args.messages))
    size = sum(len(m) for m in corpus)
    binary = find_dovecot()
    if binary is None:
        sys.exit("bench needs Dovecot (apt-get install dovecot-imapd)")
    server = start_dovecot(binary)
    work = Path(tempfile.mkdtemp(prefix="maildesk-bench-"))
    rows = []
    created: list[str] = []
    try:
        databases = [("sqlite", lambda name: f"sqlite:///{work / name}.db")]
        if args.postgres:

            def fresh(_name: str) -> str:
                created.append(postgres.create_database(args.postgres))
                return created[-1]

            databases.append(("postgresql", fresh))
        for label, make_url in databases:
            # IMAP end to end
            account = server.add_account()
            client = server.client(account)
            for raw in corpus:
                client.append("INBOX", raw)
            client.logout()
            url = make_url("imap")
            config = desk(
                work / f"{label}-imap",
                url,
                f'[[mailboxes]]\nname = "b"\nhost = "127.0.0.1"\n'
                f'port = {server.imap_port}\nsecurity = "none"\n'
                f'username = "{account.username}"\npassword = "{account.password}"\n',
            )
            seconds, peak = run(config, "run", "--once")
            rows.append((label, "IMAP -> run --once", seconds, peak))
            # the same messages without IMAP
            box_path = work / f"{label}.mbox"
            box = mailbox.mbox(str(box_path))
            for raw in corpus:
                box.add(raw)
            box.close()
            config = desk(work / f"{label}-import", make_url("import"))
            seconds, peak = run(config, "import", str(box_path), "--json")
            rows.append((label, "mbox -> import", seconds, peak))
    finally:
        for url in created:
            postgres.drop_database(args.postgres, url)
        server.stop()
        shutil.rmtree(server.root, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
    print(f"\n{args.messages} messages, {size / 1e6:.1f} MB, one process\n")
    print(f"{'database':<11} {'path':<20} {'seconds':>8} {'msg/s':>8} {'peak MB':>8}")
    for label, path, seconds, peak in rows:
        print(
            f"{label:<11} {path:<20} {seconds:>8.1f} {args.messages / seconds:>8.0f} {peak:>8.0f}"
        )


if __name__ == "__main__":
    main()
