"""IMAP: connections, and the reader that turns a mailbox into pipeline input."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError

from maildesk.config.model import Mailbox
from maildesk.errors import TryLater
from maildesk.intake import Intake
from maildesk.net import connection_problem, tls_context
from maildesk.outcome import Outcome
from maildesk.store.db import transaction
from maildesk.store.mailboxes import FolderKey, claim, finish, folder_progress, process_owner

log = logging.getLogger("maildesk.imap")
MAX_FETCH_BYTES = 64 * 1024 * 1024  # one fetch's worth of messages held in memory


class MailboxUnavailable(Exception):
    """The mailbox cannot be reached or logged into; the message says why."""


@dataclass(frozen=True)
class FolderStatus:
    folder: str
    uidvalidity: int
    messages: int
    capabilities: tuple[str, ...]


def open_mailbox(box: Mailbox, password: str | None) -> IMAPClient:
    """Connect and log in with the mailbox's security setting.

    ``password`` is the access token when ``box.auth`` is "xoauth2".
    """
    where = f"{box.host}:{box.effective_port}"
    context = tls_context(box.tls_verify, box.tls_ca_file)
    try:
        client = IMAPClient(
            box.host,
            port=box.effective_port,
            ssl=box.security == "tls",
            ssl_context=context,
            timeout=box.timeout,
        )
    except (OSError, IMAPClientError) as exc:
        raise MailboxUnavailable(f"cannot connect to {where}: {connection_problem(exc)}") from exc
    try:
        if box.security == "starttls":
            client.starttls(context)
        if box.auth == "xoauth2":
            client.oauth2_login(box.username, password or "")
        else:
            client.login(box.username, password or "")
    except LoginError as exc:
        _close(client)
        raise MailboxUnavailable(
            f"login to {where} as {box.username} failed: {connection_problem(exc)}"
        ) from exc
    except (OSError, IMAPClientError) as exc:
        _close(client)
        raise MailboxUnavailable(f"{where}: {connection_problem(exc)}") from exc
    return client


def probe_mailbox(box: Mailbox, password: str | None) -> FolderStatus:
    """Log in and look at the folder, for `maildesk check --connect`."""
    client = open_mailbox(box, password)
    try:
        info = client.select_folder(box.folder, readonly=True)
        caps = tuple(c.decode() if isinstance(c, bytes) else str(c) for c in client.capabilities())
        return FolderStatus(
            folder=box.folder,
            uidvalidity=int(info[b"UIDVALIDITY"]),
            messages=int(info[b"EXISTS"]),
            capabilities=caps,
        )
    except (OSError, IMAPClientError) as exc:
        raise MailboxUnavailable(f'folder "{box.folder}": {connection_problem(exc)}') from exc
    finally:
        _close(client)


def _close(client: IMAPClient) -> None:
    with contextlib.suppress(OSError, IMAPClientError):
        client.logout()


class MailboxReader:
    """Reads one mailbox: new mail -> pipeline -> (after commit) move or flag.

    A message is acknowledged in IMAP only after the pipeline committed it,
    so a crash in between means it is read again and found to be a
    duplicate, then moved: nothing lost, nothing doubled.
    """

    def __init__(
        self,
        box: Mailbox,
        pipeline: Intake,
        password: Callable[[], str | None],
        batch_size: int = 100,
    ) -> None:
        self.box = box
        self.pipeline = pipeline
        self.password = password
        self.batch_size = batch_size
        self.client: IMAPClient | None = None
        self.moves = False
        self.idle_ok = False
        self.idling = threading.Event()  # set while the server has us in IDLE
        self.last_error: str | None = None  # for /healthz
        self.owner = process_owner()  # whose claims (store/mailboxes.py)

    @property
    def source(self) -> str:
        return f"imap:{self.box.name}"

    def connect(self) -> None:
        self.close()
        client = open_mailbox(self.box, self.password())
        caps = client.capabilities()
        self.moves = b"MOVE" in caps
        self.idle_ok = self.box.idle and b"IDLE" in caps
        for folder in (self.box.processed_folder, self.box.quarantine_folder):
            if folder and not client.folder_exists(folder):
                client.create_folder(folder)
        client.select_folder(self.box.folder)
        self.client = client
        self.last_error = None

    def close(self) -> None:
        if self.client is not None:
            _close(self.client)
            self.client = None

    def process_pending(self, stop: threading.Event | None = None) -> int:
        """Handle everything waiting in the folder; returns how many were handled.

        UIDs are claimed in the database a batch at a time, so that other
        daemons reading the same folder take the others.
        """
        client = self._client()
        info = client.select_folder(self.box.folder)
        key = FolderKey(self.box.name, self.box.folder, int(info[b"UIDVALIDITY"]))
        _new_mail_announced(client)  # SELECT's own count: what follows is news
        sessions = self.pipeline.sessions
        with sessions() as session:
            last = folder_progress(session, key)
        criteria: list[Any] = ["UID", f"{last + 1}:*"] if last else ["ALL"]
        if not self.box.processed_folder:
            criteria = [*criteria, "UNSEEN"]
        waiting = sorted(u for u in client.search(criteria) if u > last)
        handled = 0
        while waiting and not (stop is not None and stop.is_set()):
            with transaction(sessions) as session:
                mine = claim(
                    session, key, waiting, self.owner, self.pipeline.clock.now(), self.batch_size
                )
            if not mine:
                break
            waiting = [u for u in waiting if u > mine[-1]]
            for batch in self._by_size(client, mine):
                if stop is not None and stop.is_set():
                    break
                handled += self._process_batch(client, batch, key)
        if handled and not self.moves and self.box.processed_folder:
            client.expunge()
        return handled

    def _by_size(self, client: IMAPClient, uids: list[int]) -> Iterator[list[int]]:
        """Split a batch so that one fetch holds at most MAX_FETCH_BYTES (big attachments)."""
        sizes = client.fetch(uids, ["RFC822.SIZE"])
        batch: list[int] = []
        total = 0
        for uid in uids:
            size = int(sizes.get(uid, {}).get(b"RFC822.SIZE", 0))
            if batch and total + size > MAX_FETCH_BYTES:
                yield batch
                batch, total = [], 0
            batch.append(uid)
            total += size
        if batch:
            yield batch

    def _process_batch(self, client: IMAPClient, batch: list[int], key: FolderKey) -> int:
        """Commit the messages (a group to a transaction), then acknowledge the committed
        ones in a few commands.

        If the database fails halfway (TryLater), what was committed is still
        acknowledged and its claims finished before the error goes up; the
        rest stay claimed by us and are tried again.
        """
        fetched = client.fetch(batch, ["BODY.PEEK[]", "INTERNALDATE"])
        done: dict[str, list[int]] = {}
        # Expunged meanwhile by someone else: nothing to read.
        gone = [u for u in batch if fetched.get(u, {}).get(b"BODY[]") is None]
        present = [u for u in batch if u not in gone]
        outcomes = self.pipeline.ingest_many(
            [bytes(fetched[u][b"BODY[]"]) for u in present],
            self.source,
            arrived=[_aware(fetched[u].get(b"INTERNALDATE")) for u in present],
        )
        try:
            for uid, outcome in zip(present, outcomes, strict=True):
                done.setdefault(self._target(outcome), []).append(uid)
                outcome.log(log, self.source, f" uid {uid}")
        finally:
            for target, uids in done.items():
                self._acknowledge(client, uids, target)
            finished = gone + [u for uids in done.values() for u in uids]
            if finished:
                with transaction(self.pipeline.sessions) as session:
                    finish(session, key, finished, self.owner, self.pipeline.clock.now())
        return sum(len(u) for u in done.values())

    def _target(self, outcome: Outcome) -> str:
        """The folder a handled message goes to; "" means flag it \\Seen."""
        if outcome.status == "quarantined" and self.box.quarantine_folder:
            return self.box.quarantine_folder
        return self.box.processed_folder

    def _acknowledge(self, client: IMAPClient, uids: list[int], target: str) -> None:
        if not target:
            client.add_flags(uids, [b"\\Seen"])
        elif self.moves:
            client.move(uids, target)
        else:
            client.copy(uids, target)
            client.add_flags(uids, [b"\\Deleted"])

    def wait_for_mail(self, stop: threading.Event) -> None:
        """IDLE until the server reports a change (or poll_interval passes)."""
        client = self._client()
        if _new_mail_announced(client):
            return  # arrived while we searched or fetched: look again first
        if not self.idle_ok:
            stop.wait(self.box.poll_interval)
            return
        client.idle()
        self.idling.set()
        try:
            deadline = time.monotonic() + min(self.box.poll_interval, 29 * 60)
            while not stop.is_set() and time.monotonic() < deadline:
                # Short checks keep shutdown quick; any untagged response means news.
                if client.idle_check(timeout=0.5):
                    break
        finally:
            self.idling.clear()
            client.idle_done()

    def _client(self) -> IMAPClient:
        if self.client is None:
            self.connect()
        assert self.client is not None
        return self.client


def run_mailbox(reader: MailboxReader, stop: threading.Event) -> None:
    """Read one mailbox until stopped; reconnect with backoff; never raise."""
    backoff = 1.0
    while not stop.is_set():
        try:
            # Mail that arrived while we worked was announced during our own commands,
            # and a server does not repeat that in IDLE: look again until nothing is new.
            while reader.process_pending(stop) and not stop.is_set():
                pass
            backoff = 1.0
            reader.wait_for_mail(stop)
        except TryLater as exc:
            log.warning("%s: %s; retrying in %.0fs", reader.source, exc, backoff)
            stop.wait(backoff)
            backoff = min(backoff * 2, 60)
        except Exception as exc:
            reader.last_error = connection_problem(exc)
            log.warning("%s: %s; reconnecting in %.0fs", reader.source, reader.last_error, backoff)
            reader.close()
            stop.wait(backoff)
            backoff = min(backoff * 2, 60)
    reader.close()


def _new_mail_announced(client: IMAPClient) -> bool:
    """Whether the server said "* N EXISTS" during one of our commands (and forget it).

    imaplib keeps such untagged responses aside, and a server does not repeat
    them once IDLE starts: without this, mail that arrives between SEARCH and
    IDLE would wait for the next poll.
    """
    pending = getattr(client._imap, "untagged_responses", None)
    return isinstance(pending, dict) and bool(pending.pop("EXISTS", None))


def _aware(moment: object) -> datetime | None:
    """imapclient gives INTERNALDATE as local time without a zone."""
    if not isinstance(moment, datetime):
        return None
    return moment.astimezone(UTC) if moment.tzinfo is None else moment
