"""Prometheus metrics and the health check, served by an optional HTTP listener.

Counters and histograms are fed by the daemon's parts as things happen;
what the database knows (outbox depth, the oldest waiting mail) is read at
scrape time, so several daemons on one database report the same truth.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from maildesk.store.models import OutboxMessage

log = logging.getLogger("maildesk.http")
LATENCY = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 1800)


@dataclass(frozen=True)
class MailboxStatus:
    name: str
    connected: bool
    error: str | None


class Metrics:
    def __init__(
        self,
        sessions: Callable[[], sessionmaker[Session]],
        mailboxes: Callable[[], Sequence[MailboxStatus]],
    ) -> None:
        self.registry = CollectorRegistry()
        self.sessions = sessions
        self.mailboxes = mailboxes
        self.messages = Counter(
            "maildesk_messages",
            "Incoming messages by source and outcome (stored, duplicate, quarantined...).",
            ["source", "status"],
            registry=self.registry,
        )
        self.automatic = Counter(
            "maildesk_automatic_replies",
            "Acknowledgements sent, and new tickets whose acknowledgement was suppressed.",
            ["result"],
            registry=self.registry,
        )
        self.clock = Counter(
            "maildesk_scheduled",
            "What the clock fired: SLA reminders and breaches, digests, surveys.",
            ["kind"],
            registry=self.registry,
        )
        self.stored = Histogram(
            "maildesk_arrival_to_stored_seconds",
            "From arrival (IMAP INTERNALDATE, or receipt over SMTP/LMTP/pipe) to the commit.",
            buckets=LATENCY,
            registry=self.registry,
        )
        self.acknowledged = Histogram(
            "maildesk_stored_to_acknowledged_seconds",
            "From the ticket's commit (the acknowledgement queued) to its delivery.",
            buckets=LATENCY,
            registry=self.registry,
        )
        self.registry.register(_DatabaseCollector(self))

    def observe_message(
        self, source: str, status: str, new_ticket: bool, auto_reply: bool, seconds: float | None
    ) -> None:
        self.messages.labels(source.split(":", 1)[0], status).inc()
        if status == "stored" and seconds is not None:
            self.stored.observe(max(seconds, 0.0))
        if new_ticket and not auto_reply:
            self.automatic.labels("suppressed").inc()

    def observe_sent(self, kind: str, queued_at: datetime, now: datetime) -> None:
        if kind == "acknowledgement":
            self.automatic.labels("sent").inc()
            self.acknowledged.observe(max((now - queued_at).total_seconds(), 0.0))

    def observe_fired(self, kinds: Iterable[str]) -> None:
        for kind in kinds:
            self.clock.labels(kind).inc()

    def health(self) -> tuple[bool, dict[str, Any]]:
        report: dict[str, Any] = {"database": "ok", "mailboxes": {}}
        healthy = True
        try:
            with self.sessions()() as session:
                session.execute(text("SELECT 1"))
        except Exception as exc:
            healthy = False
            report["database"] = f"unavailable: {type(exc).__name__}"
        for box in self.mailboxes():
            report["mailboxes"][box.name] = "ok" if box.connected else (box.error or "connecting")
            healthy = healthy and box.connected
        report["status"] = "ok" if healthy else "unhealthy"
        return healthy, report


class _DatabaseCollector(Collector):
    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterable[GaugeMetricFamily]:
        depth = GaugeMetricFamily("maildesk_outbox_depth", "Outgoing mail waiting to be sent.")
        oldest = GaugeMetricFamily(
            "maildesk_outbox_oldest_seconds", "Age of the oldest outgoing mail still waiting."
        )
        try:
            with self.metrics.sessions()() as session:
                count, first = session.execute(
                    select(func.count(), func.min(OutboxMessage.created_at)).where(
                        OutboxMessage.state == "pending"
                    )
                ).one()
            depth.add_metric([], float(count or 0))
            if first is not None:
                if first.tzinfo is None:
                    first = first.replace(tzinfo=UTC)
                oldest.add_metric([], max((datetime.now(UTC) - first).total_seconds(), 0.0))
            else:
                oldest.add_metric([], 0.0)
        except Exception:  # the health check says why; metrics just go quiet
            pass
        yield depth
        yield oldest
        connected = GaugeMetricFamily(
            "maildesk_imap_connected", "1 while the mailbox is connected.", labels=["mailbox"]
        )
        for box in self.metrics.mailboxes():
            connected.add_metric([box.name], 1.0 if box.connected else 0.0)
        yield connected


HTTP_TIMEOUT = 5.0  # seconds a client may take to send its request
HTTP_CONNECTIONS = 16  # at once; more are closed at once (a prober retries)


class _BoundedHTTPServer(ThreadingHTTPServer):
    """A thread per connection, but at most HTTP_CONNECTIONS of them: a client that
    opens thousands of idle connections cannot make the daemon start thousands of
    threads."""

    daemon_threads = True
    # socketserver's 5 makes a burst of connections wait for the kernel's SYN retries
    # (seconds each) before they even reach the slot check.
    request_queue_size = 128

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.slots = threading.BoundedSemaphore(HTTP_CONNECTIONS)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.slots.acquire(blocking=False):
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except Exception:
            self.slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()


def start_http(listen: tuple[str, int], metrics: Metrics) -> ThreadingHTTPServer:
    """/healthz (200 or 503, JSON) and /metrics (Prometheus text), in a thread."""

    class Handler(BaseHTTPRequestHandler):
        timeout = HTTP_TIMEOUT  # a connection that sends nothing is closed

        def do_GET(self) -> None:
            if self.path == "/metrics":
                body = generate_latest(metrics.registry)
                self._answer(200, CONTENT_TYPE_LATEST, body)
            elif self.path == "/healthz":
                healthy, report = metrics.health()
                body = (json.dumps(report) + "\n").encode()
                self._answer(200 if healthy else 503, "application/json", body)
            else:
                self._answer(404, "text/plain", b"not found: try /healthz or /metrics\n")

        def _answer(self, status: int, kind: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug(format, *args)

    server = _BoundedHTTPServer(listen, Handler)
    threading.Thread(target=server.serve_forever, name="http", daemon=True).start()
    log.info("health and metrics on http://%s:%d/ (/healthz, /metrics)", *listen)
    return server
