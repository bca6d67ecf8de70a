"""Per-folder IMAP progress: UIDVALIDITY and the last UID handled."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from maildesk.store.models import MailboxState


def folder_progress(session: Session, mailbox: str, folder: str, uidvalidity: int) -> int:
    """The last UID handled; 0 when the folder is new or its UIDVALIDITY changed."""
    state = session.scalar(
        select(MailboxState).where(MailboxState.mailbox == mailbox, MailboxState.folder == folder)
    )
    if state is None or state.uidvalidity != uidvalidity:
        return 0
    return state.last_uid


def save_folder_progress(
    session: Session, mailbox: str, folder: str, uidvalidity: int, last_uid: int, now: datetime
) -> None:
    state = session.scalar(
        select(MailboxState).where(MailboxState.mailbox == mailbox, MailboxState.folder == folder)
    )
    if state is None:
        session.add(
            MailboxState(
                mailbox=mailbox,
                folder=folder,
                uidvalidity=uidvalidity,
                last_uid=last_uid,
                updated_at=now,
            )
        )
    elif state.uidvalidity != uidvalidity or last_uid > state.last_uid:
        state.uidvalidity, state.last_uid, state.updated_at = uidvalidity, last_uid, now
