"""`maildesk import` of last month's mail is history (issue 21): nobody is mailed,
tickets keep their own dates, and no SLA breach fires for a promise never made.

A desk from `maildesk init` (outbox to its spool folder), the CLI as an admin
runs it, and `maildesk run --once` afterwards: the daemon's SLA tick and sender.
"""

from __future__ import annotations

import mailbox
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

from sqlalchemy import func, select

from maildesk.cli.main import main
from maildesk.store.db import make_engine, session_factory
from maildesk.store.models import Event, OutboxMessage, SlaTimer, Ticket

START = datetime.now(UTC) - timedelta(days=30)


def old_mail(n: int, sender: str, subject: str, when: datetime, extra: str = "") -> bytes:
    return (
        f"From: {sender}\r\nTo: support@example.com\r\nSubject: {subject}\r\n"
        f"Message-ID: <old{n}@archive.example>\r\nDate: {format_datetime(when)}\r\n{extra}"
        f"\r\nQuestion number {n}: the printer on floor {n} is broken.\r\n"
    ).encode()


def archive(path: Path, count: int) -> list[datetime]:
    """``count`` customer mails a day apart, then an agent's answer to the first."""
    box = mailbox.mbox(str(path))
    dates = [START + timedelta(days=n % 25, minutes=n) for n in range(count)]
    for n, when in enumerate(dates):
        box.add(old_mail(n, f"customer{n}@example.org", f"Printer {n}", when))
    box.add(
        old_mail(
            count,
            "agent@example.com",
            "Re: [#1] Printer 0",
            dates[0] + timedelta(hours=1),
            "In-Reply-To: <old0@archive.example>\r\n",
        )
    )
    box.close()
    return dates


def desk(tmp_path: Path) -> Path:
    assert main(["init", str(tmp_path / "desk")]) == 0
    return tmp_path / "desk" / "maildesk.toml"


def maildesk(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "maildesk", "-c", str(config), *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_an_import_is_history(tmp_path: Path) -> None:
    config = desk(tmp_path)
    dates = archive(tmp_path / "old.mbox", 30)
    done = maildesk(config, "import", str(tmp_path / "old.mbox"), "--json")
    assert done.returncode == 0, done.stderr
    ran = maildesk(config, "run", "--once")  # the SLA tick and the sender, as the daemon
    assert ran.returncode == 0, ran.stderr
    engine = make_engine(f"sqlite:///{config.parent / 'maildesk.db'}")
    with session_factory(engine)() as s:
        # Nobody was mailed about a ticket; the tiers' daily digest (which goes out
        # whatever happened) lists the imported tickets as open.
        sent = s.scalars(select(OutboxMessage.kind)).all()
        assert set(sent) <= {"sla_digest"}
        assert len(list((config.parent / "outgoing").glob("*"))) == len(sent)
        tickets = s.scalars(select(Ticket).order_by(Ticket.id)).all()
        assert len(tickets) == 30
        created = sorted(t.created_at for t in tickets)
        assert created == sorted(d.replace(microsecond=0) for d in dates)
        assert all(t.updated_at < datetime.now(UTC) - timedelta(days=4) for t in tickets)
        assert (
            s.scalar(select(func.count()).select_from(SlaTimer).where(SlaTimer.state == "fired"))
            == 0
        )
        past = select(func.count()).select_from(SlaTimer)
        past = past.where(SlaTimer.state == "pending", SlaTimer.due_at <= datetime.now(UTC))
        assert s.scalar(past) == 0
        kinds = set(s.scalars(select(Event.kind).where(Event.ticket_id.is_not(None))))
        assert "history" in kinds and not kinds & {"breach", "escalated", "queued"}
        answered = s.get(Ticket, 1)
        assert answered is not None and answered.first_response_at == dates[0].replace(
            microsecond=0
        ) + timedelta(hours=1)
    engine.dispose()


def test_import_live_treats_the_mail_as_new(tmp_path: Path) -> None:
    config = desk(tmp_path)
    archive(tmp_path / "old.mbox", 3)
    done = maildesk(config, "import", "--live", str(tmp_path / "old.mbox"), "--json")
    assert done.returncode == 0, done.stderr
    engine = make_engine(f"sqlite:///{config.parent / 'maildesk.db'}")
    with session_factory(engine)() as s:
        kinds = sorted(s.scalars(select(OutboxMessage.kind)))
        created = [t.created_at for t in s.scalars(select(Ticket))]
    engine.dispose()
    assert kinds.count("acknowledgement") == 3 and "reply" in kinds
    assert all(c > datetime.now(UTC) - timedelta(minutes=5) for c in created)
