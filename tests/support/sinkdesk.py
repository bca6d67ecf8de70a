"""A desk on the intake with a real SMTP sink: mail in, what each address received out."""

from __future__ import annotations

import email
import email.policy
import shutil
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import Engine

from maildesk.clock import FixedClock
from maildesk.config.model import Settings
from maildesk.intake import Intake
from maildesk.outbox.sender import Sender
from maildesk.starter import starter_dir
from maildesk.store.db import make_engine, session_factory
from maildesk.store.schema import upgrade
from tests.support.dovecot import Account, Dovecot
from tests.support.mailout import settings_for
from tests.support.pipeline import T0
from tests.support.smtpsink import Sink


def agent(n: int, commands: str, msgid: str, text: str = "") -> bytes:
    """Bob's reply on ticket n: commands on top, then his text, then the quote."""
    return (
        f"From: Bob Agent <bob@example.com>\r\nTo: support@example.com\r\n"
        f"Subject: Re: [#{n}] New ticket\r\nMessage-ID: {msgid}\r\n\r\n"
        f"{commands}{text}\r\n\r\n> the customer's mail\r\n"
    ).encode()


def parsed(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]


class Desk:
    def __init__(self, engine: Engine, db_url: str, tmp_path: Path, sink: Sink) -> None:
        smtp = {"host": "127.0.0.1", "port": sink.port, "security": "none"}
        settings = settings_for(tmp_path, db_url, smtp)
        tier = settings.tiers[0].model_copy(update={"agents": ("bob@example.com",)})
        policy = settings.sla_policies[0].model_copy(update={"resolution": "8h"})
        settings = settings.model_copy(update={"tiers": (tier,), "sla_policies": (policy,)})
        self.clock = FixedClock(T0)
        self.sessions = session_factory(engine)
        self.intake = Intake(settings, self.sessions, self.clock)
        self.sender = Sender(settings, self.sessions, self.clock)
        self.sink = sink

    def send(self, raw: bytes) -> int:
        outcome = self.intake.ingest(raw, "test")
        assert outcome.ticket_id is not None, outcome
        self.sender.deliver_due()
        return outcome.ticket_id

    def to(self, address: str, kind: str = "") -> list[EmailMessage]:
        found = [parsed(m.data) for m in self.sink.messages if address in m.rcpt_tos]
        return [m for m in found if kind in str(m["Subject"])]


def imap_desk(
    folder: Path,
    db_url: str,
    dovecot: Dovecot,
    account: Account,
    sink: Sink,
    *,
    tiers: str = '[[tiers]]\nname = "L1"\nagents = ["bob@example.com"]\n',
    extra: str = "",
    box: str = "",
) -> Path:
    """A desk folder for `maildesk run` on a Dovecot mailbox and the sink as its relay:
    config (``extra`` right after [smtp], then ``tiers``; ``box`` ends the mailbox),
    empty rules, the shipped templates and the schema; returns the config's path."""
    config = folder / "maildesk.toml"
    config.write_text(
        f'[helpdesk]\naddress = "support@example.com"\nname = "Example Support"\n'
        f'[database]\nurl = "{db_url}"\n'
        f'[smtp]\nhost = "127.0.0.1"\nport = {sink.port}\nsecurity = "none"\n'
        f"{extra}{tiers}"
        f'[[mailboxes]]\nname = "support"\nhost = "{dovecot.host}"\n'
        f'port = {dovecot.imap_port}\nsecurity = "none"\n'
        f'username = "{account.username}"\npassword = "{account.password}"\n{box}'
    )
    (folder / "rules").mkdir(exist_ok=True)
    shutil.copytree(starter_dir("templates"), folder / "templates", dirs_exist_ok=True)
    engine = make_engine(db_url)
    upgrade(engine)
    engine.dispose()
    return config


def imap_daemon(
    settings: Settings, engine: Engine, dovecot: Dovecot, account: Account
) -> Callable[[bytes], None]:
    """A daemon reading the Dovecot account with these settings (their tiers, their
    relay); the function returned puts a mail in the INBOX and has the daemon take it."""
    from maildesk.daemon import Daemon

    data = settings.model_dump()
    data["mailboxes"] = [
        {
            "name": "support",
            "host": "127.0.0.1",
            "port": dovecot.imap_port,
            "security": "none",
            "username": account.username,
            "password": account.password,
        }
    ]
    settings = type(settings).model_validate(data)
    daemon = Daemon(settings, Intake(settings, session_factory(engine)))

    def deliver(raw: bytes) -> None:
        client = dovecot.client(account)
        client.append("INBOX", raw)
        client.logout()
        assert daemon.run_once() == 1

    return deliver
