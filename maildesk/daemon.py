"""The long-running process: sources around one pipeline, and signals.

Concurrency model: one thread per IMAP mailbox (imapclient is blocking, and
IDLE holds a connection open), the aiosmtpd listener in its own thread with
an event loop, an outbox sender thread, APScheduler's background thread
ticking the SLA clock, and the main thread waiting for a signal. Every
thread calls the same Intake; each message, and each ticket's due SLA
timers, is one database transaction, so threads share nothing but the
database.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import ThreadingHTTPServer
from types import FrameType
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from maildesk.config import Settings, load_settings, mailbox_secret
from maildesk.config.semantics import trust_warnings
from maildesk.errors import Problem, UserError
from maildesk.feedback.surveys import SurveySender
from maildesk.intake import Intake
from maildesk.mail import Fired
from maildesk.malloc import return_large_buffers
from maildesk.metrics import MailboxStatus, Metrics, start_http
from maildesk.outbox.sender import Sender
from maildesk.outcome import Outcome
from maildesk.render import TemplateSet
from maildesk.reports.weekly import WeeklyReport
from maildesk.routing.router import Router, Signature, rules_signature
from maildesk.sla.scheduler import SlaScheduler
from maildesk.sources.imap import MailboxReader, run_mailbox
from maildesk.sources.inbound import start_listener
from maildesk.startup import startup_problems

log = logging.getLogger("maildesk.daemon")
STOP_TIMEOUT = 8.0  # seconds; SIGTERM must end the process within 10
RELOAD_CHECK = 1.0  # seconds between looks at the rule files
SEND_INTERVAL = 0.5  # seconds between looks at the outbox when nobody says there is mail
SEND_GATHER = 0.05  # seconds the sender waits after a commit for more to come


class Daemon:
    def __init__(self, settings: Settings, pipeline: Intake) -> None:
        self.stopping = threading.Event()  # SIGTERM/SIGINT: the process ends
        self.reloading = threading.Event()  # SIGHUP: this generation of threads ends
        self._readers: list[MailboxReader] = []  # this generation's, for /healthz
        # Set after each committed message: its acknowledgement goes now, not at the next look.
        self.outbox_ready = threading.Event()
        # Kept across reloads: counters must not restart with a SIGHUP.
        self.metrics = Metrics(lambda: self.pipeline.sessions, self._mailbox_status)
        self._wire(settings, pipeline)

    def _wire(self, settings: Settings, pipeline: Intake) -> None:
        """The parts that depend on the settings; replaced whole by a reload."""
        self.settings = settings
        self.pipeline = pipeline
        self.sender = Sender(settings, pipeline.sessions, pipeline.clock)
        self.sla = SlaScheduler(
            settings,
            pipeline.sessions,
            pipeline.clock,
            pipeline.mailer,
            lambda: self.pipeline.router.calendar,
        )
        self.surveys = SurveySender(settings, pipeline.sessions, pipeline.clock, pipeline.mailer)
        self.weekly = WeeklyReport(
            settings, pipeline.sessions, pipeline.mailer, lambda: self.pipeline.router.calendar
        )
        pipeline.observers.append(self._observe_message)
        self.sender.observers.append(self.metrics.observe_sent)

    def _observe_message(self, outcome: Outcome, source: str, seconds: float) -> None:
        self.outbox_ready.set()
        self.metrics.observe_message(
            source, outcome.status, outcome.new_ticket, outcome.auto_reply, seconds
        )

    def idling(self) -> bool:
        """Every mailbox reader is in IDLE, waiting for news (tests wait for this)."""
        return bool(self._readers) and all(r.idling.is_set() for r in self._readers)

    def _mailbox_status(self) -> list[MailboxStatus]:
        return [
            MailboxStatus(r.box.name, r.client is not None, r.last_error) for r in self._readers
        ]

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
        """One look at the clock: SLA timers, digests, surveys, the weekly report due. A
        failure is logged and retried on the next tick."""
        try:
            fired = self.sla.tick() + self.surveys.tick()
            fired += self.weekly.send(self.pipeline.clock.now())
        except Exception:
            log.exception("SLA tick failed")
            return []
        self.metrics.observe_fired(item.kind for item in fired)
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

    def send_due(self, halt: threading.Event | None = None) -> int:
        try:
            return self.sender.deliver_due(halt)
        except Exception as exc:  # the database or the spool: try again on the next round
            log.error("outbox: %s", exc)
            return 0

    def _send_loop(self, halt: threading.Event) -> None:
        """Send when a message was committed, and every SEND_INTERVAL anyway (retries,
        mail from other processes and from the clock)."""
        while not halt.is_set():
            if self.outbox_ready.wait(SEND_INTERVAL):
                # A burst of mail is sent in batches, not one transaction pair per mail.
                halt.wait(SEND_GATHER)
            self.outbox_ready.clear()
            if not halt.is_set():
                self.send_due(halt)

    def run(self) -> None:
        """Run every source until SIGTERM/SIGINT; SIGHUP reloads the config in between."""
        return_large_buffers()
        previous = self._install_signals()
        try:
            while True:
                self._run_generation()
                if self.stopping.is_set():
                    break
                self.reloading.clear()
                self.reload_config()
        finally:
            self._restore_signals(previous)
        log.info("maildesk stopped")

    def _run_generation(self) -> None:
        """Sources, sender and clock with the current settings, until stop or reload.

        Each thread finishes the message (one transaction) it is on; nothing
        is acknowledged to a source before its commit, so a stop loses nothing.
        """
        halt = threading.Event()

        def watch() -> None:  # stop or reload: this generation ends
            while not (self.stopping.wait(0.2) or self.reloading.is_set()):
                pass
            halt.set()

        listener = None
        http: ThreadingHTTPServer | None = None
        threads: list[threading.Thread] = []
        # APScheduler is the clock's pacemaker; what is due lives in the database.
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
        watcher = threading.Thread(target=watch, name="watch", daemon=True)
        watcher.start()
        try:
            clock.start()
            if self.settings.inbound is not None:
                listener = start_listener(
                    self.settings.inbound, self.pipeline, f"{self.settings.source}: inbound.listen"
                )
            sender = threading.Thread(
                target=self._send_loop, args=(halt,), name="outbox", daemon=True
            )
            sender.start()
            threads.append(sender)
            if self.settings.http is not None:
                http = start_http(self.settings.http.host_port, self.metrics)
            self._readers = self.readers()
            for reader in self._readers:
                thread = threading.Thread(
                    target=run_mailbox, args=(reader, halt), name=reader.source, daemon=True
                )
                thread.start()
                threads.append(thread)
            self._describe()
            signature = self.pipeline.router.signature
            while not halt.wait(RELOAD_CHECK):
                signature = self.reload_rules(signature)
        except BaseException:
            self.stopping.set()
            raise
        finally:
            halt.set()
            if clock.running:
                clock.shutdown(wait=True)
            if listener is not None:
                listener.stop()
            if http is not None:
                http.shutdown()
                http.server_close()
            for thread in threads:
                thread.join(timeout=STOP_TIMEOUT / max(len(threads), 1))

    def stop(self) -> None:
        self.stopping.set()

    def reload(self) -> None:
        """What SIGHUP does: end this generation; run() reloads and starts the next."""
        self.reloading.set()

    def reload_config(self) -> bool:
        """Read the config file again; an invalid one changes nothing (and says why)."""
        path = self.settings.source
        try:
            settings = load_settings(path)
        except UserError as exc:
            log.error(
                "config not reloaded, the running one stays: %s",
                "; ".join(str(p) for p in exc.problems),
            )
            return False
        router, problems = startup_problems(settings)
        if settings.database.url != self.settings.database.url:
            problems.append(Problem(f"{path}: database.url", "changes only with a restart"))
        if problems:
            log.error(
                "config not reloaded, the running one stays: %s",
                "; ".join(str(p) for p in problems),
            )
            return False
        old = self.pipeline
        self._wire(settings, Intake(settings, old.sessions, old.clock, router))
        log.info("config reloaded from %s", path)
        return True

    def reload_rules(self, seen: Signature) -> Signature:
        """New rule and template files take effect at once; a broken file changes
        nothing (the last good rules, or the last good templates, stay in force).

        Returns the signature now in force; a broken set is remembered so that
        its error is logged once, not every few seconds.
        """
        current = rules_signature(self.settings)
        if current == seen:
            return seen
        self.reload_templates()
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

    def reload_templates(self) -> bool:
        """Templates read and checked again; used only if every one renders."""
        mailer = self.pipeline.mailer.writer
        templates = TemplateSet(self.settings.paths.templates)
        if templates.sources == mailer.templates.sources:
            return False
        problems = templates.check(self.settings.helpdesk.default_language)
        if problems:
            log.error(
                "templates not reloaded, the previous templates stay in force: %s",
                "; ".join(str(p) for p in problems),
            )
            return False
        mailer.templates = templates
        log.info("templates reloaded: %d file(s) from %s", len(templates.sources), templates.folder)
        return True

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
        for warning in trust_warnings(s):
            log.warning("%s: %s", s.source, warning)

    def _install_signals(self) -> dict[int, Any]:
        if threading.current_thread() is not threading.main_thread():
            return {}
        handler: Callable[[int, FrameType | None], None] = self._on_signal
        signals = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
        return {sig: signal.signal(sig, handler) for sig in signals}

    def _restore_signals(self, previous: dict[int, Any]) -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if signum == signal.SIGHUP:
            log.info("received SIGHUP, reloading config, rules and templates")
            self.reload()
            return
        log.info("received %s, stopping", signal.Signals(signum).name)
        self.stop()
