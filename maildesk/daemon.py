"""The long-running process: wiring, the main loop, and signals.

For now the loop has no work: sources (IMAP, the inbound listener), the
outbox sender and the SLA scheduler plug in as ``Job``s in later steps.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import FrameType

from maildesk.clock import Clock, SystemClock
from maildesk.config import Settings

log = logging.getLogger("maildesk.daemon")


@dataclass(frozen=True)
class Job:
    """One piece of periodic work; an error in one never stops the others."""

    name: str
    run: Callable[[], None]


class Daemon:
    def __init__(self, settings: Settings, jobs: Sequence[Job] = (), clock: Clock | None = None):
        self.settings = settings
        self.jobs = tuple(jobs)
        self.clock = clock or SystemClock()
        self.stopping = threading.Event()

    def tick(self) -> None:
        for job in self.jobs:
            if self.stopping.is_set():
                return
            try:
                job.run()
            except Exception:
                log.exception("job %s failed; it will run again on the next tick", job.name)

    def run(self, *, once: bool = False, interval: float = 1.0) -> None:
        """Tick until SIGTERM/SIGINT (or once)."""
        previous = self._install_signals()
        try:
            self._describe()
            self.tick()
            while not once and not self.stopping.wait(interval):
                self.tick()
        finally:
            self._restore_signals(previous)
        log.info("maildesk stopped")

    def stop(self) -> None:
        self.stopping.set()

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

    def _install_signals(self) -> dict[int, object]:
        if threading.current_thread() is not threading.main_thread():
            return {}
        previous: dict[int, object] = {}
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, self._on_signal)
        return previous

    def _restore_signals(self, previous: dict[int, object]) -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        log.info("received %s, stopping", signal.Signals(signum).name)
        self.stop()
