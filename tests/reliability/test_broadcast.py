"""A broadcast to 500 incidents sends 500 mails, once each, with a kill -9 mid-way.

The problem and its 500 incidents are made in-process (their own
acknowledgements and notifications are not under test and are marked sent);
the agent's #broadcast comes in through Dovecot to a real `maildesk run`,
which is killed while it hands the 500 answers to the SMTP sink, then
restarted. Every customer gets the answer once; only the one mail a crash
can leave in flight may reach the relay twice, with the same Message-ID.
"""

from __future__ import annotations

from collections import Counter
from email import message_from_bytes, policy
from pathlib import Path

from sqlalchemy import func, select, update

from maildesk.config import load_settings
from maildesk.intake import Intake
from maildesk.store.db import make_engine, session_factory
from maildesk.store.models import OutboxMessage, Ticket
from tests.support.dovecot import Account, Dovecot
from tests.support.reliability import daemon, finish, kill_when
from tests.support.sinkdesk import imap_desk
from tests.support.smtpsink import Sink
from tests.support.sources import append, folder_count

INCIDENTS = 500
TEXT = "The VPN is back: the fix is deployed."


def customer(n: int) -> bytes:
    return (
        f"From: C{n} <c{n}@example.org>\r\nTo: support@example.com\r\n"
        f"Subject: VPN down at site {n}\r\nMessage-ID: <c{n}@example.org>\r\n"
        f"Date: Thu, 03 Dec 2026 09:00:00 +0000\r\n\r\nNo VPN since the morning, desk {n}.\r\n"
    ).encode()


def agent(n: int, body: str, msgid: str) -> bytes:
    return (
        f"From: Bob <bob@example.com>\r\nTo: support@example.com\r\n"
        f"Subject: Re: [#{n}] VPN down\r\nMessage-ID: {msgid}\r\n\r\n{body}\r\n"
    ).encode()


def test_a_broadcast_survives_kill_9_once_each(
    tmp_path: Path, postgres_url: str, dovecot: Dovecot, imap_account: Account, smtp_sink: Sink
) -> None:
    # The broadcast is one agent's answer to 500 tickets: no hourly budget is hit.
    extra = "[outbox]\nper_address_per_hour = 1000\n[problems]\nalert_after = 0\n"
    config = imap_desk(
        tmp_path,
        postgres_url,
        dovecot,
        imap_account,
        smtp_sink,
        extra=extra,
        box="poll_interval = 1\n",
    )
    engine = make_engine(postgres_url)
    try:
        intake = Intake(load_settings(config), session_factory(engine))
        numbers = [
            o.ticket_id
            for o in intake.ingest_many([customer(n) for n in range(INCIDENTS + 1)], "setup")
        ]
        problem = numbers[0]
        line = "#problem " + " ".join(str(n) for n in numbers[1:])
        assert intake.ingest(agent(problem, line, "<link@x>"), "setup").status == "stored"
        with session_factory(engine).begin() as s:
            s.execute(update(OutboxMessage).values(state="sent"))  # not under test
            linked = s.scalar(
                select(func.count()).select_from(Ticket).where(Ticket.incident_of == problem)
            )
            assert linked == INCIDENTS
    finally:
        engine.dispose()
    append(dovecot, imap_account, [agent(problem, f"#broadcast\r\n\r\n{TEXT}", "<cast@x>")])

    def answers() -> list[tuple[str, str]]:
        found = []
        for m in list(smtp_sink.handler.messages):
            parsed = message_from_bytes(m.data, policy=policy.default)
            if TEXT in parsed.get_body(("plain",)).get_content():  # type: ignore[union-attr]
                found.append((m.rcpt_tos[0], str(parsed["Message-ID"])))
        return found

    process = daemon(config)
    assert kill_when(process, lambda: len(answers()) >= 100, 0.0), "ended before the kill"
    in_flight = len(answers())
    assert 100 <= in_flight < INCIDENTS + 1, in_flight  # killed mid-way
    finish(config)  # the restarted desk, past the outbox lease of the killed one
    got = answers()
    per_customer = Counter(to for to, _ in got)
    assert set(per_customer) == {f"c{n}@example.org" for n in range(INCIDENTS + 1)}
    twice = {to: n for to, n in per_customer.items() if n > 1}
    assert len(twice) <= 1, twice  # at most the one mail in flight at the kill
    for to in twice:
        assert len({mid for who, mid in got if who == to}) == 1  # the same mail again
    assert folder_count(dovecot, imap_account, "INBOX") == 0
    engine = make_engine(postgres_url)
    try:
        with session_factory(engine)() as s:
            states = s.scalars(select(OutboxMessage.state).distinct()).all()
            assert list(states) == ["sent"]
    finally:
        engine.dispose()
