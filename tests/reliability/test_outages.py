"""A running daemon through outages: Dovecot restarted, the relay down, PostgreSQL restarted.

Each time the daemon is left running through the outage (it must not die
or stop reading), then stopped with SIGTERM; one last `run --once` goes
past the outbox lease and backoff, as a desk that keeps running would. Then
the promise is checked (tests/reliability/common.py).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.dovecot import Dovecot
from tests.support.need import missing
from tests.support.pgcluster import Cluster, find_pg_bin, start_cluster
from tests.support.processes import wait_until
from tests.support.reliability import (
    assert_exactly_once,
    corpus,
    desk_with_mail,
    finish,
    kept_count,
    running,
)
from tests.support.smtpsink import Sink
from tests.support.sources import append

TOTAL = 1000


def test_dovecot_restarted_mid_run(tmp_path: Path, dovecot: Dovecot, smtp_sink: Sink) -> None:
    db_url = f"sqlite:///{tmp_path / 'maildesk.db'}"
    mails, ids = corpus(TOTAL + 100, seed=11)
    config, account = desk_with_mail(tmp_path, db_url, dovecot, smtp_sink, mails[:TOTAL])
    with running(config) as process:
        wait_until(lambda: kept_count(db_url) >= 300, 120)
        dovecot.restart()  # every connection drops in the middle of the work
        append(dovecot, account, mails[TOTAL:])  # and new mail arrives after
        wait_until(lambda: kept_count(db_url) >= TOTAL + 100 or process.poll() is not None, 180)
    finish(config)
    assert_exactly_once(db_url, ids, dovecot, account, smtp_sink)
    assert "reconnecting" in (tmp_path / "maildesk.log").read_text()


def test_relay_down_for_a_while(tmp_path: Path, dovecot: Dovecot, smtp_sink: Sink) -> None:
    db_url = f"sqlite:///{tmp_path / 'maildesk.db'}"
    mails, ids = corpus(TOTAL, seed=12)
    config, account = desk_with_mail(tmp_path, db_url, dovecot, smtp_sink, mails)
    with running(config) as process:
        # Down early: with most of the mailbox still to read, ingest must go on.
        wait_until(lambda: len(smtp_sink.messages) >= 10, 120)
        smtp_sink.stop()
        down_at = kept_count(db_url)
        assert down_at <= TOTAL - 200, down_at
        wait_until(lambda: kept_count(db_url) >= down_at + 200, 120)
        smtp_sink.start()
        wait_until(lambda: kept_count(db_url) >= TOTAL or process.poll() is not None, 180)
    log = (tmp_path / "maildesk.log").read_text()
    assert "could not send" in log and "connection refused" in log
    finish(config)
    assert_exactly_once(db_url, ids, dovecot, account, smtp_sink)


@pytest.fixture
def private_postgres() -> Iterator[Cluster]:
    bin_dir = find_pg_bin()
    if bin_dir is None:
        missing("PostgreSQL server binaries", "install Debian's postgresql")
    cluster = start_cluster(bin_dir)
    yield cluster
    cluster.remove()


def test_postgresql_restarted_mid_run(
    tmp_path: Path, dovecot: Dovecot, smtp_sink: Sink, private_postgres: Cluster
) -> None:
    db_url = private_postgres.url
    mails, ids = corpus(TOTAL, seed=13)
    config, account = desk_with_mail(tmp_path, db_url, dovecot, smtp_sink, mails)
    with running(config) as process:
        wait_until(lambda: kept_count(db_url) >= 300, 120)
        private_postgres.stop()
        time.sleep(2)  # down long enough for every thread to notice
        private_postgres.start()
        wait_until(lambda: kept_count(db_url) >= TOTAL or process.poll() is not None, 180)
    assert "database unavailable" in (tmp_path / "maildesk.log").read_text()
    finish(config)
    # A commit cut by the restart right after the relay's 250 is the one mail in doubt.
    assert_exactly_once(db_url, ids, dovecot, account, smtp_sink, crashes=1)
