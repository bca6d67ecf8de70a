"""A desk's intake on a test database, and a customer's mail to feed it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine

from maildesk.clock import FixedClock
from maildesk.config import settings_from_mapping
from maildesk.intake import Intake
from maildesk.store.db import session_factory
from tests.support.desks import NO_RULES

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def make_pipeline(engine: Engine, clock: FixedClock | None = None, **helpdesk: object) -> Intake:
    settings = settings_from_mapping(
        {
            "helpdesk": {"address": "support@example.com", **helpdesk},
            "smtp": {"spool_dir": "out"},
            "tiers": [{"name": "L1", "agents": ["agent@example.com"]}, {"name": "L2"}],
            "paths": NO_RULES,
        },
        name="test.toml",
        base=Path("/tmp"),
    )
    return Intake(settings, session_factory(engine), clock or FixedClock(T0))


def mail(
    subject: str = "Printer on fire",
    sender: str = "Alice <alice@example.org>",
    msgid: str = "<m1@example.org>",
    headers: str = "",
    body: str = "It burns.",
    to: str = "support@example.com",
) -> bytes:
    return (
        f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: {msgid}\r\n"
        f"Date: Fri, 20 Nov 2026 09:00:00 +0000\r\n{headers}\r\n{body}\r\n"
    ).encode()
