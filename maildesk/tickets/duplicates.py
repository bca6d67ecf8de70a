"""A mail seen before: the same mail delivered twice, a reused Message-ID, a robot's repeats.

Read-only look-ups inside the pipeline's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from maildesk.desk import Desk
from maildesk.mail import ParsedMail
from maildesk.parse import content_hash, reused_key
from maildesk.store.lookups import (
    already_stored,
    same_text_count,
    stored_and_same_text,
    stored_raw,
)


@dataclass(frozen=True)
class Seen:
    """What the store already knows of a mail's key."""

    mail: ParsedMail  # the mail, under the key it is to be stored with
    where: str | None = None  # a duplicate: "message" or "quarantine"
    reused: str | None = None  # a different mail reused this stored key
    same_text: int | None = None  # customer mail with its text this hour, when asked


def seen_before(
    session: Session, mail: ParsedMail, text: str | None = None, now: datetime | None = None
) -> Seen:
    """The same mail again is a duplicate; a different mail under a stored Message-ID
    is stored under a key of its own (a leaked or reused ID must not make the desk
    drop a mail without trace). With the mail's text fingerprint (``text``), the
    same look-up counts that text's customer mail of the hour for ``repeated``."""
    count = None
    if text is not None and now is not None:
        since = now - timedelta(hours=1)
        where, count = stored_and_same_text(session, mail.dedupe_key, text, since)
    else:
        where = already_stored(session, mail.dedupe_key)
    if where is None:
        return Seen(mail, same_text=count)
    derived = _derived_key(session, mail)
    if derived is None:
        return Seen(mail, where=where)
    return Seen(replace(mail, dedupe_key=derived), reused=mail.dedupe_key, same_text=count)


def _derived_key(session: Session, mail: ParsedMail) -> str | None:
    if mail.message_id is None or not mail.dedupe_key.startswith(("<", "mid-sha256:")):
        return None  # a key made from the content: the same key is the same mail
    earlier = stored_raw(session, mail.dedupe_key)
    if earlier is None:
        return None
    mine = content_hash(mail.raw)
    if content_hash(earlier) == mine:
        return None
    derived = reused_key(mail.dedupe_key, mine)
    return None if already_stored(session, derived) is not None else derived


def repeated(
    desk: Desk, session: Session, body_hash: str | None, now: datetime, counted: int | None = None
) -> tuple[str, bool] | None:
    """(why, first time) when customers sent this text too often this hour: a robot.
    ``counted``: that count, when seen_before looked it up."""
    if body_hash is None:
        return None
    limit = desk.settings.outbox.same_text_per_hour
    seen = (
        counted
        if counted is not None
        else same_text_count(session, body_hash, now - timedelta(hours=1))
    )
    if seen + 1 < limit:
        return None
    return f"the same text came {seen + 1} times within the hour", seen + 1 == limit
