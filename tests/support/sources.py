"""Mail into a real Dovecot folder or a listening daemon, and the settings for it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

from maildesk.config import settings_from_mapping
from maildesk.config.model import Settings
from maildesk.intake import Intake
from maildesk.sources.inbound import start_listener
from tests.support.desks import NO_RULES
from tests.support.dovecot import Account, Dovecot
from tests.support.need import free_port


def mail(n: int, subject: str | None = None) -> bytes:
    """Message n; a later n has a later Date."""
    date = format_datetime(datetime(2026, 11, 20, 9, 0, tzinfo=UTC) + timedelta(seconds=n))
    return (
        f"From: Customer {n} <c{n}@example.org>\r\nTo: support@example.com\r\n"
        f"Subject: {subject or f'Question {n}'}\r\nMessage-ID: <q{n}@example.org>\r\n"
        f"Date: {date}\r\n\r\nQuestion number {n}.\r\n"
    ).encode()


def settings_for(
    db_url: str, dovecot: Dovecot | None = None, account: Account | None = None, **box: object
) -> Settings:
    data: dict[str, object] = {
        "helpdesk": {"address": "support@example.com"},
        "database": {"url": db_url},
        "smtp": {"spool_dir": "out"},
        "tiers": [{"name": "L1"}],
        "paths": NO_RULES,
    }
    if dovecot is not None and account is not None:
        data["mailboxes"] = [
            {
                "name": "support",
                "host": dovecot.host,
                "port": dovecot.imap_port,
                "security": "none",
                "username": account.username,
                "password": account.password,
                **box,
            }
        ]
    return settings_from_mapping(data, name="test.toml", base=Path("/tmp"))


def folder_count(dovecot: Dovecot, account: Account, folder: str) -> int:
    client = dovecot.client(account)
    try:
        if not client.folder_exists(folder):
            return 0
        return int(client.select_folder(folder, readonly=True)[b"EXISTS"])
    finally:
        client.logout()


def append(dovecot: Dovecot, account: Account, messages: list[bytes]) -> None:
    client = dovecot.client(account)
    try:
        for raw in messages:
            client.append("INBOX", raw)
    finally:
        client.logout()


def inbound_settings(port: int, protocol: str = "smtp"):  # type: ignore[no-untyped-def]
    from maildesk.config.model import Inbound

    return Inbound(listen=f"127.0.0.1:{port}", protocol=protocol)  # type: ignore[arg-type]


@contextmanager
def listening(pipeline: Intake) -> Iterator[int]:
    """The SMTP listener on a free port, for the length of the block; yields the port."""
    port = free_port()
    controller = start_listener(inbound_settings(port), pipeline)
    try:
        yield port
    finally:
        controller.stop()
