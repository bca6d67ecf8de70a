"""Claims on IMAP messages: who takes which UID, when a dead owner's claim is taken over,
and how far the folder's progress moves."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, func, select

from maildesk.store.db import session_factory
from maildesk.store.mailboxes import (
    HOST,
    LEASE,
    FolderKey,
    claim,
    finish,
    folder_progress,
    owner_gone,
    process_owner,
)
from maildesk.store.models import MailboxClaim

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
KEY = FolderKey("support", "INBOX", 7)
ALIVE = process_owner()


def dead_owner() -> str:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return f"{HOST}:{child.pid}:1"


def test_two_owners_get_different_uids(engine: Engine) -> None:
    sessions = session_factory(engine)
    uids = list(range(1, 11))
    with sessions.begin() as s:
        first = claim(s, KEY, uids, "host-a:1:1", NOW, limit=4)
    with sessions.begin() as s:
        second = claim(s, KEY, uids, "host-b:2:2", NOW, limit=4)
    with sessions.begin() as s:
        third = claim(s, KEY, uids, "host-b:2:2", NOW + timedelta(seconds=1), limit=4)
    assert first == [1, 2, 3, 4]
    assert second == [5, 6, 7, 8]
    # The same owner asking again gets its own unfinished claims back first.
    assert third == [5, 6, 7, 8]


def test_a_dead_or_silent_owner_is_taken_over_a_live_one_is_not(engine: Engine) -> None:
    sessions = session_factory(engine)
    dead = dead_owner()
    assert owner_gone(dead) and not owner_gone(ALIVE)
    assert not owner_gone("elsewhere:1:1")  # another machine: only the lease tells
    with sessions.begin() as s:
        assert claim(s, KEY, [1], dead, NOW, limit=1) == [1]
        assert claim(s, KEY, [2], ALIVE, NOW, limit=1) == [2]
        assert claim(s, KEY, [3], "elsewhere:1:1", NOW, limit=1) == [3]
    soon = NOW + timedelta(seconds=5)
    with sessions.begin() as s:
        assert claim(s, KEY, [1, 2, 3], "me:9:9", soon, limit=10) == [1]
    later = NOW + LEASE + timedelta(seconds=1)
    with sessions.begin() as s:
        # 1 is ours already; the live owner and the other machine are silent past the lease.
        assert claim(s, KEY, [1, 2, 3], "me:9:9", later, limit=10) == [1, 2, 3]


def test_progress_is_the_low_water_mark_and_done_claims_go(engine: Engine) -> None:
    sessions = session_factory(engine)
    with sessions.begin() as s:
        a = claim(s, KEY, list(range(1, 7)), "a:1:1", NOW, limit=3)
        b = claim(s, KEY, list(range(1, 7)), "b:2:2", NOW, limit=3)
    assert (a, b) == ([1, 2, 3], [4, 5, 6])
    with sessions.begin() as s:
        assert finish(s, KEY, b, "b:2:2", NOW) == 0  # 1-3 still open
    with sessions.begin() as s:
        assert finish(s, KEY, [1, 2], "a:1:1", NOW) == 2
    with sessions.begin() as s:
        assert finish(s, KEY, [3], "a:1:1", NOW) == 6
        assert folder_progress(s, KEY) == 6
        assert s.scalar(select(func.count()).select_from(MailboxClaim)) == 0
    with sessions.begin() as s:
        # Nothing at or below the progress is claimed again, even from an old search.
        assert claim(s, KEY, [5, 6, 7], "c:3:3", NOW, limit=5) == [7]


def test_a_new_uidvalidity_starts_over_and_drops_old_claims(engine: Engine) -> None:
    sessions = session_factory(engine)
    with sessions.begin() as s:
        claim(s, KEY, [1, 2], "a:1:1", NOW, limit=5)
        finish(s, KEY, [1], "a:1:1", NOW)
    renewed = FolderKey(KEY.mailbox, KEY.folder, KEY.uidvalidity + 1)
    with sessions.begin() as s:
        assert folder_progress(s, renewed) == 0
        assert claim(s, renewed, [1, 2], "b:2:2", NOW, limit=5) == [1, 2]
        assert finish(s, renewed, [1, 2], "b:2:2", NOW) == 2
        assert s.scalar(select(func.count()).select_from(MailboxClaim)) == 0
