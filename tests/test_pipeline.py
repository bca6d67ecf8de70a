"""The pipeline on SQLite and PostgreSQL: stored once, threaded right, nothing lost."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, select

from maildesk.clock import FixedClock
from maildesk.store.db import session_factory
from maildesk.store.models import (
    Event,
    Message,
    OutboxMessage,
    Participant,
    QuarantinedMessage,
    Ticket,
)
from tests.corpus import ids, need_corpus, samples
from tests.support.pipeline import T0, mail, make_pipeline


def count(engine: Engine, model: type) -> int:
    with session_factory(engine)() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_new_ticket_and_reply_by_token(engine: Engine) -> None:
    p = make_pipeline(engine)
    first = p.ingest(mail(), "test")
    assert (first.status, first.new_ticket, first.auto_reply) == ("stored", True, True)
    reply = p.ingest(
        mail(
            f"RE: AW: [#{first.ticket_id}] Printer on fire",
            msgid="<m2@example.org>",
            body="Still burning.\n\nOn Fri, Bob <b@x.org> wrote:\n> old",
        ),
        "test",
    )
    assert (reply.status, reply.ticket_id, reply.new_ticket) == ("stored", first.ticket_id, False)
    with session_factory(engine)() as s:
        ticket = s.get(Ticket, first.ticket_id)
        assert ticket is not None
        assert (ticket.subject, ticket.status, ticket.tier, ticket.priority) == (
            "Printer on fire",
            "new",
            "L1",
            "normal",
        )
        assert ticket.requester is not None and ticket.requester.name == "Alice"
        visible = [m.visible_text.strip() for m in ticket.messages]
        assert visible == ["It burns.", "Still burning."]
        assert [e.kind for e in ticket.events] == [
            "created",
            "queued",
            "queued",
            "queued",
            "message",
        ]


def test_the_same_mail_twice_is_stored_once(engine: Engine) -> None:
    p = make_pipeline(engine)
    assert p.ingest(mail(), "imap:a").status == "stored"
    again = p.ingest(mail(), "imap:b")
    assert (again.status, again.detail) == ("duplicate", "already stored (message)")
    assert count(engine, Message) == 1 and count(engine, Ticket) == 1


def test_without_message_id_the_content_decides(engine: Engine) -> None:
    p = make_pipeline(engine)
    raw = b"From: a@example.org\r\nTo: support@example.com\r\nSubject: x\r\n\r\nbody\r\n"
    other_route = b"Received: from elsewhere\r\nDelivered-To: support@example.com\r\n" + raw
    assert p.ingest(raw, "a").status == "stored"
    assert p.ingest(other_route, "b").status == "duplicate"
    assert p.ingest(raw.replace(b"body", b"other body"), "a").status == "stored"


def test_reply_by_references_to_our_outgoing_mail(engine: Engine) -> None:
    p = make_pipeline(engine)
    first = p.ingest(mail(), "test")
    with session_factory(engine).begin() as s:
        s.add(
            OutboxMessage(
                ticket_id=first.ticket_id,
                kind="acknowledgement",
                message_id="<ack-1@example.com>",
                sender="support@example.com",
                recipients=["alice@example.org"],
                raw=b"x",
            )
        )
    reply = p.ingest(
        mail(
            "Re: Printer on fire",
            msgid="<m2@example.org>",
            headers="In-Reply-To: <ack-1@example.com>\r\n",
        ),
        "test",
    )
    assert (reply.ticket_id, reply.new_ticket) == (first.ticket_id, False)


def test_pending_ticket_opens_when_the_customer_answers(engine: Engine) -> None:
    p = make_pipeline(engine)
    first = p.ingest(mail(), "test")
    with session_factory(engine).begin() as s:
        ticket = s.get(Ticket, first.ticket_id)
        assert ticket is not None
        ticket.status = "pending"
    p.ingest(mail(f"Re: [#{first.ticket_id}]", msgid="<m2@example.org>"), "test")
    with session_factory(engine)() as s:
        ticket = s.get(Ticket, first.ticket_id)
        assert ticket is not None and ticket.status == "open"


def test_closed_ticket_reopens_or_spawns_a_follow_up(engine: Engine) -> None:
    clock = FixedClock(T0)
    p = make_pipeline(engine, clock)
    first = p.ingest(mail(), "test")
    with session_factory(engine).begin() as s:
        ticket = s.get(Ticket, first.ticket_id)
        assert ticket is not None
        ticket.status, ticket.closed_at = "closed", T0
    clock.advance(timedelta(days=2))
    again = p.ingest(mail(f"Re: [#{first.ticket_id}]", msgid="<m2@example.org>"), "test")
    assert again.ticket_id == first.ticket_id
    with session_factory(engine).begin() as s:
        ticket = s.get(Ticket, first.ticket_id)
        assert ticket is not None and ticket.status == "open"
        ticket.status, ticket.closed_at = "closed", clock.now()
    clock.advance(timedelta(days=30))
    late = p.ingest(mail(f"Re: [#{first.ticket_id}]", msgid="<m3@example.org>"), "test")
    assert late.new_ticket and late.ticket_id != first.ticket_id
    with session_factory(engine)() as s:
        kinds = {
            e.kind: e.detail
            for e in s.scalars(select(Event).where(Event.ticket_id == late.ticket_id))
        }
    assert kinds["follow_up"] == {"of": first.ticket_id}


def test_foreign_token_can_be_held(engine: Engine) -> None:
    p = make_pipeline(engine, foreign_token="hold")
    first = p.ingest(mail(), "test")
    held = p.ingest(
        mail(
            f"[#{first.ticket_id}] give me access", sender="mallory@evil.example", msgid="<evil@x>"
        ),
        "test",
    )
    assert (held.status, held.ticket_id) == ("held", first.ticket_id)
    with session_factory(engine)() as s:
        row = s.scalars(select(QuarantinedMessage)).one()
        assert row.kind == "held" and "mallory@evil.example" in row.reason
    assert count(engine, Message) == 1


def test_auto_replies_are_stored_but_never_answered(engine: Engine) -> None:
    p = make_pipeline(engine)
    out = p.ingest(
        mail("Automatic reply: Printer", headers="Auto-Submitted: auto-replied\r\n"), "test"
    )
    assert (out.status, out.auto_reply) == ("stored", False)
    with session_factory(engine)() as s:
        message = s.scalars(select(Message)).one()
        assert message.kind == "auto" and "Auto-Submitted: auto-replied" in message.guard_reasons
    ours = p.ingest(mail("x", sender="support@example.com", msgid="<loop@x>"), "test")
    assert ours.auto_reply is False


def test_cc_people_become_participants(engine: Engine) -> None:
    p = make_pipeline(engine)
    first = p.ingest(mail(headers="Cc: Boss <boss@example.org>, support@example.com\r\n"), "test")
    with session_factory(engine)() as s:
        people = {
            (x.address, x.role)
            for x in s.scalars(select(Participant).where(Participant.ticket_id == first.ticket_id))
        }
    assert people == {("alice@example.org", "requester"), ("boss@example.org", "cc")}


def test_bounce_attaches_to_the_ticket_as_an_event(engine: Engine) -> None:
    p = make_pipeline(engine)
    first = p.ingest(mail(), "test")
    with session_factory(engine).begin() as s:
        s.add(
            OutboxMessage(
                ticket_id=first.ticket_id,
                kind="acknowledgement",
                message_id="<ack-9@example.com>",
                sender="support@example.com",
                recipients=["alice@example.org"],
                raw=b"x",
            )
        )
    dsn = (
        b"From: MAILER-DAEMON@mx.example.org\r\nTo: support@example.com\r\n"
        b"Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <dsn1@mx>\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status;"
        b" boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nI could not deliver.\r\n"
        b"--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n\r\n"
        b"Final-Recipient: rfc822; alice@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n"
        b"--b\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <ack-9@example.com>\r\n"
        b"Subject: [#1] ack\r\n--b--\r\n"
    )
    out = p.ingest(dsn, "test")
    assert (out.status, out.ticket_id) == ("bounce", first.ticket_id)
    assert count(engine, Ticket) == 1
    with session_factory(engine)() as s:
        event = s.scalars(select(Event).where(Event.kind == "bounce")).one()
    assert event.detail["recipients"] == ["alice@example.org"] and event.detail["status"] == "5.1.1"
    unknown = p.ingest(
        dsn.replace(b"<ack-9@example.com>", b"<other@x>").replace(b"<dsn1@mx>", b"<dsn2@mx>"),
        "test",
    )
    assert unknown.status == "quarantined" and "did not send" in unknown.detail


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty message"),
        (b"just some words\nand more\n", "no mail headers found"),
        (b"Subject: no sender\r\n\r\nbody\r\n", "no sender address"),
    ],
)
def test_unusable_input_is_quarantined_with_its_reason(
    engine: Engine, raw: bytes, reason: str
) -> None:
    p = make_pipeline(engine)
    out = p.ingest(raw, "pipe")
    assert out.status == "quarantined" and reason in out.detail
    with session_factory(engine)() as s:
        row = s.scalars(select(QuarantinedMessage)).one()
        assert row.raw == raw and reason in row.reason and row.source == "pipe"
    assert p.ingest(raw, "pipe").status == "duplicate"


CORPUS = [s for s in samples() if s.form == "message"]


@pytest.fixture(scope="module")
def corpus_engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    from maildesk.store.db import make_engine
    from maildesk.store.schema import upgrade

    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('corpus') / 'c.db'}")
    upgrade(engine)
    return engine


@pytest.mark.parametrize("sample", CORPUS, ids=ids(CORPUS))
def test_every_corpus_mail_is_stored_or_quarantined(corpus_engine: Engine, sample) -> None:  # type: ignore[no-untyped-def]
    need_corpus()
    out = make_pipeline(corpus_engine).ingest(sample.path.read_bytes(), "corpus")
    assert out.status in {"stored", "duplicate", "quarantined", "bounce"}
    assert "internal error" not in out.detail


def test_corpus_thread_pair_is_threaded(engine: Engine) -> None:
    need_corpus()
    [root] = [s for s in samples() if s.name == "phpimap__thread_my_topic.eml"]
    [reply] = [s for s in samples() if s.name == "phpimap__thread_re_my_topic.eml"]
    [other] = [s for s in samples() if s.name == "phpimap__thread_unrelated.eml"]
    p = make_pipeline(engine)
    first = p.ingest(root.path.read_bytes(), "corpus")
    second = p.ingest(reply.path.read_bytes(), "corpus")
    third = p.ingest(other.path.read_bytes(), "corpus")
    assert first.new_ticket and second.ticket_id == first.ticket_id and not second.new_ticket
    assert third.new_ticket and third.ticket_id != first.ticket_id


def test_replies_to_every_corpus_mail_thread_back(engine: Engine) -> None:
    """For each corpus mail that opens a ticket, a reply by References and one by token
    (behind Outlook-style prefixes) land in that ticket."""
    need_corpus()
    p = make_pipeline(engine)
    checked = 0
    # Two corpus mails share a Message-ID with different bodies: both are stored, and
    # a reference to that ID names the ticket of the first.
    tickets_of: dict[str, int] = {}
    for sample in CORPUS:
        first = p.ingest(sample.path.read_bytes(), "corpus")
        if not first.new_ticket or first.message_id is None:
            continue
        assert first.ticket_id is not None
        referenced = tickets_of.setdefault(first.message_id, first.ticket_id)
        with session_factory(engine)() as s:
            ticket = s.get(Ticket, first.ticket_id)
            assert ticket is not None and ticket.requester is not None
            sender = ticket.requester.address
        by_refs = mail(
            "Re: something else entirely",
            sender=sender,
            msgid=f"<r1-{checked}@test>",
            headers=f"References: <x@y> {first.message_id}\r\n",
        )
        by_token = mail(
            f"RE: AW: [#{first.ticket_id}] whatever", sender=sender, msgid=f"<r2-{checked}@test>"
        )
        assert p.ingest(by_refs, "test").ticket_id == referenced, sample.name
        assert p.ingest(by_token, "test").ticket_id == first.ticket_id, sample.name
        checked += 1
    assert checked > 100


def test_a_rule_reload_during_a_message_waits_for_the_next_one(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The daemon swaps the rules from another thread; a message in hand keeps the
    Desk it started with, so no stage of it sees the new rules and the next one does."""
    from dataclasses import replace

    from maildesk import pipeline as stages
    from maildesk.desk import Desk

    p = make_pipeline(engine)
    old = p.router
    new = replace(old, default_tier="L2")
    seen: list[object] = []
    real_open, real_announce = stages.open_ticket, stages.announce

    def open_and_reload(desk: Desk, *args: object) -> object:
        p.router = new  # a reload lands while this message is being handled
        return real_open(desk, *args)  # type: ignore[arg-type]

    def announce(desk: Desk, *args: object, **kwargs: object) -> None:
        seen.append(desk.router)
        real_announce(desk, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(stages, "open_ticket", open_and_reload)
    monkeypatch.setattr(stages, "announce", announce)
    p.ingest(mail(), "test")
    monkeypatch.setattr(stages, "open_ticket", real_open)
    p.ingest(mail("Another thing", msgid="<m9@example.org>"), "test")
    assert seen[0] is old and seen[1] is new
    assert p.router is new
