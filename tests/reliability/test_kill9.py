"""kill -9 at 12 random points while a daemon ingests 1,000 messages and sends their mail.

Seeded: the points are the same on every run (they print on failure). Each
point is a number of messages kept plus a random delay of up to 300 ms, so
the kills land in every phase: fetching, parsing, committing, moving in
IMAP, claiming, sending and recording outbox rows.
"""

from __future__ import annotations

import random
from pathlib import Path

from tests.support.dovecot import Dovecot
from tests.support.reliability import (
    assert_exactly_once,
    corpus,
    daemon,
    desk_with_mail,
    finish,
    kept_count,
    kill_when,
)
from tests.support.smtpsink import Sink

TOTAL = 1000
KILLS = 12


def test_kill_9_at_20_random_points(tmp_path: Path, dovecot: Dovecot, smtp_sink: Sink) -> None:
    rng = random.Random(20261123)
    points = sorted(rng.sample(range(1, TOTAL - 50), KILLS))
    delays = [rng.uniform(0, 0.3) for _ in points]
    db_url = f"sqlite:///{tmp_path / 'maildesk.db'}"
    mails, ids = corpus(TOTAL, seed=9)
    config, account = desk_with_mail(tmp_path, db_url, dovecot, smtp_sink, mails)
    kills = 0
    for point, delay in zip(points, delays, strict=True):
        reached = lambda p=point: kept_count(db_url) >= p  # noqa: E731
        kills += kill_when(daemon(config), reached, delay)
    assert kills == KILLS, f"points {points}"
    finish(config)
    twice = assert_exactly_once(db_url, ids, dovecot, account, smtp_sink, crashes=kills)
    print(f"{kills} kills at {points}; mails the relay got twice (in flight at a kill): {twice}")
