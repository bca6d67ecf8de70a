"""kill -9 while mail is held and while it is admitted: held mail is never lost or doubled.

100 customers write; then 100 strangers each write twice into one of their
tickets by the customer's Message-ID (the leak of issue 14). A daemon taking
that mailbox is killed at seeded points; then `maildesk quarantine admit` of
every held mail is killed at seeded points until it has run through. After
both, every mail is in the database once, every stranger's mail is held or
in its ticket once, each ticket's agents were told once per stranger, and each
admitted stranger is a participant once.
"""

from __future__ import annotations

import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

from sqlalchemy import select

from maildesk.store.db import make_engine, session_factory
from maildesk.store.models import Message, OutboxMessage, Participant, QuarantinedMessage
from tests.support.dovecot import Dovecot
from tests.support.reliability import (
    assert_exactly_once,
    daemon,
    desk_with_mail,
    finish,
    kept_count,
    kill_when,
)
from tests.support.smtpsink import Sink

CUSTOMERS = 100


def _mail(sender: str, msgid: str, subject: str, headers: str = "") -> bytes:
    return (
        f"From: {sender}\r\nTo: support@example.com\r\nSubject: {subject}\r\n"
        f"Message-ID: {msgid}\r\nDate: Wed, 02 Dec 2026 10:00:00 +0100\r\n{headers}\r\n"
        # A text of its own: the same text again and again would be a robot (no notices).
        f"About {subject} from {sender}.\r\n"
    ).encode()


def corpus() -> tuple[list[bytes], list[str]]:
    mails = [
        _mail(f"customer{i}@client.example", f"<q{i}@client.example>", f"Question {i}")
        for i in range(CUSTOMERS)
    ]
    for round_ in range(2):
        for i in range(CUSTOMERS):
            mails.append(
                _mail(
                    f"stranger{i}@evil.example",
                    f"<s{i}.{round_}@evil.example>",
                    f"Re: Question {i}",
                    f"In-Reply-To: <q{i}@client.example>\r\n",
                )
            )
    ids = [f"<q{i}@client.example>" for i in range(CUSTOMERS)]
    ids += [f"<s{i}.{r}@evil.example>" for r in range(2) for i in range(CUSTOMERS)]
    return mails, ids


def rows(
    db_url: str,
) -> tuple[list[Message], list[QuarantinedMessage], list[OutboxMessage], list[Participant]]:
    engine = make_engine(db_url)
    try:
        with session_factory(engine)() as s:
            return (
                list(s.scalars(select(Message))),
                list(s.scalars(select(QuarantinedMessage))),
                list(s.scalars(select(OutboxMessage))),
                list(s.scalars(select(Participant))),
            )
    finally:
        engine.dispose()


def released(db_url: str) -> int:
    return sum(h.state == "released" for h in rows(db_url)[1])


def test_kill_9_while_holding_and_admitting(
    tmp_path: Path, dovecot: Dovecot, smtp_sink: Sink
) -> None:
    rng = random.Random(20261202)
    db_url = f"sqlite:///{tmp_path / 'maildesk.db'}"
    mails, ids = corpus()
    config, account = desk_with_mail(tmp_path, db_url, dovecot, smtp_sink, mails)
    text = config.read_text().replace(
        'name = "L1"\n', 'name = "L1"\nagents = ["agent@example.com"]\n'
    )
    config.write_text(text)
    kills = 0
    for point in sorted(rng.sample(range(CUSTOMERS, len(mails) - 20), 5)):
        reached = lambda p=point: kept_count(db_url) >= p  # noqa: E731
        kills += kill_when(daemon(config), reached, rng.uniform(0, 0.2))
    finish(config)
    assert_exactly_once(db_url, ids, dovecot, account, smtp_sink, crashes=kills)
    messages, held, outbox, _ = rows(db_url)
    assert len(messages) == CUSTOMERS and len(held) == 2 * CUSTOMERS
    assert {h.state for h in held} == {"held"}
    notices = Counter((*o.recipients, o.ticket_id) for o in outbox if o.kind == "held_notice")
    assert len(notices) == CUSTOMERS and set(notices.values()) == {1}  # once per stranger

    admit_kills = 0
    points = sorted(rng.sample(range(10, 2 * CUSTOMERS - 10), 4))
    for point in [*points, None]:
        waiting = [str(h.id) for h in rows(db_url)[1] if h.state == "held"]
        if not waiting:  # a kill after the last commit
            break
        admit = subprocess.Popen(
            [sys.executable, "-m", "maildesk", "-c", str(config), "quarantine", "admit", *waiting],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if point is None:  # the last run goes through
            assert admit.wait(timeout=120) == 0
            break
        reached = lambda p=point: released(db_url) >= p  # noqa: E731
        admit_kills += kill_when(admit, reached, rng.uniform(0, 0.05))
    assert admit_kills >= 3, f"admissions ran through before the kills at {points}"
    messages, held, _, participants = rows(db_url)
    assert {h.state for h in held} == {"released"}
    assert sorted(m.message_id or "" for m in messages) == sorted(ids)
    strangers = Counter(p.address for p in participants if p.address.startswith("stranger"))
    assert len(strangers) == CUSTOMERS and set(strangers.values()) == {1}
    by_ticket = {m.message_id: m.ticket_id for m in messages}
    for i in range(CUSTOMERS):
        assert by_ticket[f"<s{i}.0@evil.example>"] == by_ticket[f"<q{i}@client.example>"]
    print(f"{kills} kills while holding, {admit_kills} while admitting")
