"""IMAP folders in the database: claims on messages, and how far a folder is done.

Claims let several daemons read the same mailbox.

Before fetching, a reader claims a few UIDs (one row each, primary key
mailbox + folder + UIDVALIDITY + UID); another reader skips them. After the
message was stored and moved the claim is marked done. A claim is taken over
when its owner is gone: a process on this host that no longer runs (found at
once), or any owner whose claim is older than the lease (another machine that
died). Taking over is always safe: storing is idempotent by Message-ID, so the
worst case is work done twice, never a message stored twice.

The folder's progress (mailbox_state.last_uid) is the low-water mark: every
UID at or below it is done, whoever did it.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.orm import Session

from maildesk.store import upsert
from maildesk.store.models import MailboxClaim, MailboxState

LEASE = timedelta(minutes=10)  # a batch takes seconds; this only covers another machine's death
HOST = socket.gethostname()[:100]


@dataclass(frozen=True)
class FolderKey:
    mailbox: str
    folder: str
    uidvalidity: int


def process_owner() -> str:
    """host:pid:start, so that a reused pid is not mistaken for the dead owner."""
    return f"{HOST}:{os.getpid()}:{_start_time(os.getpid())}"


def owner_gone(owner: str) -> bool:
    """True when the owner is a process on this host that is no longer running."""
    parts = owner.rsplit(":", 2)
    if len(parts) != 3 or parts[0] != HOST or not parts[1].isdigit():
        return False
    pid, started = int(parts[1]), parts[2]
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # running, as another user
    return _start_time(pid) != started


def _start_time(pid: int) -> str:
    """The process start time in clock ticks since boot (Linux); "" elsewhere."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            # Field 22; the command name (field 2) may contain spaces, so split after it.
            return stat.read().rpartition(b")")[2].split()[19].decode()
    except (OSError, IndexError):
        return ""


def _of(key: FolderKey) -> Any:
    return and_(
        MailboxClaim.mailbox == key.mailbox,
        MailboxClaim.folder == key.folder,
        MailboxClaim.uidvalidity == key.uidvalidity,
    )


def claim(
    session: Session,
    key: FolderKey,
    candidates: list[int],
    owner: str,
    now: datetime,
    limit: int,
) -> list[int]:
    """Claim up to ``limit`` of the candidate UIDs (ascending) for ``owner``.

    Skips UIDs at or below the folder's progress, UIDs done, and UIDs a live
    owner holds. Returns the UIDs that are now ours, ascending.
    """
    progress = folder_progress(session, key)
    wanted = sorted(u for u in candidates if u > progress)
    if not wanted:
        return []
    held = {
        uid: (claim_owner, claimed_at, done)
        for uid, claim_owner, claimed_at, done in session.execute(
            select(
                MailboxClaim.uid, MailboxClaim.owner, MailboxClaim.claimed_at, MailboxClaim.done
            ).where(_of(key), MailboxClaim.uid.between(wanted[0], wanted[-1]))
        )
    }
    fresh: list[int] = []
    takeover: list[int] = []
    gone: dict[str, bool] = {}
    for uid in wanted:
        if len(fresh) + len(takeover) >= limit:
            break
        if uid not in held:
            fresh.append(uid)
            continue
        claim_owner, claimed_at, done = held[uid]
        if done:
            continue
        if claim_owner not in gone:
            gone[claim_owner] = claim_owner != owner and owner_gone(claim_owner)
        if claim_owner == owner or claimed_at < now - LEASE or gone[claim_owner]:
            takeover.append(uid)
    if fresh:
        values = [
            {
                "mailbox": key.mailbox,
                "folder": key.folder,
                "uidvalidity": key.uidvalidity,
                "uid": uid,
                "owner": owner,
                "claimed_at": now,
                "done": False,
            }
            for uid in fresh
        ]
        session.execute(_insert_ignoring_conflicts(session).values(values))
    for uid in takeover:
        claim_owner, claimed_at, _ = held[uid]
        # Only if nobody else took it over meanwhile (the row is as we read it).
        session.execute(
            update(MailboxClaim)
            .where(
                _of(key),
                MailboxClaim.uid == uid,
                MailboxClaim.owner == claim_owner,
                MailboxClaim.claimed_at == claimed_at,
                MailboxClaim.done.is_(False),
            )
            .values(owner=owner, claimed_at=now)
        )
    mine = session.scalars(
        select(MailboxClaim.uid).where(
            _of(key),
            MailboxClaim.uid.in_(fresh + takeover),
            MailboxClaim.owner == owner,
            MailboxClaim.claimed_at == now,
            MailboxClaim.done.is_(False),
        )
    )
    return sorted(mine)


def _insert_ignoring_conflicts(session: Session) -> Any:
    return upsert.insert(session, MailboxClaim).on_conflict_do_nothing()


def finish(session: Session, key: FolderKey, uids: Iterable[int], owner: str, now: datetime) -> int:
    """Mark our claims done and move the folder's progress up; returns the new progress."""
    done = list(uids)
    if done:
        session.execute(
            update(MailboxClaim)
            .where(_of(key), MailboxClaim.uid.in_(done), MailboxClaim.owner == owner)
            .values(done=True)
        )
    lowest_open = session.scalar(
        select(func.min(MailboxClaim.uid)).where(_of(key), MailboxClaim.done.is_(False))
    )
    if lowest_open is not None:
        progress = lowest_open - 1
    else:
        progress = session.scalar(select(func.max(MailboxClaim.uid)).where(_of(key))) or 0
    if progress:
        save_folder_progress(session, key, progress, now)
        progress = folder_progress(session, key)
    # Claims at or below the progress, and those of an older UIDVALIDITY, say nothing more.
    session.execute(
        delete(MailboxClaim).where(
            MailboxClaim.mailbox == key.mailbox,
            MailboxClaim.folder == key.folder,
            or_(
                MailboxClaim.uidvalidity != key.uidvalidity,
                and_(MailboxClaim.done.is_(True), MailboxClaim.uid <= progress),
            ),
        )
    )
    return progress


def folder_progress(session: Session, key: FolderKey) -> int:
    """The UID up to which everything is done; 0 when new or UIDVALIDITY changed."""
    state = session.scalar(
        select(MailboxState).where(
            MailboxState.mailbox == key.mailbox, MailboxState.folder == key.folder
        )
    )
    if state is None or state.uidvalidity != key.uidvalidity:
        return 0
    return state.last_uid


def save_folder_progress(session: Session, key: FolderKey, last_uid: int, now: datetime) -> None:
    """Move the progress up (never down), atomically: several daemons write it."""
    insert = upsert.insert(session, MailboxState)
    session.execute(
        insert.values(
            mailbox=key.mailbox,
            folder=key.folder,
            uidvalidity=key.uidvalidity,
            last_uid=last_uid,
            updated_at=now,
        ).on_conflict_do_nothing()
    )
    session.execute(
        update(MailboxState)
        .where(
            MailboxState.mailbox == key.mailbox,
            MailboxState.folder == key.folder,
            or_(
                MailboxState.uidvalidity != key.uidvalidity,
                MailboxState.last_uid < last_uid,
            ),
        )
        .values(uidvalidity=key.uidvalidity, last_uid=last_uid, updated_at=now)
    )
