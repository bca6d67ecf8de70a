"""The SMTP/LMTP listener: 250 only after the message is committed.

aiosmtpd runs the protocol in its own thread and event loop; DATA goes to a
spool file and a few messages at a time are stored (receive.py); the
pipeline, which blocks on the database, runs in the handler's own threads. A
database outage answers 451 so that the sending MTA keeps the message and
retries; aiosmtpd's default for an unexpected error is a permanent 500,
which would bounce it, so ``handle_exception`` answers 451 as well.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, Envelope, Session

from maildesk.config.model import Inbound
from maildesk.errors import Problem, TryLater, UserError
from maildesk.intake import Intake
from maildesk.outcome import Outcome
from maildesk.sources.receive import Spooled

log = logging.getLogger("maildesk.inbound")
TEMPFAIL = "451 4.3.0 Temporary failure, please try again later"


class InboundHandler:
    def __init__(self, pipeline: Intake, protocol: str, slots: int = 2) -> None:
        self.pipeline = pipeline
        self.protocol = protocol
        # Its own threads, as many as messages may be stored at once: each thread
        # keeps a malloc arena, and the loop's default pool has up to 32.
        self.workers = ThreadPoolExecutor(slots, thread_name_prefix="inbound")

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        loop = asyncio.get_running_loop()
        try:
            outcome: Outcome = await loop.run_in_executor(
                self.workers, self.pipeline.ingest, bytes(raw), source_label(self.protocol, session)
            )
        except TryLater as exc:
            log.warning("answered 451 to %s: %s", session.peer, exc)
            return self._status(envelope, TEMPFAIL)
        outcome.log(log, self.protocol)
        return self._status(envelope, "250 2.0.0 OK: " + outcome.status)

    def _status(self, envelope: Envelope, status: str) -> str:
        if self.protocol == "lmtp":
            # LMTP answers once per recipient; the message is stored once for all of them.
            return "\r\n".join(status for _ in envelope.rcpt_tos) or status
        return status

    async def handle_exception(self, error: Exception) -> str:
        log.error("inbound listener error: %r", error)
        return TEMPFAIL


def source_label(protocol: str, session: Session) -> str:
    """ "smtp:127.0.0.1:50248", "lmtp:[::1]:41000": where a message came from, for
    the history (aiosmtpd's peer is a tuple)."""
    peer = session.peer
    if isinstance(peer, tuple) and len(peer) >= 2:
        host = str(peer[0])
        host = f"[{host}]" if ":" in host else host
        return f"{protocol}:{host}:{peer[1]}"
    return f"{protocol}:{peer}"


class _SMTP(Spooled, SMTP):
    pass


class _LMTP(Spooled, LMTP):
    pass


class _Controller(Controller):
    def __init__(self, handler: InboundHandler, protocol: str, slots: int, **kwargs: Any):
        super().__init__(handler, **kwargs)
        self.protocol = protocol
        self.slots = slots

    def factory(self) -> SMTP:
        server = (_LMTP if self.protocol == "lmtp" else _SMTP)(self.handler, **self.SMTP_kwargs)
        if not hasattr(self, "gate"):
            self.gate = asyncio.Semaphore(self.slots)  # one for all sessions of the loop
        server.gate = self.gate
        return server

    def stop(self, *args: Any, **kwargs: Any) -> None:
        super().stop(*args, **kwargs)
        self.handler.workers.shutdown(wait=False)


def start_listener(inbound: Inbound, pipeline: Intake, where: str = "inbound.listen") -> Controller:
    """Start listening in a background thread; call ``.stop()`` to stop."""
    host, port = inbound.host_port
    kwargs: dict[str, Any] = {"data_size_limit": inbound.max_message_size, "enable_SMTPUTF8": True}
    handler = InboundHandler(pipeline, inbound.protocol, inbound.max_receiving)
    controller = _Controller(
        handler, inbound.protocol, inbound.max_receiving, hostname=host, port=port, **kwargs
    )
    try:
        controller.start()
    except Exception as exc:  # bind failures surface here, wrapped by aiosmtpd
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, OSError) and cause.strerror:
            reason = cause.strerror
        raise UserError([Problem(where, f"cannot listen on {host}:{port}: {reason}")]) from exc
    log.info("listening for %s on %s:%d", inbound.protocol.upper(), host, port)
    return controller
