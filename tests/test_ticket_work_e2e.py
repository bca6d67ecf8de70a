"""Ticket work by mail the whole way: Dovecot, `maildesk run --once`, the SMTP sink.

Three customers write about one outage; round robin gives their tickets to
bob and carol, each told alone; carol answers one with a macro, bob makes
his the problem and links the others, then broadcasts; carol sets a ticket
pending, and a run a week later closes it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select

from maildesk.store.db import make_engine, session_factory
from maildesk.store.models import Ticket
from tests.support.dovecot import Account, Dovecot
from tests.support.processes import maildesk
from tests.support.sinkdesk import imap_desk
from tests.support.smtpsink import Sink
from tests.support.sources import append

MONDAY_10 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def customer(n: int) -> bytes:
    return (
        f"From: C{n} <c{n}@example.org>\r\nTo: support@example.com\r\n"
        f"Subject: VPN down, site {n}\r\nMessage-ID: <c{n}@example.org>\r\n"
        f"Date: Mon, 23 Nov 2026 09:5{n}:00 +0000\r\n\r\nNo VPN at site {n}.\r\n"
    ).encode()


def agent(who: str, n: int, body: str, msgid: str) -> bytes:
    return (
        f"From: {who.title()} <{who}@example.com>\r\nTo: support@example.com\r\n"
        f"Subject: Re: [#{n}] VPN down\r\nMessage-ID: {msgid}\r\n\r\n{body}\r\n"
    ).encode()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_ticket_work_through_imap_and_a_daemon(
    tmp_path: Path, db_url: str, dovecot: Dovecot, imap_account: Account, smtp_sink: Sink
) -> None:
    tiers = (
        '[[tiers]]\nname = "L1"\nagents = ["bob@example.com", "carol@example.com"]\n'
        'assign = "round_robin"\n'
    )
    extra = (
        '[calendar]\nhours = ["09:00-18:00"]\n'
        '[[sla_policies]]\nname = "normal"\nfirst_response = "2h"\nclose_pending_days = 2\n'
        '[sla]\nby_priority = { normal = "normal", high = "normal" }\n'
    )
    config = imap_desk(tmp_path, db_url, dovecot, imap_account, smtp_sink, tiers=tiers, extra=extra)

    def once(now: datetime) -> None:
        assert maildesk(config, "run", "--once", "--now", now.isoformat()).wait(120) == 0

    def to(address: str) -> list[EmailMessage]:
        return [
            message_from_bytes(m.data, policy=policy.default)  # type: ignore[misc]
            for m in smtp_sink.messages
            if address in m.rcpt_tos
        ]

    append(dovecot, imap_account, [customer(n) for n in range(3)])
    once(MONDAY_10)
    first, second, third = 1, 2, 3

    def told(n: int) -> list[str]:
        return [
            a
            for a in ("bob", "carol")
            if any(f"[#{n}]" in str(m["Subject"]) for m in to(f"{a}@example.com"))
        ]

    assert [told(n) for n in (first, second, third)] == [["bob"], ["carol"], ["bob"]]
    smtp_sink.messages.clear()
    append(
        dovecot,
        imap_account,
        [
            agent("carol", second, "#macro restart", "<carol1@x>"),
            agent("bob", first, f"#problem {third}", "<bob1@x>"),
            agent("bob", second, f"#link {first}", "<bob2@x>"),
        ],
    )
    once(MONDAY_10 + timedelta(minutes=5))
    [macro] = to("c1@example.org")
    assert "please restart the device" in macro.get_body(("plain",)).get_content()
    smtp_sink.messages.clear()
    append(
        dovecot, imap_account, [agent("bob", first, "#broadcast\n\nThe VPN is back.", "<bob3@x>")]
    )
    once(MONDAY_10 + timedelta(minutes=10))
    for n in range(3):
        assert [
            "The VPN is back." in m.get_body(("plain",)).get_content()
            for m in to(f"c{n}@example.org")
        ] == [True]
    # The macro set the second ticket pending: two business days later it is closed.
    once(MONDAY_10 + timedelta(days=2, minutes=15))
    engine = make_engine(db_url)
    try:
        with session_factory(engine)() as s:
            ticket = s.get(Ticket, second)
            assert ticket is not None and (ticket.status, ticket.resolution) == (
                "resolved",
                "no_reply",
            )
            linked = s.scalars(select(Ticket.id).where(Ticket.incident_of == first)).all()
            assert sorted(linked) == [second, third]
    finally:
        engine.dispose()
    assert [
        m
        for m in to("c1@example.org")
        if "marked it resolved" in m.get_body(("plain",)).get_content()
    ]
