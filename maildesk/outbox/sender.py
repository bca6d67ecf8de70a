"""Delivery to the relay (or the spool folder): rows claimed a batch at a time, each mail
handed over and recorded on its own, with retries and backoff."""

from __future__ import annotations

import hashlib
import logging
import os
import smtplib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session, defer, sessionmaker

from maildesk.clock import Clock
from maildesk.config import read_password
from maildesk.config.model import Settings
from maildesk.config.semantics import parse_duration
from maildesk.errors import UserError
from maildesk.outbox.relay import (
    Permanent,
    RelayUnavailable,
    close,
    end_data,
    open_relay,
    start_data,
    usable,
)
from maildesk.store import outbox as queue
from maildesk.store.db import transaction
from maildesk.store.models import OutboxMessage

log = logging.getLogger("maildesk.outbox")


class _NotTaken(Exception):
    """The relay did not take the mail at the final dot: undo the "sent" we wrote."""


@dataclass(frozen=True)
class Claimed:
    """An outbox row taken for sending, detached from its session."""

    id: int
    message_id: str
    sender: str
    recipients: tuple[str, ...]
    raw: bytes
    kind: str
    created_at: datetime
    ticket_id: int | None


LEASE = timedelta(minutes=5)  # a claimed row is retried after this if we died sending it
BATCH = 20  # rows claimed at once; one process does not hog a shared outbox


class Sender:
    """Sends due outbox rows: claim (short transaction), send, record (short transaction)."""

    def __init__(self, settings: Settings, sessions: sessionmaker[Session], clock: Clock) -> None:
        self.settings = settings
        self.sessions = sessions
        self.clock = clock
        outbox = settings.outbox
        self.first = parse_duration(outbox.retry_first) or timedelta(minutes=1)
        self.longest = parse_duration(outbox.retry_max) or timedelta(hours=1)
        self.give_up = parse_duration(outbox.give_up_after) or timedelta(days=2)
        # Told of each delivered row: (kind, when it was queued, when it went) - metrics.
        self.observers: list[Callable[[str, datetime, datetime], None]] = []

    def deliver_due(self, stop: threading.Event | None = None) -> int:
        """Send what is due now; returns how many were delivered.

        Rows are claimed a batch at a time (attempts + 1 and a lease, in one
        short transaction), then each is handed to the relay and recorded as
        sent at once (see _hand_over). So a crash leaves at most one mail
        whose fate is unknown (the relay took it, the commit did not happen);
        it goes again after the lease, with the same Message-ID. Nothing else
        is ever sent twice, and nothing is lost: the rest of a crashed batch
        is sent after its lease. ``stop`` ends the round between two mails
        (shutdown) and gives the unsent claims back at once.
        """
        delivered = 0
        while not (stop is not None and stop.is_set()):
            batch = self._claim(BATCH)
            if not batch:
                break
            sent, rest = self._deliver(batch, stop)
            delivered += sent
            if rest:
                self._release(rest)
            if rest or len(batch) < BATCH:
                break
        return delivered

    def _deliver(
        self, batch: list[Claimed], stop: threading.Event | None
    ) -> tuple[int, list[Claimed]]:
        """(how many of a claimed batch were delivered, the ones not tried)."""
        smtp = self.settings.smtp
        if smtp.spool_dir is not None:
            # A spool file is named by its Message-ID: writing it twice is harmless,
            # so the whole batch is recorded in one transaction.
            outcomes = [(item, self._spool(smtp.spool_dir, item)) for item in batch]
            return self._record(outcomes), []
        relay: smtplib.SMTP | None = None
        delivered = 0
        try:
            for index, item in enumerate(batch):
                if stop is not None and stop.is_set():
                    return delivered, batch[index:]
                if relay is None:
                    try:
                        relay = open_relay(smtp, read_password(smtp, "smtp"))
                    except (RelayUnavailable, UserError) as exc:
                        # Down for all: every due row takes the attempt and its backoff.
                        self._record([(rest, str(exc)) for rest in batch[index:]])
                        self._fail_all_due(str(exc))
                        return delivered, []
                try:
                    error = self._hand_over(relay, item)
                except Exception as exc:  # one bad row must never hold back the others
                    log.exception("sending %s failed", item.message_id)
                    error = f"internal error: {type(exc).__name__}: {exc}"
                if error is None:
                    delivered += 1
                    continue
                self._record([(item, error)])
                if not usable(relay):
                    close(relay)
                    relay = None
        finally:
            if relay is not None:
                close(relay)
        return delivered, []

    def _hand_over(self, relay: smtplib.SMTP, item: Claimed) -> str | None:
        """Send one mail and record it as sent; else return why not (not recorded).

        "sent" is written (the row locked; on SQLite the database's write lock)
        before the final dot and committed right after the relay's 250, so that
        almost no time passes between the two: waiting for the lock after the
        250 would leave the mail sent but not recorded for as long as another
        transaction runs. (On SQLite, ingest waits for one relay round trip.)
        """
        error = start_data(relay, item.sender, list(item.recipients), item.raw)
        if error is not None:
            return error
        now = self.clock.now()
        try:
            with transaction(self.sessions) as session:
                session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id == item.id)
                    .values(state="sent", sent_at=now, last_error=None)
                )
                error = end_data(relay)
                if error is not None:
                    raise _NotTaken(error)
        except _NotTaken:
            return error
        self._sent(item, now)
        return None

    def _sent(self, item: Claimed, now: datetime) -> None:
        for observe in self.observers:
            observe(item.kind, item.created_at, now)
        log.info(
            "sent %s (%s) to %s ticket=%s",
            item.message_id,
            item.kind,
            ", ".join(item.recipients),
            item.ticket_id,
            extra={"ticket": item.ticket_id, "message_id": item.message_id},
        )

    def _claim(self, limit: int) -> list[Claimed]:
        """Due rows, leased to this process. The lease is taken by a conditional update
        (still pending, still due): on PostgreSQL the rows are locked already, but
        SQLite reads them outside any lock, so two processes may read the same rows and
        only the first update may win them."""
        now = self.clock.now()
        with transaction(self.sessions) as session:
            rows = queue.due(session, now, limit)
            if not rows:
                return []
            won = set(
                session.scalars(
                    update(OutboxMessage)
                    .where(
                        OutboxMessage.id.in_([row.id for row in rows]),
                        OutboxMessage.state == "pending",
                        OutboxMessage.next_attempt_at <= now,
                    )
                    .values(next_attempt_at=now + LEASE, attempts=OutboxMessage.attempts + 1)
                    .returning(OutboxMessage.id)
                    .execution_options(synchronize_session=False)
                )
            )
            return [
                Claimed(
                    row.id,
                    row.message_id,
                    row.sender,
                    tuple(row.recipients),
                    row.raw,
                    row.kind,
                    row.created_at,
                    row.ticket_id,
                )
                for row in rows
                if row.id in won
            ]

    def _release(self, items: list[Claimed]) -> None:
        """Give claims back untried (shutdown): due again now, the attempt not counted."""
        now = self.clock.now()
        ids = [item.id for item in items]
        with transaction(self.sessions) as session:
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(ids), OutboxMessage.state == "pending")
                .values(next_attempt_at=now, attempts=OutboxMessage.attempts - 1)
            )

    def _fail_all_due(self, error: str) -> None:
        while True:
            now = self.clock.now()
            with transaction(self.sessions) as session:
                rows = queue.due(session, now, 100)
                for row in rows:
                    row.attempts += 1
                    queue.mark_failed_attempt(
                        session, row, error, now, self.first, self.longest, self.give_up
                    )
            if len(rows) < 100:
                return

    def _spool(self, folder: Path, item: Claimed) -> str | None:
        """Write NAME.eml atomically; the name comes from the Message-ID, so a repeat overwrites."""
        name = hashlib.sha256(item.message_id.encode()).hexdigest()[:32] + ".eml"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            temporary = folder / f".{name}.tmp"
            temporary.write_bytes(item.raw)
            os.replace(temporary, folder / name)
        except OSError as exc:
            return f"cannot write to {folder}: {exc.strerror or exc}"
        return None

    def _record(self, outcomes: list[tuple[Claimed, str | None]]) -> int:
        """Write down what happened to claimed rows (error None: delivered); how many went."""
        now = self.clock.now()
        failed: list[tuple[Claimed, str, int]] = []
        with transaction(self.sessions) as session:
            rows = {
                row.id: row
                for row in session.scalars(
                    select(OutboxMessage)
                    .where(OutboxMessage.id.in_([i.id for i, _ in outcomes]))
                    .options(defer(OutboxMessage.raw))  # sent already: the bytes are not needed
                )
            }
            for item, error in outcomes:
                row = rows.get(item.id)
                if row is None:
                    continue
                if error is None:
                    queue.mark_sent(row, now)
                    continue
                # A Permanent error gives up at once: no retry can mend it.
                give_up = timedelta(0) if isinstance(error, Permanent) else self.give_up
                queue.mark_failed_attempt(
                    session, row, error, now, self.first, self.longest, give_up
                )
                failed.append((item, error, row.attempts))
        for item, error, attempts in failed:
            log.warning(
                "could not send %s (attempt %d): %s ticket=%s",
                item.message_id,
                attempts,
                error,
                item.ticket_id,
                extra={"ticket": item.ticket_id, "message_id": item.message_id},
            )
        sent = [item for item, error in outcomes if error is None and item.id in rows]
        for item in sent:
            self._sent(item, now)
        return len(sent)
