"""The trust model through the pipeline, on SQLite and PostgreSQL: who joins a ticket,
who gets automatic mail, whose commands count, and how held mail is admitted."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from maildesk.feedback.surveys import schedule
from maildesk.quarantine import admit_held, reject_held
from maildesk.store.db import session_factory
from maildesk.store.models import (
    Event,
    Message,
    Participant,
    QuarantinedMessage,
    Survey,
    Ticket,
)
from tests.support.pipeline import T0, mail
from tests.support.trust import desk, outbox

AUTH = "Authentication-Results: mx.example.com; dmarc={} header.from={}\r\n"


def people(engine: Engine, ticket: int) -> dict[str, str]:
    with session_factory(engine)() as s:
        rows = s.scalars(select(Participant).where(Participant.ticket_id == ticket))
        return {p.address: p.role for p in rows}


def held(engine: Engine) -> list[QuarantinedMessage]:
    with session_factory(engine)() as s:
        return list(s.scalars(select(QuarantinedMessage).where(QuarantinedMessage.kind == "held")))


def ack_id(engine: Engine) -> str:
    [ack] = outbox(engine, "acknowledgement")
    return ack.message_id


def agent_reply(n: int, text: str, msgid: str, headers: str = "") -> bytes:
    return mail(
        f"Re: [#{n}] Printer on fire",
        sender="Agent <agent@example.com>",
        msgid=msgid,
        to=f"support+{n}@example.com",
        body=text.replace("\n", "\r\n"),
        headers=headers,
    )


def stranger_reply(reference: str, msgid: str = "<mallory-1@evil.example>", **kw: Any) -> bytes:
    return mail(
        "Re: Printer on fire",
        sender="Mallory <mallory@evil.example>",
        msgid=msgid,
        headers=f"In-Reply-To: {reference}\r\nReferences: {reference}\r\n" + kw.pop("headers", ""),
        body=kw.pop("body", "What was the customer's contract number again?"),
    )


def test_a_leaked_message_id_does_not_let_a_stranger_in(engine: Engine, tmp_path: Path) -> None:
    """The attack of issue 14: In-Reply-To the acknowledgement's Message-ID."""
    p = desk(engine, tmp_path)
    n = p.ingest(mail(sender="Alice <alice@example.org>"), "test").ticket_id
    assert n is not None
    out = p.ingest(stranger_reply(ack_id(engine)), "test")
    assert (out.status, out.ticket_id) == ("held", n)
    assert "mallory@evil.example is not on ticket" in out.detail
    assert "mallory@evil.example" not in people(engine, n)
    with session_factory(engine)() as s:
        assert [m.message_id for m in s.scalars(select(Message))] == ["<m1@example.org>"]
    [notice] = outbox(engine, "held_notice")
    assert notice.recipients == ["agent@example.com"]
    text = email.message_from_bytes(notice.raw, policy=email.policy.default)
    assert "#admit mallory@evil.example" in text.get_body(("plain",)).get_content()  # type: ignore[attr-defined]
    p.ingest(agent_reply(n, "Please restart it.\n", "<agent-1@example.com>"), "test")
    [relay] = outbox(engine, "reply")
    assert relay.recipients == ["alice@example.org"]
    assert all(b"mallory" not in m.raw for m in outbox(engine) if m.kind != "held_notice")
    # The customer's own Message-ID leaks too: the same.
    again = p.ingest(stranger_reply("<m1@example.org>", "<mallory-2@evil.example>"), "test")
    assert again.status == "held"
    assert len(outbox(engine, "held_notice")) == 1  # told once per sender and ticket


def test_an_agent_admits_a_held_sender(engine: Engine, tmp_path: Path) -> None:
    p = desk(engine, tmp_path)
    n = p.ingest(mail(sender="Alice <alice@example.org>"), "test").ticket_id
    assert n is not None
    p.ingest(stranger_reply(ack_id(engine)), "test")
    [notice] = outbox(engine, "held_notice")
    # A reply to the notice: the admit applies, the text is a note for no customer.
    admit = agent_reply(
        n,
        "#admit mallory@evil.example\nShe is Alice's colleague, I called her.\n",
        "<agent-2@example.com>",
        headers=f"In-Reply-To: {notice.message_id}\r\n",
    )
    assert p.ingest(admit, "test").status == "stored"
    assert outbox(engine, "reply") == []
    assert people(engine, n)["mallory@evil.example"] == "cc"
    assert [h.state for h in held(engine)] == ["released"]
    with session_factory(engine)() as s:
        messages = list(s.scalars(select(Message).where(Message.ticket_id == n)))
        assert [m.message_id for m in messages][-1] == "<mallory-1@evil.example>"
        kinds = {e.kind for e in s.scalars(select(Event).where(Event.ticket_id == n))}
    assert {"held", "admitted", "note"} <= kinds
    # Now she is a participant: her next mail goes in, and replies reach her.
    assert p.ingest(stranger_reply(ack_id(engine), "<mallory-3@evil.example>"), "test").status == (
        "stored"
    )
    p.ingest(agent_reply(n, "Hello both.\n", "<agent-3@example.com>"), "test")
    [relay] = outbox(engine, "reply")
    assert sorted(relay.recipients) == ["alice@example.org", "mallory@evil.example"]


def test_rejected_mail_stays_out_and_quiet(engine: Engine, tmp_path: Path) -> None:
    p = desk(engine, tmp_path)
    n = p.ingest(mail(sender="Alice <alice@example.org>"), "test").ticket_id
    assert n is not None
    p.ingest(stranger_reply(ack_id(engine)), "test")
    p.ingest(agent_reply(n, "#reject mallory@evil.example\n", "<agent-2@example.com>"), "test")
    assert [h.state for h in held(engine)] == ["rejected"]
    out = p.ingest(stranger_reply(ack_id(engine), "<mallory-2@evil.example>"), "test")
    assert out.status == "held" and len(outbox(engine, "held_notice")) == 1
    # An admin can still change their mind.
    first = held(engine)[0]
    assert admit_held(p, first.id).status == "stored"
    assert "mallory@evil.example" in people(engine, n)
    assert reject_held(p, first.id).status == "released"


@pytest.mark.parametrize(
    ("join", "colleague", "stranger"),
    [
        ("participants", "held", "held"),
        ("domain", "stored", "held"),
        ("anyone", "stored", "stored"),
    ],
)
def test_each_join_setting(
    engine: Engine, tmp_path: Path, join: str, colleague: str, stranger: str
) -> None:
    p = desk(engine, tmp_path, helpdesk={"join": join})
    n = p.ingest(mail(sender="Alice <alice@bigcorp.example>"), "test").ticket_id
    ref = ack_id(engine)
    carl = mail(
        "Re: Printer",
        sender="carl@bigcorp.example",
        msgid="<carl@bigcorp.example>",
        headers=f"In-Reply-To: {ref}\r\n",
    )
    assert p.ingest(carl, "test").status == colleague
    assert p.ingest(stranger_reply(ref), "test").status == stranger
    assert ("carl@bigcorp.example" in people(engine, n or 0)) is (colleague == "stored")


def test_a_stranger_can_get_their_own_ticket(engine: Engine, tmp_path: Path) -> None:
    p = desk(engine, tmp_path, helpdesk={"foreign_token": "new_ticket"})
    n = p.ingest(mail(sender="Alice <alice@example.org>"), "test").ticket_id
    out = p.ingest(stranger_reply(ack_id(engine)), "test")
    assert out.new_ticket and out.ticket_id != n
    assert "mallory@evil.example" not in people(engine, n or 0)


def test_only_the_requester_and_agents_add_people(engine: Engine, tmp_path: Path) -> None:
    p = desk(engine, tmp_path)
    first = mail(sender="alice@example.org", headers="Cc: Boss <boss@example.org>\r\n")
    n = p.ingest(first, "test").ticket_id or 0
    boss = mail(
        f"Re: [#{n}] Printer",
        sender="boss@example.org",
        msgid="<boss-1@example.org>",
        headers="Cc: friend@elsewhere.example\r\n",
    )
    assert p.ingest(boss, "test").status == "stored"
    assert "friend@elsewhere.example" not in people(engine, n)  # a Cc's Cc: no
    p.ingest(
        agent_reply(n, "Adding the vendor.\n", "<agent-1@example.com>", "Cc: v@vendor.example\r\n"),
        "test",
    )
    assert people(engine, n) == {
        "alice@example.org": "requester",
        "boss@example.org": "cc",
        "agent@example.com": "agent",
        "v@vendor.example": "cc",
    }


SPAM = "X-Spam-Flag: YES\r\nX-Spam-Status: Yes, score=9.1 required=5.0 tests=X\r\n"
FORGED = AUTH.format("fail", "bank.example")


@pytest.mark.parametrize(("headers", "why"), [(SPAM, "X-Spam-Flag: YES"), (FORGED, "dmarc=fail")])
def test_no_automatic_mail_to_a_suspicious_sender(
    engine: Engine, tmp_path: Path, headers: str, why: str
) -> None:
    """Backscatter: spam with a forged sender gets no acknowledgement, survey or notice."""
    p = desk(engine, tmp_path, trust={"authserv_id": ["mx.example.com"]})
    out = p.ingest(mail(sender="victim@bank.example", headers=headers), "test")
    assert (out.status, out.new_ticket, out.auto_reply) == ("stored", True, False)
    assert outbox(engine, "acknowledgement") == []
    [told] = outbox(engine, "notification")
    assert told.recipients == ["agent@example.com"]
    text = (
        email.message_from_bytes(told.raw, policy=email.policy.default)
        .get_body(("plain",))
        .get_content()
    )  # type: ignore[attr-defined]
    assert "No acknowledgement was sent: " in text and why in text
    with session_factory(engine).begin() as s:
        ticket = s.get(Ticket, out.ticket_id)
        assert ticket is not None and why in (ticket.quiet or "")
        suppressed = s.scalars(
            select(Event).where(Event.kind == "acknowledgement_suppressed")
        ).one()
        assert why in suppressed.detail["why"]
        # Resolved by an agent without answering: no status notice, no survey.
    n = out.ticket_id or 0
    p.ingest(agent_reply(n, "#status resolved\n", "<agent-1@example.com>"), "test")
    assert outbox(engine, "status") == []
    with session_factory(engine).begin() as s:
        assert s.scalars(select(Survey)).all() == []
        ticket = s.get(Ticket, n)
        assert ticket is not None
        schedule(s, p.settings, ticket, T0)
        assert s.scalars(select(Survey)).all() == []


def test_an_agents_answer_lifts_the_silence(engine: Engine, tmp_path: Path) -> None:
    p = desk(engine, tmp_path)
    n = p.ingest(mail(sender="bob@example.org", headers=SPAM), "test").ticket_id or 0
    p.ingest(
        agent_reply(n, "#status resolved\nIt was not spam.\n", "<agent-1@example.com>"), "test"
    )
    assert [m.recipients for m in outbox(engine, "reply")] == [["bob@example.org"]]
    assert [m.recipients for m in outbox(engine, "status")] == [["bob@example.org"]]
    with session_factory(engine)() as s:
        ticket = s.get(Ticket, n)
        assert ticket is not None and ticket.quiet is None
        assert s.scalars(select(Survey)).one().state == "scheduled"


def test_suspicious_mail_can_be_held_and_admitted(engine: Engine, tmp_path: Path) -> None:
    p = desk(engine, tmp_path, trust={"suspicious": "hold"})
    out = p.ingest(mail(sender="victim@bank.example", headers=SPAM), "test")
    assert (out.status, out.ticket_id) == ("held", None)
    assert outbox(engine) == []  # nobody is told of spam
    [row] = held(engine)
    admitted = admit_held(p, row.id)
    assert admitted.status == "stored" and admitted.new_ticket
    assert outbox(engine, "acknowledgement") == []  # still no robot writes to them
    assert admit_held(p, row.id).status == "released"


def test_a_forged_agent_changes_nothing_and_the_lead_hears_once(
    engine: Engine, tmp_path: Path
) -> None:
    p = desk(engine, tmp_path, trust={"authserv_id": ["mx.example.com"]})
    n = p.ingest(mail(sender="Alice <alice@example.org>"), "test").ticket_id or 0
    for i, results in enumerate(["", AUTH.format("fail", "example.com")]):
        forged = agent_reply(n, "#status closed\nAll done, bye.\n", f"<f{i}@x>", results)
        out = p.ingest(forged, "test")
        assert out.status == "held" and "from agent agent@example.com, but" in out.detail
    with session_factory(engine)() as s:
        ticket = s.get(Ticket, n)
        assert ticket is not None and ticket.status == "new"
    assert outbox(engine, "reply") == [] and outbox(engine, "command_error") == []
    [report] = outbox(engine, "forged_agent")
    assert report.recipients == ["lead@example.com"]
    # The real agent, vouched for by our MTA, gets through.
    real = agent_reply(n, "#status closed\n", "<real@x>", AUTH.format("pass", "example.com"))
    assert p.ingest(real, "test").status == "stored"
    # An admin who knows the forged-looking mail was real lets it in, as the agent's.
    first = held(engine)[0]
    assert admit_held(p, first.id).status == "stored"
    with session_factory(engine)() as s:
        message = s.scalars(select(Message).where(Message.message_id == "<f0@x>")).one()
        assert message.direction == "out"


def test_customer_text_never_becomes_a_header_a_recipient_or_code(
    engine: Engine, tmp_path: Path
) -> None:
    p = desk(engine, tmp_path)
    evil = (
        b"From: =?utf-8?q?Eve=0D=0ABcc=3A_victim=40other=2Eexample?= <eve@example.org>\r\n"
        b"To: support@example.com\r\n"
        b"Subject: =?utf-8?q?{{_7*7_}}=0D=0ABcc=3A_victim=40other=2Eexample?=\r\n"
        b"Message-ID: <evil@example.org>\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
        b"Content-Type: text/plain\r\n\r\n{% for x in range(3) %}loop{% endfor %} {{ config }}\r\n"
        b'--b\r\nContent-Type: text/plain; name="a\r\nBcc: v@other.example.txt"\r\n'
        b'Content-Disposition: attachment; filename="x\r\n Bcc: v@other.example.txt"\r\n\r\n'
        b"data\r\n--b--\r\n"
    )
    out = p.ingest(evil, "test")
    assert out.status == "stored"
    n = out.ticket_id or 0
    p.ingest(agent_reply(n, "Answer.\n", "<agent-1@example.com>"), "test")
    kinds = set()
    for row in outbox(engine):
        kinds.add(row.kind)
        head = row.raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
        assert not [line for line in head if line.lower().startswith((b"bcc", b"cc"))]
        assert all(r in ("eve@example.org", "agent@example.com") for r in row.recipients)
    assert kinds == {"acknowledgement", "notification", "reply"}
    [ack] = outbox(engine, "acknowledgement")
    subject = str(email.message_from_bytes(ack.raw, policy=email.policy.default)["Subject"])
    assert "{{ 7*7 }}" in subject and "49" not in subject
    [note] = outbox(engine, "notification")
    told = (
        email.message_from_bytes(note.raw, policy=email.policy.default)
        .get_body(("plain",))
        .get_content()
    )  # type: ignore[attr-defined]
    assert "{% for x in range(3) %}loop{% endfor %} {{ config }}" in told
