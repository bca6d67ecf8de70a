"""The long-running process: sources around one pipeline, and signals.

Concurrency model: one thread per IMAP mailbox (imapclient is blocking, and
IDLE holds a connection open), the aiosmtpd listener in its own thread with
an event loop, an outbox sender thread, APScheduler's background thread
ticking the SLA clock, and the main thread waiting for a signal. Every
thread calls the same Pipeline; each message, and each ticket's due SLA
timers, is one database transaction, so threads share nothing but the
database.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from types import FrameType
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from maildesk.config import Settings, mailbox_secret
from maildesk.feedback.surveys import SurveySender
from maildesk.outbox.sender import Sender
from maildesk.pipeline import Pipeline
from maildesk.routing.router import Router, Signature, rules_signature
from maildesk.sla.scheduler import Fired, SlaScheduler
from maildesk.sources.imap import MailboxReader, run_mailbox
from maildesk.sources.inbound import start_listener

log = logging.getLogger("maildesk.daemon")
STOP_TIMEOUT = 8.0  # seconds; SIGTERM must end the process within 10
RELOAD_CHECK = 1.0  # seconds between looks at the rule files
SEND_INTERVAL = 0.5  # seconds between looks at the outbox


class Daemon:
    def __init__(self, settings: Settings, pipeline: Pipeline) -> None:
        self.settings = settings
        self.pipeline = pipeline
        self.stopping = threading.Event()
        self.sender = Sender(settings, pipeline.sessions, pipeline.clock)
        self.sla = SlaScheduler(
            settings,
            pipeline.sessions,
            pipeline.clock,
            pipeline.mailer,
            lambda: self.pipeline.router.calendar,
        )
        self.surveys = SurveySender(settings, pipeline.sessions, pipeline.clock, pipeline.mailer)

    def readers(self) -> list[MailboxReader]:
        readers = []
        for index, box in enumerate(self.settings.mailboxes):
            key = f"mailboxes[{index}]"

            def password(box: Any = box, key: str = key) -> str | None:
                # Read at every (re)connect: a rotated password file is picked up.
                return mailbox_secret(box, key)

            readers.append(
                MailboxReader(box, self.pipeline, password, self.settings.ingest.batch_size)
            )
        return readers

    def run_once(self) -> int:
        """Handle everything pending on every mailbox, fire due SLA timers, send what is due."""
        handled = 0
        for reader in self.readers():
            try:
                handled += reader.process_pending()
            except Exception as exc:  # one broken mailbox never stops the others
                log.error("%s: %s", reader.source, exc)
            finally:
                reader.close()
        self.sla_tick()
        self.send_due()
        return handled

    def sla_tick(self) -> list[Fired]:
        """One look at the clock: SLA timers, digests, surveys due. A failure is logged and
        retried on the next tick."""
        try:
            fired = self.sla.tick() + self.surveys.tick()
        except Exception:
            log.exception("SLA tick failed")
            return []
        for item in fired:
            log.info(
                "SLA %s %s %s%s to %s",
                item.kind,
                item.ticket,
                item.target,
                f" ({item.detail})" if item.detail else "",
                ", ".join(item.to) or "nobody",
            )
        return fired

    def send_due(self) -> int:
        try:
            return self.sender.deliver_due()
        except Exception as exc:  # the database or the spool: try again on the next round
            log.error("outbox: %s", exc)
            return 0

    def _send_loop(self) -> None:
        while not self.stopping.wait(SEND_INTERVAL):
            self.send_due()

    def run(self) -> None:
        """Run every source until SIGTERM/SIGINT."""
        previous = self._install_signals()
        listener = None
        threads: list[threading.Thread] = []
        # APScheduler is the SLA clock's pacemaker; what is due lives in the database.
        clock = BackgroundScheduler(timezone=UTC)
        clock.add_job(
            self.sla_tick,
            "interval",
            seconds=self.settings.sla.check_interval,
            id="sla",
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now(UTC),
        )
        try:
            clock.start()
            if self.settings.inbound is not None:
                listener = start_listener(
                    self.settings.inbound, self.pipeline, f"{self.settings.source}: inbound.listen"
                )
            sender = threading.Thread(target=self._send_loop, name="outbox", daemon=True)
            sender.start()
            threads.append(sender)
            for reader in self.readers():
                thread = threading.Thread(
                    target=run_mailbox,
                    args=(reader, self.stopping),
                    name=reader.source,
                    daemon=True,
                )
                thread.start()
                threads.append(thread)
            self._describe()
            signature = self.pipeline.router.signature
            while not self.stopping.wait(RELOAD_CHECK):
                signature = self.reload_rules(signature)
        finally:
            self.stopping.set()
            if clock.running:
                clock.shutdown(wait=True)
            if listener is not None:
                listener.stop()
            for thread in threads:
                thread.join(timeout=STOP_TIMEOUT / max(len(threads), 1))
            self._restore_signals(previous)
        log.info("maildesk stopped")

    def stop(self) -> None:
        self.stopping.set()

    def reload_rules(self, seen: Signature) -> Signature:
        """New rule files take effect at once; a broken file changes nothing.

        Returns the signature now in force; a broken set is remembered so that
        its error is logged once, not every few seconds.
        """
        current = rules_signature(self.settings)
        if current == seen:
            return seen
        router, problems = Router.load(self.settings)
        if problems:
            log.error(
                "rules not reloaded, the previous rules stay in force: %s",
                "; ".join(str(p) for p in problems),
            )
            return current
        self.pipeline.router = router
        log.info(
            "rules reloaded: %d rule(s) from %d file(s)",
            len(router.rules.rules),
            len(router.rules.files),
        )
        return current

    def _describe(self) -> None:
        s = self.settings
        inbound = f"{s.inbound.protocol} on {s.inbound.listen}" if s.inbound else "off"
        outgoing = f"spool {s.smtp.spool_dir}" if s.smtp.spool_dir else f"relay {s.smtp.host}"
        log.info(
            "maildesk ready for %s: %d mailbox(es), inbound %s, outgoing %s, %d tier(s)",
            s.helpdesk.address,
            len(s.mailboxes),
            inbound,
            outgoing,
            len(s.tiers),
        )

    def _install_signals(self) -> dict[int, Any]:
        if threading.current_thread() is not threading.main_thread():
            return {}
        handler: Callable[[int, FrameType | None], None] = self._on_signal
        return {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}

    def _restore_signals(self, previous: dict[int, Any]) -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        log.info("received %s, stopping", signal.Signals(signum).name)
        self.stop()
