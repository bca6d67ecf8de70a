"""Agents by mail: replies relayed without the quoted history, commands, notes."""

from __future__ import annotations

import email
import email.policy
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from maildesk.clock import FixedClock
from maildesk.commands import parse_commands
from maildesk.intake import Intake
from maildesk.mail import Command
from maildesk.outbox.sender import Sender
from maildesk.store.db import session_factory
from maildesk.store.models import Event, Message, OutboxMessage, Ticket
from tests.support.agent import agent_reply
from tests.support.mailout import settings_for
from tests.support.pipeline import T0, mail
from tests.support.sinkdesk import imap_daemon
from tests.support.smtpsink import Sink

TIERS = frozenset({"L1", "L2"})


@pytest.mark.parametrize(
    ("text", "commands", "rest", "problems"),
    [
        ("#status resolved\nDone.\n", [Command("status", "resolved")], "Done.\n", []),
        (
            "\n#assign me\n#priority HIGH\n#tier L2\n#tag vpn\n\nText\n#not a command\n",
            [
                Command("assign", "me"),
                Command("priority", "HIGH"),
                Command("tier", "L2"),
                Command("tag", "vpn"),
            ],
            "Text\n#not a command\n",
            [],
        ),
        ("#note\nInternal only\n", [Command("note")], "Internal only\n", []),
        ("#close\n", [Command("close")], "", []),
        ("#stauts resolved\nHi\n", [], "Hi\n", ["#stauts resolved: unknown command"]),
        (
            "#status maybe\n",
            [],
            "",
            ["#status maybe: status must be open, pending, resolved or closed"],
        ),
        ("#tier L9\n", [], "", ["#tier L9: unknown tier (tiers: L1, L2)"]),
        ("#assign bob\n", [], "", ["#assign bob: assign needs me or an e-mail address"]),
        ("No commands here.\n#status resolved\n", [], "No commands here.\n#status resolved\n", []),
    ],
)
def test_parse_commands(text: str, commands: list[Command], rest: str, problems: list[str]) -> None:
    parsed = parse_commands(text, TIERS)
    assert (list(parsed.commands), parsed.text, list(parsed.problems)) == (commands, rest, problems)


def parsed(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]


@pytest.fixture
def desk(engine: Engine, db_url: str, tmp_path: Path, smtp_sink: Sink):  # type: ignore[no-untyped-def]
    settings = settings_for(
        tmp_path, db_url, {"host": "127.0.0.1", "port": smtp_sink.port, "security": "none"}
    )
    settings = settings.model_copy(
        update={
            "tiers": (
                settings.tiers[0].model_copy(
                    update={"agents": ("bob@example.com", "carol@example.com")}
                ),
            )
        }
    )
    clock = FixedClock(T0)
    pipeline = Intake(settings, session_factory(engine), clock)
    sender = Sender(settings, session_factory(engine), clock)
    first = pipeline.ingest(mail(sender="Alice <alice@example.org>"), "test")
    sender.deliver_due()
    smtp_sink.messages.clear()
    return pipeline, sender, first.ticket_id


@pytest.mark.parametrize("style", ["thunderbird", "outlook"])
def test_agent_reply_reaches_the_customer_without_history(
    desk, smtp_sink: Sink, engine: Engine, style: str
) -> None:  # type: ignore[no-untyped-def]
    pipeline, sender, n = desk
    pipeline.ingest(agent_reply(n, style), "test")
    sender.deliver_due()
    [relayed] = [parsed(m.data) for m in smtp_sink.messages if m.rcpt_tos == ["alice@example.org"]]
    assert relayed["From"] == "Bob Agent via Example Support <support@example.com>"
    assert relayed["Subject"] == f"Re: [#{n}] Printer on fire"
    assert relayed["In-Reply-To"] == "<m1@example.org>"
    assert relayed["Auto-Submitted"] is None
    text = relayed.get_body(("plain",)).get_content()
    assert text.startswith("Please restart the printer, that fixes it.")
    assert "It burns" not in text and "Original Message" not in text and "wrote:" not in text
    assert "bob@example.com" not in relayed.as_string()
    with session_factory(engine)() as s:
        ticket = s.get(Ticket, n)
        assert ticket is not None and ticket.first_response_at == T0 and ticket.status == "open"


def test_note_reaches_no_customer(desk, smtp_sink: Sink, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    pipeline, sender, n = desk
    pipeline.ingest(agent_reply(n, "thunderbird", "#note\n"), "test")
    sender.deliver_due()
    assert smtp_sink.messages == []
    with session_factory(engine)() as s:
        note = s.scalars(select(Message).where(Message.message_id == "<bob1@example.com>")).one()
        assert note.is_note and note.direction == "out"


def test_status_resolved_sends_the_notice(desk, smtp_sink: Sink, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    pipeline, sender, n = desk
    pipeline.ingest(agent_reply(n, "outlook", "#status resolved\n#assign me\n"), "test")
    sender.deliver_due()
    to_alice = [parsed(m.data) for m in smtp_sink.messages if m.rcpt_tos == ["alice@example.org"]]
    assert len(to_alice) == 2
    notice = next(m for m in to_alice if "(resolved)" in m["Subject"])
    assert "is now resolved" in notice.get_body(("plain",)).get_content()
    with session_factory(engine)() as s:
        ticket = s.get(Ticket, n)
        assert ticket is not None and (ticket.status, ticket.assignee) == (
            "resolved",
            "bob@example.com",
        )
        assert ticket.resolved_at == T0


def test_bad_command_relays_nothing_and_tells_the_agent(
    desk, smtp_sink: Sink, engine: Engine
) -> None:  # type: ignore[no-untyped-def]
    pipeline, sender, n = desk
    pipeline.ingest(agent_reply(n, "thunderbird", "#stauts resolved\n"), "test")
    sender.deliver_due()
    [error] = [parsed(m.data) for m in smtp_sink.messages]
    assert error["To"] == "bob@example.com"
    text = error.get_body(("plain",)).get_content()
    assert "#stauts resolved: unknown command" in text and "#assign me|ADDRESS" in text
    with session_factory(engine)() as s:
        ticket = s.get(Ticket, n)
        assert ticket is not None and ticket.status == "new"
        assert s.scalars(select(Event).where(Event.kind == "commands_rejected")).one()


def test_customer_reply_goes_to_the_assignee_or_the_tier(
    desk, smtp_sink: Sink, engine: Engine
) -> None:  # type: ignore[no-untyped-def]
    pipeline, sender, n = desk
    pipeline.ingest(
        mail(
            f"Re: [#{n}] Printer on fire",
            sender="Alice <alice@example.org>",
            msgid="<m2@example.org>",
            body="Still burning.",
        ),
        "test",
    )
    sender.deliver_due()
    [note] = [m for m in smtp_sink.messages]
    assert note.rcpt_tos == ["bob@example.com", "carol@example.com"]
    assert "Still burning." in parsed(note.data).get_body(("plain",)).get_content()
    smtp_sink.messages.clear()
    pipeline.ingest(
        agent_reply(n, "thunderbird", "#assign carol@example.com\n", msgid="<bob2@example.com>"),
        "test",
    )
    pipeline.ingest(
        mail(f"Re: [#{n}]", sender="alice@example.org", msgid="<m3@example.org>", body="Hello?"),
        "test",
    )
    sender.deliver_due()
    assert [m.rcpt_tos for m in smtp_sink.messages if b"Hello?" in m.data] == [
        ["carol@example.com"]
    ]
    with session_factory(engine)() as s:
        kinds = [r.kind for r in s.scalars(select(OutboxMessage).order_by(OutboxMessage.id))]
    assert kinds.count("reply") == 1


def test_agent_copy_goes_to_the_other_watchers(desk, smtp_sink: Sink) -> None:  # type: ignore[no-untyped-def]
    pipeline, sender, n = desk
    pipeline.ingest(agent_reply(n, "thunderbird"), "test")
    sender.deliver_due()
    [copy] = [m for m in smtp_sink.messages if m.rcpt_tos == ["carol@example.com"]]
    text = parsed(copy.data).get_body(("plain",)).get_content()
    assert "Bob Agent answered" in text and "Please restart the printer" in text


@pytest.mark.parametrize(
    ("results", "believed"),
    [
        ("", False),  # nothing from our MTA
        ("evil.example; spf=pass smtp.mailfrom=example.com", False),  # not our MTA's header
        ("mx.example.com; spf=pass smtp.mailfrom=other.example", False),  # not aligned
        ("mx.example.com; spf=pass smtp.mailfrom=example.com", True),
        ("mx.example.com; dkim=pass header.d=example.com", True),
        ("mx.example.com; dmarc=pass header.from=example.com", True),
        (
            "mx.example.com; dmarc=fail header.from=example.com; "
            "spf=pass smtp.mailfrom=example.com",
            False,
        ),
    ],
)
def test_authenticated_agents_need_our_mtas_word(
    engine: Engine, db_url: str, tmp_path: Path, results: str, believed: bool
) -> None:
    settings = settings_for(tmp_path, db_url, {"spool_dir": "out"})
    settings = settings.model_copy(
        update={
            "trust": settings.trust.model_copy(update={"authserv_id": ("mx.example.com",)}),
            "tiers": (settings.tiers[0].model_copy(update={"agents": ("bob@example.com",)}),),
        }
    )
    assert settings.trust_agents == "authenticated"  # the default once our MTA is named
    pipeline = Intake(settings, session_factory(engine), FixedClock(T0))
    n = pipeline.ingest(mail(sender="alice@example.org"), "test").ticket_id
    assert n is not None
    reply = agent_reply(n, "thunderbird", "#status closed\n")
    if results:
        reply = f"Authentication-Results: {results}\r\n".encode() + reply
    outcome = pipeline.ingest(reply, "test")
    with session_factory(engine)() as s:
        status = s.get(Ticket, n).status  # type: ignore[union-attr]
        relayed = s.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.kind == "reply")
        )
    if believed:
        assert (outcome.status, status, relayed) == ("stored", "closed", 1)
    else:
        assert (outcome.status, status, relayed) == ("held", "new", 0)
        assert "from agent bob@example.com, but" in outcome.detail


def test_the_whole_conversation_through_dovecot_and_smtp(
    engine: Engine,
    db_url: str,
    tmp_path: Path,
    smtp_sink: Sink,
    dovecot,  # type: ignore[no-untyped-def]
    imap_account,
) -> None:
    """Customer mail -> acknowledgement -> agent notification -> agent reply (Thunderbird and
    Outlook style) -> only the new text reaches the customer -> #note reaches nobody ->
    #status resolved sends the notice. Real Dovecot in, real SMTP out."""
    base = settings_for(
        tmp_path, db_url, {"host": "127.0.0.1", "port": smtp_sink.port, "security": "none"}
    )
    tier = base.tiers[0].model_copy(update={"agents": ("bob@example.com",)})
    deliver = imap_daemon(base.model_copy(update={"tiers": (tier,)}), engine, dovecot, imap_account)

    def taken(to: str) -> list[email.message.EmailMessage]:
        found = [parsed(m.data) for m in smtp_sink.messages if m.rcpt_tos == [to]]
        smtp_sink.messages[:] = [m for m in smtp_sink.messages if m.rcpt_tos != [to]]
        return found

    deliver(mail(sender="Alice <alice@example.org>"))
    [ack] = taken("alice@example.org")
    token = ack["Subject"].split()[0]
    n = int(token.strip("[#]"))
    [notification] = taken("bob@example.com")
    assert (
        token in notification["Subject"]
        and "It burns." in notification.get_body(("plain",)).get_content()
    )

    for style, msgid in (("thunderbird", "<r1@example.com>"), ("outlook", "<r2@example.com>")):
        raw = agent_reply(n, style, msgid=msgid).replace(
            b"Message-ID:", f"In-Reply-To: {notification['Message-ID']}\r\nMessage-ID:".encode(), 1
        )
        deliver(raw)
        [relayed] = taken("alice@example.org")
        text = relayed.get_body(("plain",)).get_content()
        assert text.startswith("Please restart the printer") and "It burns" not in text
        assert relayed["From"] == "Bob Agent via Example Support <support@example.com>"
        assert relayed["In-Reply-To"] == "<m1@example.org>"

    deliver(agent_reply(n, "thunderbird", "#note\n", msgid="<r3@example.com>"))
    assert taken("alice@example.org") == []

    deliver(agent_reply(n, "outlook", "#status resolved\n", msgid="<r4@example.com>"))
    notices = taken("alice@example.org")
    assert any("(resolved)" in m["Subject"] for m in notices)
    with session_factory(engine)() as s:
        ticket = s.get(Ticket, n)
        assert ticket is not None and ticket.status == "resolved"


def test_answer_and_resolution_settle_their_business_minutes(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    """The report reads durations the ticket stored as its timers settled: the first
    answer's, the resolution's (cleared by a reopening, counted again at the next)."""
    settings = settings_for(tmp_path, db_url, {"host": "127.0.0.1", "port": 9, "security": "none"})
    settings = settings.model_copy(
        update={"tiers": (settings.tiers[0].model_copy(update={"agents": ("bob@example.com",)}),)}
    )
    clock = FixedClock(T0)  # Friday 09:00 UTC; business hours 09-18, Mon-Fri
    pipeline = Intake(settings, session_factory(engine), clock)
    n = pipeline.ingest(mail(), "test").ticket_id
    assert n is not None

    def stored() -> tuple[float | None, float | None, str | None]:
        with session_factory(engine)() as s:
            t = s.get(Ticket, n)
            assert t is not None
            return t.first_response_minutes, t.resolution_minutes, t.first_responder

    clock.advance(timedelta(minutes=45))
    pipeline.ingest(agent_reply(n, "thunderbird"), "test")
    assert stored() == (45.0, None, "bob@example.com")
    clock.advance(timedelta(hours=10))  # Friday 19:45: the day ended at 18:00
    pipeline.ingest(agent_reply(n, "outlook", "#status resolved\n", "<bob2@example.com>"), "test")
    assert stored() == (45.0, 540.0, "bob@example.com")
    clock.advance(timedelta(days=3))  # Monday evening: the customer says it burns again
    again = mail(f"Re: [#{n}] Printer on fire", msgid="<m2@example.org>", body="Still burning!")
    pipeline.ingest(again, "test")
    assert stored() == (45.0, None, "bob@example.com")
    clock.advance(timedelta(hours=14))  # Tuesday 09:45
    pipeline.ingest(agent_reply(n, "outlook", "#status resolved\n", "<bob3@example.com>"), "test")
    # Friday 9 h + Monday 9 h + Tuesday 45 min of business time since it arrived.
    assert stored() == (45.0, 540.0 + 540.0 + 45.0, "bob@example.com")
