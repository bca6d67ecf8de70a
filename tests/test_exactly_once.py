"""Nothing lost, nothing twice: a real `maildesk run` process against real Dovecot.

500 messages appended while the daemon runs are stored once each; a
`kill -9` in the middle of an ingest, then a restart, loses and doubles
nothing.
"""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from maildesk.starter import starter_dir
from maildesk.store.db import make_engine, session_factory
from maildesk.store.models import Message
from maildesk.store.schema import upgrade
from tests.support.dovecot import Account, Dovecot
from tests.support.processes import maildesk, wait_until
from tests.support.sources import append, folder_count, mail


def write_config(
    tmp_path: Path, db_url: str, dovecot: Dovecot, account: Account, batch_size: int = 25
) -> Path:
    config = tmp_path / "maildesk.toml"
    config.write_text(
        f'[helpdesk]\naddress = "support@example.com"\n[database]\nurl = "{db_url}"\n'
        f'[smtp]\nspool_dir = "out"\n[ingest]\nbatch_size = {batch_size}\n'
        f'[[mailboxes]]\nname = "support"\nhost = "{dovecot.host}"\nport = {dovecot.imap_port}\n'
        f'security = "none"\nusername = "{account.username}"\npassword = "{account.password}"\n'
        "poll_interval = 2\n"
    )
    (tmp_path / "rules").mkdir(exist_ok=True)
    shutil.copytree(starter_dir("templates"), tmp_path / "templates", dirs_exist_ok=True)
    engine = make_engine(db_url)
    upgrade(engine)
    engine.dispose()
    return config


def message_ids(db_url: str) -> list[str]:
    engine = make_engine(db_url)
    try:
        with session_factory(engine)() as s:
            return [m or "" for m in s.scalars(select(Message.message_id))]
    finally:
        engine.dispose()


def stored_count(db_url: str) -> int:
    engine = make_engine(db_url)
    try:
        with session_factory(engine)() as s:
            return int(s.scalar(select(func.count()).select_from(Message)) or 0)
    finally:
        engine.dispose()


def test_500_messages_appended_while_running_are_stored_once(
    tmp_path: Path, db_url: str, dovecot: Dovecot, imap_account: Account
) -> None:
    config = write_config(tmp_path, db_url, dovecot, imap_account)
    daemon = maildesk(config, "run")
    try:
        total = 500
        writers = [
            threading.Thread(
                target=append,
                args=(dovecot, imap_account, [mail(n) for n in range(k, total + 1, 4)]),
            )
            for k in range(1, 5)
        ]
        for w in writers:
            w.start()
        for w in writers:
            w.join()
        wait_until(lambda: stored_count(db_url) >= total, 180)
        time.sleep(1)  # anything extra would show up now
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=10) == 0
    finally:
        if daemon.poll() is None:
            daemon.kill()
    ids = message_ids(db_url)
    assert len(ids) == total and set(ids) == {f"<q{n}@example.org>" for n in range(1, total + 1)}
    assert folder_count(dovecot, imap_account, "INBOX") == 0
    assert folder_count(dovecot, imap_account, "Processed") == total


def test_kill_9_in_the_middle_loses_and_doubles_nothing(
    tmp_path: Path, db_url: str, dovecot: Dovecot, imap_account: Account
) -> None:
    total = 300
    append(dovecot, imap_account, [mail(n) for n in range(1, total + 1)])
    config = write_config(tmp_path, db_url, dovecot, imap_account, batch_size=10)
    # Kill it three times at different points, then let a last run finish the job.
    for target in (20, 90, 170):
        process = maildesk(config, "run", "--once")
        try:
            wait_until(
                lambda t=target, p=process: stored_count(db_url) >= t or p.poll() is not None, 120
            )
            os.kill(process.pid, signal.SIGKILL)
        finally:
            process.wait(timeout=10)
    last = maildesk(config, "run", "--once")
    assert last.wait(timeout=180) == 0, (tmp_path / "maildesk.log").read_text()[-2000:]
    ids = message_ids(db_url)
    assert len(ids) == total and len(set(ids)) == total
    # Every customer got exactly one acknowledgement: one spool file per Message-ID.
    assert len(list((tmp_path / "out").glob("*.eml"))) == total
    assert folder_count(dovecot, imap_account, "INBOX") == 0
    assert folder_count(dovecot, imap_account, "Processed") == total


@pytest.mark.parametrize("kill_after", [1, 40])
def test_kill_9_between_commit_and_acknowledge(
    tmp_path: Path, db_url: str, dovecot: Dovecot, kill_after: int
) -> None:
    """A message committed but not yet moved is read again, found stored, and moved."""
    account = dovecot.add_account()
    append(dovecot, account, [mail(n) for n in range(1, 61)])
    config = write_config(tmp_path, db_url, dovecot, account, batch_size=60)
    process = maildesk(config, "run", "--once")
    wait_until(lambda: stored_count(db_url) >= kill_after or process.poll() is not None, 120)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    assert maildesk(config, "run", "--once").wait(timeout=120) == 0
    ids = message_ids(db_url)
    assert sorted(ids) == sorted(f"<q{n}@example.org>" for n in range(1, 61))
    assert folder_count(dovecot, account, "Processed") == 60
