"""#merge and `maildesk tickets merge`: two tickets become one, on SQLite and PostgreSQL.

Mail goes through the desk's intake and out through the real SMTP sink; one
test runs the whole way through Dovecot and `maildesk run --once`.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from maildesk.store.db import make_engine, session_factory
from maildesk.store.models import Event, Message, OutboxMessage, Participant, SlaTimer, Ticket
from tests.support.desks import Run
from tests.support.dovecot import Account, Dovecot
from tests.support.pipeline import T0, mail
from tests.support.processes import maildesk
from tests.support.sinkdesk import Desk, agent, imap_desk, parsed
from tests.support.smtpsink import Sink
from tests.support.sources import append


@pytest.fixture
def desk(engine: Engine, db_url: str, tmp_path: Path, smtp_sink: Sink) -> Desk:
    return Desk(engine, db_url, tmp_path, smtp_sink)


def two_tickets(desk: Desk) -> tuple[int, int]:
    """Alice's first ticket at 9:00, her duplicate an hour later with Carol on Cc."""
    first = desk.send(mail("Printer on fire", msgid="<a1@example.org>"))
    desk.clock.advance(timedelta(hours=1))
    again = desk.send(
        mail(
            "Printer STILL on fire",
            msgid="<a2@example.org>",
            headers="Cc: Carol <carol@example.org>\r\n",
            body="Nobody answered.",
        )
    )
    desk.sink.messages.clear()
    return first, again


def test_merge_folds_the_later_ticket_into_the_earlier(desk: Desk, engine: Engine) -> None:
    first, again = two_tickets(desk)
    with desk.sessions.begin() as s:
        s.get(Ticket, again).tags = ["printer"]  # type: ignore[union-attr]
        s.get(Ticket, again).priority = "high"  # type: ignore[union-attr]
    desk.send(agent(again, f"#merge {first}\n", "<bob1@example.com>"))
    with desk.sessions() as s:
        source, target = s.get(Ticket, again), s.get(Ticket, first)
        assert source is not None and target is not None
        assert (source.status, source.resolution, source.merged_into) == (
            "closed",
            "merged",
            first,
        )
        assert target.status == "new" and target.tags == ["printer"]
        assert target.priority == "high"  # the more urgent stays
        ids = s.scalars(select(Message.message_id).where(Message.ticket_id == first)).all()
        assert sorted(i or "" for i in ids) == [
            "<a1@example.org>",
            "<a2@example.org>",
            "<bob1@example.com>",
        ]
        people = s.scalars(select(Participant.address).where(Participant.ticket_id == first))
        assert sorted(people) == ["alice@example.org", "bob@example.com", "carol@example.org"]
        assert s.scalars(select(Participant).where(Participant.ticket_id == again)).all() == []
        # The earlier deadline was the first ticket's own: it stays, the other's is gone.
        assert target.first_response_due == T0 + timedelta(hours=2)
        running = s.scalars(
            select(SlaTimer.ticket_id).where(SlaTimer.state == "pending", SlaTimer.kind == "breach")
        ).all()
        assert sorted(running) == [first, first]  # first response and resolution, once each
        kinds = [e.kind for e in s.scalars(select(Event).where(Event.ticket_id == again))]
        assert kinds == ["merged"]
        merged_from = s.scalars(
            select(Event.detail).where(Event.ticket_id == first, Event.kind == "merged_from")
        ).one()
        assert merged_from == {"ticket": again, "messages": 2}
    # Alice is told once, under the surviving token, threaded under her last mail.
    [notice] = desk.to("alice@example.org")
    assert f"[#{first}]" in str(notice["Subject"]) and f"[#{again}]" not in str(notice["Subject"])
    assert notice["In-Reply-To"] == "<a2@example.org>"
    assert (
        f"[#{again}]" in notice.get_body(("plain",)).get_content()
        and "joined the two" in notice.get_body(("plain",)).get_content()
    )
    assert desk.to("carol@example.org") == []  # told once: the customer, not every Cc


def test_the_earlier_deadline_wins(desk: Desk) -> None:
    """The ticket merged away was promised sooner: its deadline and reminders move over."""
    first, again = two_tickets(desk)
    desk.send(agent(first, f"#merge {again}\n", "<bob1@example.com>"))
    with desk.sessions() as s:
        target = s.get(Ticket, again)
        assert target is not None and target.first_response_due == T0 + timedelta(hours=2)
        breach = s.scalars(
            select(SlaTimer).where(
                SlaTimer.ticket_id == again,
                SlaTimer.target == "first_response",
                SlaTimer.kind == "breach",
                SlaTimer.state == "pending",
            )
        ).one()
        assert breach.due_at == T0 + timedelta(hours=2)
        left = s.scalars(select(SlaTimer.state).where(SlaTimer.ticket_id == first).distinct()).all()
        assert left == []  # moved, not copied


def test_later_mail_to_either_token_lands_in_the_survivor(desk: Desk) -> None:
    first, again = two_tickets(desk)
    desk.send(agent(again, f"#merge [#{first}]\n", "<bob1@example.com>"))
    by_token = desk.intake.ingest(
        mail(f"Re: [#{again}] Printer STILL on fire", msgid="<a3@example.org>"), "test"
    )
    assert by_token.ticket_id == first and f"merged into #{first}" in by_token.detail
    [notice] = desk.to("alice@example.org")
    by_reply = desk.intake.ingest(
        mail(
            "Re: your request",
            msgid="<a4@example.org>",
            headers=f"In-Reply-To: {notice['Message-ID']}\r\n",
        ),
        "test",
    )
    assert by_reply.ticket_id == first
    # Carol, on the merged ticket's Cc, may still write: she is on the survivor now.
    carol = desk.intake.ingest(
        mail(
            f"Re: [#{again}] Printer STILL on fire",
            sender="Carol <carol@example.org>",
            msgid="<c1@example.org>",
        ),
        "test",
    )
    assert (carol.status, carol.ticket_id) == ("stored", first)


def test_a_merge_with_text_answers_first(desk: Desk) -> None:
    first, again = two_tickets(desk)
    desk.send(agent(again, f"#merge {first}\n", "<bob1@example.com>", "We are on it."))
    relayed = [
        m
        for m in desk.to("alice@example.org")
        if "We are on it." in m.get_body(("plain",)).get_content()
    ]
    assert len(relayed) == 1 and len(desk.to("alice@example.org")) == 2  # answer, notice


@pytest.mark.parametrize(
    ("target", "problem"),
    [
        ("999", "there is no ticket [#999]"),
        ("self", "is ticket [#{again}] itself"),
        ("merged", "was merged into [#{first}]: merge into that one"),
        ("abc", "merge needs the number of the ticket to merge into"),
    ],
)
def test_a_wrong_merge_changes_nothing_and_says_why(desk: Desk, target: str, problem: str) -> None:
    first, again = two_tickets(desk)
    third = desk.send(mail("Something else", msgid="<a5@example.org>"))
    if target == "merged":
        desk.send(agent(third, f"#merge {first}\n", "<bob0@example.com>"))
        target = str(third)
    number = {"self": str(again)}.get(target, target)
    desk.sink.messages.clear()
    desk.send(agent(again, f"#merge {number}\n", "<bob1@example.com>", "Text."))
    [error] = desk.to("bob@example.com", "not")
    assert problem.format(first=first, again=again) in error.get_body(("plain",)).get_content()
    assert desk.to("alice@example.org") == []  # no answer relayed, no notice
    with desk.sessions() as s:
        ticket = s.get(Ticket, again)
        assert ticket is not None and ticket.merged_into is None and ticket.status == "new"


def test_merging_into_a_closed_ticket_opens_it(desk: Desk) -> None:
    first, again = two_tickets(desk)
    desk.send(agent(first, "#status closed\n", "<bob0@example.com>"))
    desk.send(agent(again, f"#merge {first}\n", "<bob1@example.com>"))
    with desk.sessions() as s:
        target = s.get(Ticket, first)
        assert target is not None and target.status == "open" and target.closed_at is None


def test_the_cli_merges_and_refuses_with_the_reason(
    desk: Desk, run: Run, tmp_path: Path, db_url: str
) -> None:
    first, again = two_tickets(desk)
    config = tmp_path / "maildesk.toml"
    config.write_text(
        f'[helpdesk]\naddress = "support@example.com"\nname = "Example Support"\n'
        f'[database]\nurl = "{db_url}"\n[smtp]\nspool_dir = "out"\n'
        '[[tiers]]\nname = "L1"\nagents = ["bob@example.com"]\n'
        '[[sla_policies]]\nname = "normal"\nfirst_response = "2h"\n'
    )
    code, out, err = run("-c", str(config), "tickets", "merge", str(first), "--into", str(first))
    assert code == 2 and f"[#{first}] itself" in err
    code, out, err = run(
        "-c", str(config), "tickets", "merge", f"[#{again}]", "--into", str(first), "--json"
    )
    assert code == 0, err
    assert '"messages": 1' in out  # her one mail; no agent wrote there
    with desk.sessions() as s:
        ticket = s.get(Ticket, again)
        assert ticket is not None and ticket.merged_into == first
        queued = s.scalars(select(OutboxMessage.kind).where(OutboxMessage.kind == "merged"))
        assert list(queued) == ["merged"]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_merge_by_mail_through_dovecot_and_a_daemon(
    tmp_path: Path,
    db_url: str,
    dovecot: Dovecot,
    imap_account: Account,
    smtp_sink: Sink,
) -> None:
    """The whole way: customers' mail and the agent's #merge through IMAP, `maildesk run
    --once` each time, the notice through the relay, the customer's next reply."""
    config = imap_desk(
        tmp_path,
        db_url,
        dovecot,
        imap_account,
        smtp_sink,
        tiers='[[tiers]]\nname = "L1"\nagents = ["bob@example.com"]\n',
    )

    def once() -> None:
        assert maildesk(config, "run", "--once").wait(120) == 0

    append(dovecot, imap_account, [mail("Printer", msgid="<a1@example.org>")])
    once()
    append(dovecot, imap_account, [mail("Printer again", msgid="<a2@example.org>")])
    once()
    acks = [parsed(m.data) for m in smtp_sink.messages if m.rcpt_tos == ["alice@example.org"]]
    first, again = sorted(int(str(a["Subject"]).split("#")[1].split("]")[0]) for a in acks)
    smtp_sink.messages.clear()
    append(dovecot, imap_account, [agent(again, f"#merge {first}\n", "<bob1@example.com>")])
    once()
    to_alice = [parsed(m.data) for m in smtp_sink.messages if m.rcpt_tos == ["alice@example.org"]]
    assert [f"[#{first}]" in str(m["Subject"]) for m in to_alice] == [True]
    append(dovecot, imap_account, [mail(f"Re: [#{again}] x", msgid="<a3@example.org>")])
    once()
    once()  # nothing new: nothing is sent twice
    to_alice = [parsed(m.data) for m in smtp_sink.messages if m.rcpt_tos == ["alice@example.org"]]
    assert len(to_alice) == 1
    engine = make_engine(db_url)
    try:
        with session_factory(engine)() as s:
            where = s.scalar(
                select(Message.ticket_id).where(Message.message_id == "<a3@example.org>")
            )
            assert where == first
    finally:
        engine.dispose()
