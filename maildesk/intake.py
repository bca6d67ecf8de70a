"""The per-message boundary: one transaction per message (or group), retried, quarantined.

``Intake.ingest`` takes raw bytes from any source and returns an Outcome
only after the database transaction has committed; sources acknowledge to
their peer (IMAP move, 250, exit 0) only then. A database outage raises
``TryLater``; anything else unexpected quarantines the message with its
traceback, so no input can stop a source. What happens to a message inside
its transaction is pipeline.py's order.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from maildesk import pipeline
from maildesk.clock import Clock, SystemClock
from maildesk.config.model import Settings
from maildesk.desk import Desk
from maildesk.errors import Quarantined, TryLater, UserError
from maildesk.mail import ParsedMail, Verdict
from maildesk.outbox.mails import Mailer
from maildesk.outcome import Outcome
from maildesk.parse import Limits, parse_mail
from maildesk.routing.router import Router
from maildesk.store import history as past
from maildesk.store.db import transaction
from maildesk.store.lookups import already_stored
from maildesk.store.quarantine import quarantine

log = logging.getLogger("maildesk.pipeline")
GROUP_SIZE = 50  # messages committed together at most (ingest_many)
GROUP_SECONDS = 0.2  # a group commits at least this often
LARGE_MAIL = 1024 * 1024  # after a mail this large, memory is collected at once


def _let_go() -> None:
    """The ORM's rows of a stored mail reference each other (a message and its
    attachments), so its bytes wait for the cycle collector: three 25 MB mails in
    a row held 130 MB more until it ran. Collect now instead."""
    gc.collect()


class Intake:
    """Where every source hands its mail: the boundary around pipeline.py's order."""

    def __init__(
        self,
        settings: Settings,
        sessions: sessionmaker[Session],
        clock: Clock | None = None,
        router: Router | None = None,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.clock = clock or SystemClock()
        if router is None:
            router, problems = Router.load(settings)
            if problems:
                raise UserError(problems)
        # Replaced whole when rule files change (see daemon.py); taken once per message.
        self.desk = Desk.build(settings, router)
        # Told of every committed outcome with its source and seconds since arrival (metrics).
        self.observers: list[Callable[[Outcome, str, float], None]] = []

    @property
    def router(self) -> Router:
        return self.desk.router

    @router.setter
    def router(self, router: Router) -> None:
        """New rules for the next message; a message being handled keeps its Desk."""
        self.desk = self.desk.with_router(router)

    @property
    def mailer(self) -> Mailer:
        return self.desk.mailer

    @property
    def limits(self) -> Limits:
        return self.desk.limits

    def ingest(
        self,
        raw: bytes,
        source: str,
        *,
        history: bool = False,
        arrived: datetime | None = None,
    ) -> Outcome:
        """Store one message exactly once; raises TryLater if the database is down.

        ``history=True`` (archive import) stores the mail at its own date and
        sends nothing for it (history.py). ``arrived`` (the IMAP server's
        INTERNALDATE) dates the arrival for the latency metric; else it is now.
        """
        started = time.monotonic()
        outcome = self._ingest(read_mail(raw, self.limits), source, history)
        self._observe(outcome, source, started, arrived)
        if len(raw) >= LARGE_MAIL:
            _let_go()
        return outcome

    def ingest_many(
        self,
        raws: Sequence[bytes],
        source: str,
        *,
        history: bool = False,
        arrived: Sequence[datetime | None] = (),
        reads: Sequence[Read] = (),
    ) -> Iterator[Outcome]:
        """Store messages in order, a group to a transaction; yields each outcome once
        its group has committed (raises TryLater like ingest).

        For the sources that acknowledge in bulk (an IMAP fetch, an archive):
        one commit per group instead of one per message, which on PostgreSQL is
        one WAL flush. A group commits at least every GROUP_SECONDS so that
        acknowledgements are not held back. If anything in a group fails, the
        group is rolled back and its messages go one at a time through the
        path of ``ingest``, which quarantines only the one at fault. ``reads``,
        when given, are the raws already parsed (``read_mail``), one for each.
        """
        done = 0
        while done < len(raws):
            started = time.monotonic()
            group = raws[done : done + GROUP_SIZE]
            parsed = reads[done : done + GROUP_SIZE] or [read_mail(r, self.limits) for r in group]
            for outcome in self._group(parsed, source, history, started):
                when = arrived[done] if done < len(arrived) else None
                self._observe(outcome, source, started, when)
                done += 1
                yield outcome
            if any(len(raw) >= LARGE_MAIL for raw in group):
                _let_go()

    def _group(
        self, reads: Sequence[Read], source: str, history: bool, started: float
    ) -> Iterator[Outcome]:
        outcomes: list[Outcome] = []
        failed = False
        try:
            with transaction(self.sessions) as session:
                for read in reads:
                    now = self.clock.now()
                    outcomes.append(self._store_read(session, read, source, history, now))
                    if time.monotonic() - started > GROUP_SECONDS:
                        break
        except TryLater:
            raise
        except Exception:
            failed = True
        if not failed:
            yield from outcomes
            return
        # Rolled back: each message of the group again on its own, in order.
        for read in reads[: len(outcomes) + 1]:
            yield self._ingest(read, source, history)

    def _observe(
        self, outcome: Outcome, source: str, started: float, arrived: datetime | None
    ) -> None:
        if not self.observers:
            return
        waited = time.monotonic() - started
        if arrived is not None:
            waited = max(waited, (datetime.now(UTC) - arrived).total_seconds())
        for observe in self.observers:
            observe(outcome, source, waited)

    def _ingest(self, read: Read, source: str, history: bool) -> Outcome:
        now = self.clock.now()
        for attempt in range(3):
            try:
                with transaction(self.sessions) as session:
                    return self._store_read(session, read, source, history, now)
            except TryLater:
                raise
            except IntegrityError:
                # Another process stored the same mail (or created the same customer)
                # between our check and our insert: look again.
                if attempt == 2:
                    raise
                continue
            except Exception as exc:
                if read.mail is None:
                    if read.bare:
                        raise  # the bytes and a reason alone could not be written
                    # Quarantining failed on what we decoded: keep the bytes and why.
                    log.exception("quarantining a message from %s failed; kept bare", source)
                    why = f"could not be stored: {type(exc).__name__}"
                    return self._ingest(Read(read.raw, None, why, bare=True), source, history)
                message_id = read.mail.message_id
                log.exception(
                    "message %s from %s failed; quarantined",
                    message_id,
                    source,
                    extra={"message_id": message_id, "source": source},
                )
                problem = f"internal error: {type(exc).__name__}: {exc}"
                failed = Read(read.raw, None, problem, traceback.format_exc(), message_id)
                return self._ingest(failed, source, history)
        raise AssertionError("unreachable")

    def _store_read(
        self, session: Session, read: Read, source: str, history: bool, now: datetime
    ) -> Outcome:
        if read.mail is None:
            return _quarantine_raw(session, read, source, now)
        desk = self.desk  # one Desk for the whole message: a reload waits for the next
        verdict = read.verdict or desk.judge(read.mail)
        if not history:
            return pipeline.handle(desk, session, read.mail, verdict, source, now)
        past.mark(session, now)
        when = moment(read.mail, now)
        outcome = pipeline.handle(
            desk, session, read.mail, verdict, source, when, acknowledge=False
        )
        if outcome.ticket_id is not None and outcome.status != "stored":
            past.settle_id(session, outcome.ticket_id, when)  # stored: the pipeline did
        return replace(outcome, auto_reply=False)


def _quarantine_raw(session: Session, read: Read, source: str, now: datetime) -> Outcome:
    """Mail we could not read (or store) keeps its bytes, keyed by their hash."""
    key = "raw-sha256:" + hashlib.sha256(read.raw).hexdigest()
    if already_stored(session, key) is not None:
        return Outcome("duplicate", message_id=read.message_id, detail="already quarantined")
    quarantine(
        session,
        read.raw,
        source=source,
        reason=read.problem,
        now=now,
        detail=read.detail,
        message_id=read.message_id,
        dedupe_key=key,
    )
    return Outcome("quarantined", message_id=read.message_id, detail=read.problem)


@dataclass(frozen=True)
class Read:
    """A message as read: parsed, or the reason to quarantine it (and any traceback)."""

    raw: bytes
    mail: ParsedMail | None
    problem: str = ""
    detail: str | None = None
    message_id: str | None = None  # when storing it failed after parsing
    bare: bool = False  # nothing decoded from the mail: the last resort
    verdict: Verdict | None = None  # the guards' word, when a read-ahead worker judged it


def read_mail(raw: bytes, limits: Limits) -> Read:
    """The parse stage, pure: a source may run it ahead, in another process (readahead.py)."""
    try:
        return Read(raw, parse_mail(raw, limits))
    except Quarantined as exc:
        return Read(raw, None, exc.reason)
    except Exception as exc:  # a parser bug must not stop the source
        return Read(raw, None, f"cannot parse: {type(exc).__name__}: {exc}", traceback.format_exc())


def moment(mail: ParsedMail | None, now: datetime) -> datetime:
    """When the mail was written, as far as its Date says; now when it says nothing
    believable (missing, or in the future)."""
    if mail is None or mail.date is None or mail.date > now:
        return now
    return mail.date
