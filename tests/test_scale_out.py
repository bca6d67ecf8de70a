"""Three `maildesk run` daemons on one PostgreSQL database and one mailbox.

500 messages of the benchmark corpus (charsets, HTML, attachments,
replies, auto-replies) wait in a real Dovecot mailbox; three real daemon
processes share it. Afterwards: every message was handled by exactly one
process (claims per mailbox and UID: no process ever saw another's message
as a duplicate) and is stored once; every outbox row was sent once to a
real SMTP server; every SLA timer fired once (a 1-minute first-response
target, so the daemons' own clocks fire them while all three run).
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path

from sqlalchemy import func, select

from bench.mailgen import messages
from maildesk.starter import starter_dir
from maildesk.store.db import make_engine, session_factory
from maildesk.store.models import Event, Message, OutboxMessage, QuarantinedMessage, SlaTimer
from maildesk.store.schema import upgrade
from tests.support.dovecot import Dovecot
from tests.support.processes import wait_until
from tests.support.smtpsink import Sink
from tests.support.sources import append, folder_count

TOTAL = 500
PROCESSES = 3


def desk(
    tmp_path: Path, db_url: str, dovecot: Dovecot, username: str, password: str, sink: Sink
) -> Path:
    config = tmp_path / "maildesk.toml"
    config.write_text(
        f'[helpdesk]\naddress = "support@example.com"\n[database]\nurl = "{db_url}"\n'
        f'[smtp]\nhost = "127.0.0.1"\nport = {sink.port}\nsecurity = "none"\n'
        "[ingest]\nbatch_size = 20\n"
        '[sla]\nby_priority = { normal = "quick" }\ncheck_interval = 1\n'
        '[[sla_policies]]\nname = "quick"\nfirst_response = "1m"\nresolution = "4h"\n'
        'hours = "24/7"\n'
        '[[tiers]]\nname = "L1"\nagents = ["bob@example.com"]\nlead = "lead@example.com"\n'
        f'[[mailboxes]]\nname = "support"\nhost = "{dovecot.host}"\nport = {dovecot.imap_port}\n'
        f'security = "none"\nusername = "{username}"\npassword = "{password}"\n'
        "poll_interval = 5\n"
    )
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "00.yaml").write_text("- name: all\n  then: {tier: L1}\n")
    shutil.copytree(starter_dir("templates"), tmp_path / "templates")
    engine = make_engine(db_url)
    upgrade(engine)
    engine.dispose()
    return config


def scalar(db_url: str, query):  # type: ignore[no-untyped-def]
    engine = make_engine(db_url)
    try:
        with session_factory(engine)() as s:
            return s.scalar(query)
    finally:
        engine.dispose()


def test_three_daemons_share_one_mailbox_exactly_once(
    tmp_path: Path, postgres_url: str, dovecot: Dovecot, smtp_sink: Sink
) -> None:
    corpus = list(messages(TOTAL, seed=8))
    ids = [re.search(rb"Message-ID: (<[^>]+>)", raw).group(1).decode() for raw in corpus]  # type: ignore[union-attr]
    account = dovecot.add_account()
    append(dovecot, account, corpus)
    config = desk(tmp_path, postgres_url, dovecot, account.username, account.password, smtp_sink)
    logs = [tmp_path / f"daemon{n}.log" for n in range(PROCESSES)]
    daemons = [
        subprocess.Popen(
            [sys.executable, "-m", "maildesk", "-c", str(config), "run"],
            stdout=subprocess.DEVNULL,
            stderr=log.open("ab"),
        )
        for log in logs
    ]
    started = datetime.now(UTC)
    try:
        stored = select(func.count()).select_from(Message)
        held = select(func.count()).select_from(QuarantinedMessage)
        wait_until(lambda: scalar(postgres_url, stored) + scalar(postgres_url, held) >= TOTAL, 240)
        # The first-response targets (1 minute) fire on the daemons' own clocks.
        due = select(func.count()).where(
            SlaTimer.state == "pending", SlaTimer.target == "first_response"
        )
        wait_until(lambda: scalar(postgres_url, due) == 0, 180)
        pending = select(func.count()).where(OutboxMessage.state == "pending")
        wait_until(lambda: scalar(postgres_url, pending) == 0, 120)
        for daemon in daemons:
            daemon.send_signal(signal.SIGTERM)
        for daemon in daemons:
            assert daemon.wait(timeout=15) == 0
    finally:
        for daemon in daemons:
            if daemon.poll() is None:
                daemon.kill()
                daemon.wait()
    assert (datetime.now(UTC) - started).total_seconds() > 60  # the clocks had time to fire

    engine = make_engine(postgres_url)
    try:
        with session_factory(engine)() as s:
            kept = [m for m in s.scalars(select(Message.message_id))]
            kept += [m for m in s.scalars(select(QuarantinedMessage.message_id))]
            assert sorted(kept) == sorted(ids)  # every message once, none lost
            outbox = list(s.execute(select(OutboxMessage.message_id, OutboxMessage.state)))
            fired = list(
                s.execute(
                    select(SlaTimer.ticket_id, SlaTimer.kind).where(SlaTimer.state == "fired")
                )
            )
            reminders = s.scalar(select(func.count()).where(Event.kind == "sla_reminder"))
            breaches = s.scalar(select(func.count()).where(Event.kind == "sla_breach"))
            breach_tickets = s.scalar(
                select(func.count(func.distinct(Event.ticket_id))).where(Event.kind == "sla_breach")
            )
            sla_mail = s.scalar(
                select(func.count()).where(OutboxMessage.kind.in_(("sla_reminder", "sla_breach")))
            )
    finally:
        engine.dispose()

    # Each message was read by one process only: no process met another's as a duplicate,
    # and all three did a share of the work.
    lines = [log.read_text() for log in logs]
    per_process = [
        len(
            re.findall(r"imap:support uid \d+ message .*: (?:stored|quarantined|held|bounce)", text)
        )
        for text in lines
    ]
    assert sum(per_process) == TOTAL, per_process
    assert all(n > 0 for n in per_process), per_process
    assert not any(": duplicate" in text for text in lines)
    assert folder_count(dovecot, account, "INBOX") == 0

    # Every outbox row sent, each exactly once to the real SMTP server.
    assert outbox and {state for _, state in outbox} == {"sent"}
    received = Counter(
        str(message_from_bytes(m.data, policy=policy.default)["Message-ID"])
        for m in smtp_sink.handler.messages
    )
    assert max(received.values()) == 1
    assert set(received) == {mid for mid, _ in outbox}

    # Every SLA timer fired once: one event and one mail per fired timer.
    kinds = Counter(kind for _, kind in fired)
    assert kinds["breach"] == breaches == breach_tickets > 0
    assert kinds["reminder"] == reminders > 0
    assert sla_mail == reminders + breaches
