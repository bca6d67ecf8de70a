"""What the fault-injection tests share: a desk on real servers, the corpus, and the checks.

The checks are the promise: every message stored (or quarantined) exactly once
and taken out of INBOX; every outbox row sent; every mail at the SMTP server
once, except the one a crash can leave in flight per kill (the relay took it,
the daemon died before writing that down): that row is claimed again and sent
again with the same Message-ID, and its attempts show it.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

from sqlalchemy import select

from bench.mailgen import messages
from maildesk.starter import starter_dir
from maildesk.store.db import make_engine, session_factory
from maildesk.store.models import Message, OutboxMessage, QuarantinedMessage
from maildesk.store.schema import upgrade
from tests.support.dovecot import Account, Dovecot
from tests.support.processes import wait_until
from tests.support.smtpsink import Sink
from tests.support.sources import append, folder_count


def corpus(count: int, seed: int) -> tuple[list[bytes], list[str]]:
    mails = list(messages(count, seed=seed))
    ids = [_message_id(raw) for raw in mails]
    return mails, ids


def _message_id(raw: bytes) -> str:
    found = re.search(rb"Message-ID: (<[^>]+>)", raw)
    assert found is not None
    return found.group(1).decode()


def write_desk(
    folder: Path, db_url: str, dovecot: Dovecot, account: Account, sink: Sink, extra: str = ""
) -> Path:
    config = folder / "maildesk.toml"
    config.write_text(
        f'[helpdesk]\naddress = "support@example.com"\n[database]\nurl = "{db_url}"\n'
        f'[smtp]\nhost = "127.0.0.1"\nport = {sink.port}\nsecurity = "none"\ntimeout = 5\n'
        '[ingest]\nbatch_size = 25\n[[tiers]]\nname = "L1"\n'
        f'[[mailboxes]]\nname = "support"\nhost = "{dovecot.host}"\nport = {dovecot.imap_port}\n'
        f'security = "none"\nusername = "{account.username}"\npassword = "{account.password}"\n'
        f"poll_interval = 2\n{extra}"
    )
    (folder / "rules").mkdir(exist_ok=True)
    shutil.copytree(starter_dir("templates"), folder / "templates", dirs_exist_ok=True)
    engine = make_engine(db_url)
    upgrade(engine)
    engine.dispose()
    return config


def daemon(config: Path, *args: str) -> subprocess.Popen[bytes]:
    log = (config.parent / "maildesk.log").open("ab")  # a file: an unread pipe would stall it
    return subprocess.Popen(
        [sys.executable, "-m", "maildesk", "-c", str(config), "run", *args],
        stdout=subprocess.DEVNULL,
        stderr=log,
    )


@contextmanager
def running(config: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A daemon for the body of a with: stopped by SIGTERM after it (which must end it
    cleanly, and it must not have died before), killed if the body failed."""
    process = daemon(config)
    log = config.parent / "maildesk.log"
    try:
        yield process
        if process.poll() is not None:
            raise AssertionError(f"the daemon died: {log.read_text()[-3000:]}")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0, log.read_text()[-3000:]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def kill_when(process: subprocess.Popen[bytes], reached: Callable[[], bool], delay: float) -> bool:
    """kill -9 the process ``delay`` seconds after ``reached()`` holds; False if it had
    already ended by then (the kill point missed)."""
    try:
        wait_until(reached, 120)
        time.sleep(delay)
    finally:
        alive = process.poll() is None
        if alive:
            os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    return alive


def desk_with_mail(
    folder: Path, db_url: str, dovecot: Dovecot, sink: Sink, mails: list[bytes]
) -> tuple[Path, Account]:
    """A fresh mailbox holding ``mails`` and a desk reading it."""
    account = dovecot.add_account()
    append(dovecot, account, mails)
    return write_desk(folder, db_url, dovecot, account, sink), account


def finish(config: Path) -> None:
    """One last `run --once` past the outbox lease: what a restarted desk does in 5 minutes."""
    later = (datetime.now(UTC) + timedelta(minutes=6)).isoformat()
    process = daemon(config, "--once", "--now", later)
    assert process.wait(timeout=300) == 0, (config.parent / "maildesk.log").read_text()[-3000:]


def kept_ids(db_url: str) -> list[str]:
    engine = make_engine(db_url)
    try:
        with session_factory(engine)() as s:
            ids = [m or "" for m in s.scalars(select(Message.message_id))]
            return ids + [m or "" for m in s.scalars(select(QuarantinedMessage.message_id))]
    finally:
        engine.dispose()


def kept_count(db_url: str) -> int:
    return len(kept_ids(db_url))


def assert_exactly_once(
    db_url: str, ids: list[str], dovecot: Dovecot, account: Account, sink: Sink, crashes: int = 0
) -> int:
    """Check the promise; returns how many mails went to the relay twice (crash in flight)."""
    kept = kept_ids(db_url)
    assert len(kept) == len(ids) and sorted(kept) == sorted(ids), (
        f"{len(kept)} kept, {len(set(kept))} distinct, {len(ids)} sent in"
    )
    assert folder_count(dovecot, account, "INBOX") == 0
    engine = make_engine(db_url)
    try:
        with session_factory(engine)() as s:
            rows = list(
                s.execute(
                    select(OutboxMessage.message_id, OutboxMessage.state, OutboxMessage.attempts)
                )
            )
    finally:
        engine.dispose()
    assert rows and {state for _, state, _ in rows} == {"sent"}
    received = Counter(
        str(message_from_bytes(m.data, policy=policy.default)["Message-ID"])
        for m in sink.handler.messages
    )
    assert set(received) == {mid for mid, _, _ in rows}  # none lost, nothing foreign
    twice = {mid: count for mid, count in received.items() if count > 1}
    if not crashes:
        assert not twice, twice
        return 0
    # A crash leaves at most one mail handed to the relay and not recorded as sent
    # (the rest of its claimed batch was never handed over): only such a mail,
    # claimed again after the crash, may reach the relay twice.
    retried = {mid: attempts for mid, _, attempts in rows if attempts > 1}
    assert len(twice) <= crashes, (len(twice), crashes)
    for mid, count in twice.items():
        assert count <= retried.get(mid, 1), (mid, count)
    return len(twice)
