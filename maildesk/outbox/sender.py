"""Delivery to the relay (or the spool folder), with retries and backoff."""

from __future__ import annotations

import hashlib
import logging
import os
import smtplib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from maildesk.clock import Clock
from maildesk.config import read_password
from maildesk.config.model import Settings, Smtp
from maildesk.config.semantics import parse_duration
from maildesk.errors import UserError
from maildesk.net import connection_problem, tls_context
from maildesk.outbox import queue
from maildesk.store.db import transaction
from maildesk.store.models import OutboxMessage

log = logging.getLogger("maildesk.outbox")


class RelayUnavailable(Exception):
    """The relay cannot be reached or refuses our login; the message says why."""


def open_relay(smtp: Smtp, password: str | None) -> smtplib.SMTP:
    """Connect, secure and log in as configured."""
    assert smtp.host is not None, "open_relay is for a relay, not spool_dir"
    where = f"{smtp.host}:{smtp.effective_port}"
    context = tls_context(smtp.tls_verify, smtp.tls_ca_file)
    try:
        client: smtplib.SMTP
        if smtp.security == "tls":
            client = smtplib.SMTP_SSL(
                smtp.host, smtp.effective_port, timeout=smtp.timeout, context=context
            )
        else:
            client = smtplib.SMTP(smtp.host, smtp.effective_port, timeout=smtp.timeout)
    except (OSError, smtplib.SMTPException) as exc:
        raise RelayUnavailable(f"cannot connect to {where}: {_why(exc)}") from exc
    try:
        client.ehlo()
        if smtp.security == "starttls":
            client.starttls(context=context)
            client.ehlo()
        if smtp.username is not None:
            client.login(smtp.username, password or "")
    except smtplib.SMTPAuthenticationError as exc:
        _close(client)
        raise RelayUnavailable(f"login to {where} as {smtp.username} failed: {_why(exc)}") from exc
    except (OSError, smtplib.SMTPException) as exc:
        _close(client)
        raise RelayUnavailable(f"{where}: {_why(exc)}") from exc
    return client


def probe_relay(smtp: Smtp, password: str | None) -> str:
    """Connect and log in, for `maildesk check --connect`; returns the greeting name."""
    client = open_relay(smtp, password)
    try:
        return client.ehlo_resp.decode(errors="replace").splitlines()[0] if client.ehlo_resp else ""
    finally:
        _close(client)


def _close(client: smtplib.SMTP) -> None:
    try:
        client.quit()
    except (OSError, smtplib.SMTPException):
        client.close()


def _why(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        error = exc.smtp_error
        text = error.decode(errors="replace") if isinstance(error, bytes) else str(error)
        return f"{exc.smtp_code} {text}"
    return connection_problem(exc)


@dataclass(frozen=True)
class Claimed:
    """An outbox row taken for sending, detached from its session."""

    id: int
    message_id: str
    sender: str
    recipients: tuple[str, ...]
    raw: bytes


LEASE = timedelta(minutes=5)  # a claimed row is retried after this if we died sending it


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

    def deliver_due(self, limit: int = 50) -> int:
        """Send what is due now; returns how many were delivered."""
        delivered = 0
        while True:
            batch = self._claim(limit)
            if not batch:
                return delivered
            results = self._transmit(batch)
            self._record(results)
            delivered += sum(1 for _, error in results if error is None)
            if len(batch) < limit:
                return delivered

    def _claim(self, limit: int) -> list[Claimed]:
        now = self.clock.now()
        with transaction(self.sessions) as session:
            rows = queue.due(session, now, limit)
            for row in rows:
                row.next_attempt_at = now + LEASE
            return [Claimed(r.id, r.message_id, r.sender, tuple(r.recipients), r.raw) for r in rows]

    def _transmit(self, batch: list[Claimed]) -> list[tuple[Claimed, str | None]]:
        smtp = self.settings.smtp
        if smtp.spool_dir is not None:
            return [(item, self._spool(smtp.spool_dir, item)) for item in batch]
        try:
            client = open_relay(smtp, read_password(smtp, "smtp"))
        except (RelayUnavailable, UserError) as exc:
            return [(item, str(exc)) for item in batch]
        results: list[tuple[Claimed, str | None]] = []
        try:
            for item in batch:
                try:
                    refused = client.sendmail(item.sender, list(item.recipients), item.raw)
                    error = f"refused: {', '.join(refused)}" if refused else None
                except smtplib.SMTPRecipientsRefused as exc:
                    error = f"all recipients refused: {_why(exc)}"
                except (smtplib.SMTPException, OSError) as exc:
                    error = _why(exc)
                results.append((item, error))
        finally:
            _close(client)
        return results

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

    def _record(self, results: list[tuple[Claimed, str | None]]) -> None:
        now = self.clock.now()
        with transaction(self.sessions) as session:
            for item, error in results:
                row = session.get(OutboxMessage, item.id)
                if row is None:
                    continue
                if error is None:
                    queue.mark_sent(row, now)
                    for observe in self.observers:
                        observe(row.kind, row.created_at, now)
                    log.info(
                        "sent %s (%s) to %s ticket=%s",
                        item.message_id,
                        row.kind,
                        ", ".join(item.recipients),
                        row.ticket_id,
                        extra={"ticket": row.ticket_id, "message_id": item.message_id},
                    )
                else:
                    queue.mark_failed_attempt(
                        session, row, error, now, self.first, self.longest, self.give_up
                    )
                    log.warning(
                        "could not send %s (attempt %d): %s ticket=%s",
                        item.message_id,
                        row.attempts,
                        error,
                        row.ticket_id,
                        extra={"ticket": row.ticket_id, "message_id": item.message_id},
                    )
