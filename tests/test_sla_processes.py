"""Each SLA reminder and breach once: real `maildesk run` processes, racing and killed.

Two processes tick the same database at once; a process killed with -9 in
the middle of a tick is restarted. Every ticket ends with exactly one
reminder and one breach, in the events, the outbox and the spool folder.
"""

from __future__ import annotations

import os
import shutil
import signal
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

from sqlalchemy import func, select

from maildesk.clock import FixedClock
from maildesk.config import load_settings
from maildesk.intake import Intake
from maildesk.starter import starter_dir
from maildesk.store.db import make_engine, session_factory
from maildesk.store.models import Event, OutboxMessage
from maildesk.store.schema import upgrade
from tests.support.pipeline import mail
from tests.support.processes import maildesk, wait_until

TICKETS = 120
OPENED = datetime(2026, 11, 20, 17, 0, tzinfo=UTC)


def desk(tmp_path: Path, db_url: str) -> Path:
    config = tmp_path / "maildesk.toml"
    config.write_text(
        f'[helpdesk]\naddress = "support@example.com"\n[database]\nurl = "{db_url}"\n'
        '[smtp]\nspool_dir = "out"\n[sla]\nby_priority = { normal = "urgent" }\n'
        '[[tiers]]\nname = "L1"\nagents = ["bob@example.com"]\nlead = "lead@example.com"\n'
        '[[sla_policies]]\nname = "urgent"\nfirst_response = "15m"\nresolution = "4h"\n'
        'hours = "24/7"\n'
    )
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "00.yaml").write_text("- name: all\n  then: {tier: L1}\n")
    shutil.copytree(starter_dir("templates"), tmp_path / "templates")
    engine = make_engine(db_url)
    upgrade(engine)
    settings = load_settings(config)
    pipeline = Intake(settings, session_factory(engine), FixedClock(OPENED))
    for n in range(TICKETS):
        assert pipeline.ingest(mail(msgid=f"<s{n}@example.org>"), "test").new_ticket
    engine.dispose()
    return config


def counts(db_url: str, kind: str) -> tuple[int, int, int]:
    """(events of this kind, distinct tickets with one, outbox rows of this kind)."""
    engine = make_engine(db_url)
    try:
        with session_factory(engine)() as s:
            events = s.scalar(select(func.count()).where(Event.kind == kind)) or 0
            tickets = (
                s.scalar(
                    select(func.count(func.distinct(Event.ticket_id))).where(Event.kind == kind)
                )
                or 0
            )
            mails = s.scalar(select(func.count()).where(OutboxMessage.kind == kind)) or 0
            return int(events), int(tickets), int(mails)
    finally:
        engine.dispose()


def spooled(config: Path, words: str) -> int:
    found = 0
    for file in (config.parent / "out").glob("*.eml"):
        subject = str(message_from_bytes(file.read_bytes(), policy=policy.default)["Subject"])
        found += words in subject
    return found


def moment(minutes: int) -> str:
    return (OPENED + timedelta(minutes=minutes)).isoformat()


def test_two_processes_at_once_and_a_kill_9(tmp_path: Path, db_url: str) -> None:
    config = desk(tmp_path, db_url)
    # Two daemons tick at the same moment: every reminder is due (75 % of 15 minutes).
    first, second = (maildesk(config, "run", "--once", "--now", moment(12)) for _ in range(2))
    assert first.wait(timeout=180) == 0 and second.wait(timeout=180) == 0
    assert counts(db_url, "sla_reminder") == (TICKETS, TICKETS, TICKETS)
    assert spooled(config, "SLA reminder") == TICKETS

    # Every breach is due; the daemon is killed in the middle, then runs again.
    process = maildesk(config, "run", "--once", "--now", moment(20))
    wait_until(lambda: counts(db_url, "sla_breach")[0] >= 15 or process.poll() is not None, 120)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    interrupted = counts(db_url, "sla_breach")[0]
    assert maildesk(config, "run", "--once", "--now", moment(20)).wait(timeout=180) == 0
    assert counts(db_url, "sla_breach") == (TICKETS, TICKETS, TICKETS)
    assert spooled(config, "SLA breached") == TICKETS
    assert counts(db_url, "sla_reminder") == (TICKETS, TICKETS, TICKETS)  # not repeated
    print(f"killed after {interrupted} of {TICKETS} breaches")
