"""Self-served tickets and satisfaction surveys, from the customer's short replies."""

from __future__ import annotations

import email
import email.policy
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from maildesk.clock import FixedClock
from maildesk.config import settings_from_mapping
from maildesk.config.model import SelfService
from maildesk.daemon import Daemon
from maildesk.feedback.replies import self_served_phrase, survey_score
from maildesk.intake import Intake
from maildesk.starter import starter_dir
from maildesk.store.db import session_factory
from maildesk.store.models import Event, OutboxMessage, SlaTimer, Survey, Ticket
from tests.support.agent import agent_reply
from tests.support.dovecot import Account, Dovecot
from tests.support.pipeline import T0, mail
from tests.support.smtpsink import Sink

PHRASES = SelfService().phrases


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("Solved, thanks!", "solved"),
        ("Thanks, that helped!\n\nAlice", "thanks, that helped"),
        ("Спасибо, помогло", "спасибо, помогло"),
        ("Решено.", "решено"),
        ("Вопрос решён", "вопрос решен"),
        ("Not solved", None),
        ("solved?", None),
        ("Не помогло", None),
        ("I solved it", None),  # must start with the phrase
        ("Solved it, but " + "now another thing is broken " * 6, None),  # too long
    ],
)
def test_self_served_phrases(text: str, phrase: str | None) -> None:
    assert self_served_phrase(text, PHRASES, 30) == phrase


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("5", (5, "")),
        ("4/5", (4, "")),
        ("3 из 5", (3, "")),
        ("2 - took three days\nand nobody called", (2, "took three days\nand nobody called")),
        ("5 great", (5, "great")),
        ("good", (5, "")),
        ("Bad, too slow", (1, "too slow")),
        ("хорошо", (5, "")),
        ("плохо", (1, "")),
        ("1 more thing: the printer", None),
        ("12 printers are broken", None),
        ("2.5", None),
        ("The printer works again", None),
        ("", None),
    ],
)
def test_survey_scores(text: str, answer: tuple[int, str] | None) -> None:
    assert survey_score(text) == answer


class Desk:
    def __init__(
        self, tmp_path: Path, db_url: str, engine: Engine, smtp: dict[str, Any], **extra: Any
    ) -> None:
        for name in ("templates", "kb"):
            shutil.copytree(starter_dir(name), tmp_path / name, dirs_exist_ok=True)
        (tmp_path / "rules").mkdir(exist_ok=True)
        (tmp_path / "rules" / "00.yaml").write_text(
            "- name: all\n  then: {tier: L1, sla: normal}\n"
            "- name: no survey for partners\n  when: {sender_domain: partner.example}\n"
            "  then: {survey: false}\n"
        )
        self.settings = settings_from_mapping(
            {
                "helpdesk": {"address": "support@example.com", "name": "Example Support"},
                "database": {"url": db_url},
                "smtp": smtp,
                "tiers": [
                    {"name": "L1", "agents": ["bob@example.com"], "lead": "lead@example.com"}
                ],
                "sla_policies": [{"name": "normal", "first_response": "2h", "resolution": "4h"}],
                **extra,
            },
            name="maildesk.toml",
            base=tmp_path,
        )
        self.engine = engine
        self.sessions = session_factory(engine)
        self.clock = FixedClock(T0)
        self.pipeline = Intake(self.settings, self.sessions, self.clock)
        self.daemon = Daemon(self.settings, self.pipeline)

    def ingest(self, raw: bytes, after: timedelta = timedelta(0)) -> int:
        self.clock._at = T0 + after
        outcome = self.pipeline.ingest(raw, "test")
        assert outcome.ticket_id is not None, outcome
        return outcome.ticket_id

    def ticket(self, n: int) -> Ticket:
        with self.sessions() as s:
            found = s.get(Ticket, n)
            assert found is not None
            return found

    def kinds(self, n: int) -> list[str]:
        with self.sessions() as s:
            return list(
                s.scalars(
                    select(OutboxMessage.kind)
                    .where(OutboxMessage.ticket_id == n)
                    .order_by(OutboxMessage.id)
                )
            )

    def survey(self, n: int) -> Survey | None:
        with self.sessions() as s:
            return s.scalar(select(Survey).where(Survey.ticket_id == n))


@pytest.fixture
def desk(tmp_path: Path, db_url: str, engine: Engine) -> Desk:
    return Desk(tmp_path, db_url, engine, {"spool_dir": "out"})


def test_solved_closes_a_ticket_no_agent_answered(desk: Desk) -> None:
    n = desk.ingest(mail("Forgot password", body="I cannot sign in, I forgot my password."))
    desk.ingest(
        mail(
            f"Re: [#{n}] Forgot password",
            msgid="<m2@example.org>",
            body="Solved, thanks!\n\n> These articles may already answer your question",
        ),
        timedelta(minutes=10),
    )
    ticket = desk.ticket(n)
    assert (ticket.status, ticket.resolution) == ("resolved", "self_served")
    assert ticket.resolved_at == T0 + timedelta(minutes=10)
    # Nobody needs to hear of it: no customer_reply mail; the clocks stop; the survey waits.
    assert desk.kinds(n) == ["acknowledgement", "notification"]
    with desk.sessions() as s:
        states = set(s.scalars(select(SlaTimer.state).where(SlaTimer.ticket_id == n)))
        assert states == {"cancelled"}
        [event] = s.scalars(select(Event).where(Event.ticket_id == n, Event.kind == "status")).all()
        assert event.detail["why"] == 'self-served: the customer said "solved"'
    survey = desk.survey(n)
    assert survey is not None and survey.state == "scheduled"


def test_solved_is_no_thumbs_up_once_an_agent_answered_or_when_negated(desk: Desk) -> None:
    n = desk.ingest(mail())
    desk.ingest(mail(f"Re: [#{n}] x", msgid="<m2@example.org>", body="Not solved, sorry."))
    assert desk.ticket(n).status == "new"
    desk.ingest(agent_reply(n, "thunderbird"), timedelta(minutes=5))
    desk.ingest(
        mail(f"Re: [#{n}] x", msgid="<m3@example.org>", body="Solved!"), timedelta(minutes=20)
    )
    assert desk.ticket(n).status == "open" and desk.ticket(n).resolution is None


def test_survey_after_resolution_records_the_score_and_tells_the_lead(desk: Desk) -> None:
    n = desk.ingest(mail())
    desk.ingest(agent_reply(n, "thunderbird", "#status resolved\n"), timedelta(minutes=30))
    survey = desk.survey(n)
    assert survey is not None and survey.due_at == T0 + timedelta(minutes=90)  # delay 1h
    assert desk.daemon.surveys.tick(T0 + timedelta(minutes=80)) == []
    [would] = desk.daemon.surveys.tick(T0 + timedelta(minutes=90), dry_run=True)
    assert would.kind == "survey" and desk.kinds(n)[-1] == "status"  # nothing queued
    survey = desk.survey(n)
    assert survey is not None and survey.state == "scheduled"
    [sent] = desk.daemon.surveys.tick(T0 + timedelta(minutes=90))
    assert (sent.kind, sent.to) == ("survey", ("alice@example.org",))
    assert desk.daemon.surveys.tick(T0 + timedelta(hours=5)) == []  # once
    survey = desk.survey(n)
    assert survey is not None and survey.state == "sent" and survey.message_id
    desk.clock._at = T0 + timedelta(hours=3)
    answered = desk.pipeline.ingest(
        mail(
            f"Re: [#{n}] How did we do? Printer on fire",
            msgid="<m2@example.org>",
            headers=f"In-Reply-To: {survey.message_id}\r\n",
            body="2 - it took too long\n\n> How satisfied are you with our help?",
        ),
        "test",
    )
    ticket = desk.ticket(n)
    assert ticket.status == "resolved"  # an answer does not reopen
    # ... and the log says so (it said "reopens the resolved ticket").
    assert answered.detail.endswith("the ticket stays resolved (a survey answer)")
    survey = desk.survey(n)
    assert survey is not None
    assert (survey.state, survey.score, survey.comment) == ("answered", 2, "it took too long")
    assert desk.kinds(n)[-2:] == ["survey", "survey_low"]
    with desk.sessions() as s:
        low = s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "survey_low")).one()
        assert low.recipients == ["lead@example.com"]
        text = email.message_from_bytes(low.raw, policy=email.policy.default)
        assert "rated the help" in str(text.get_body(("plain",)).get_content())  # type: ignore[union-attr]
    # A change of mind replaces the score; it is still one survey.
    desk.ingest(mail(f"Re: [#{n}] x", msgid="<m3@example.org>", body="5"), timedelta(hours=4))
    survey = desk.survey(n)
    assert survey is not None and survey.score == 5
    # A reply that is no score reopens as before, and resolving again sends no second survey.
    desk.ingest(
        mail(f"Re: [#{n}] x", msgid="<m4@example.org>", body="It broke again."), timedelta(hours=5)
    )
    assert desk.ticket(n).status == "open"
    desk.ingest(agent_reply(n, "thunderbird", "#status resolved\n", "<bob9@x>"), timedelta(hours=6))
    assert desk.daemon.surveys.tick(T0 + timedelta(days=1)) == []
    assert desk.kinds(n).count("survey") == 1


def test_reopened_before_the_survey_went_out_cancels_it(desk: Desk) -> None:
    n = desk.ingest(mail())
    desk.ingest(agent_reply(n, "thunderbird", "#status resolved\n"), timedelta(minutes=10))
    desk.ingest(
        mail(f"Re: [#{n}] x", msgid="<m2@example.org>", body="Still burning!"),
        timedelta(minutes=20),
    )
    survey = desk.survey(n)
    assert survey is not None and survey.state == "cancelled"
    assert desk.daemon.surveys.tick(T0 + timedelta(days=1)) == []
    desk.ingest(agent_reply(n, "thunderbird", "#close\n", "<bob2@x>"), timedelta(hours=2))
    [sent] = desk.daemon.surveys.tick(T0 + timedelta(hours=3))
    assert sent.kind == "survey"


def test_a_rule_can_opt_out_and_so_can_the_config(
    desk: Desk, tmp_path: Path, db_url: str, engine: Engine
) -> None:
    n = desk.ingest(mail(sender="Pat <pat@partner.example>"))
    desk.ingest(agent_reply(n, "thunderbird", "#status resolved\n"), timedelta(minutes=10))
    assert desk.survey(n) is None
    off = Desk(tmp_path / "off", db_url, engine, {"spool_dir": "out"}, survey={"enabled": False})
    m = off.ingest(mail(msgid="<x1@example.org>"))
    off.ingest(agent_reply(m, "thunderbird", "#status resolved\n", "<bob3@x>"), timedelta(hours=1))
    assert off.survey(m) is None


def open_mailbox(dovecot: Dovecot, account: Account) -> dict[str, Any]:
    return {
        "name": "support",
        "host": "127.0.0.1",
        "port": dovecot.imap_port,
        "security": "none",
        "username": account.username,
        "password": account.password,
        "poll_interval": 1,
    }


def test_end_to_end_question_to_self_served_close_and_resolution_to_score(
    tmp_path: Path,
    db_url: str,
    engine: Engine,
    dovecot: Dovecot,
    imap_account: Account,
    smtp_sink: Sink,
) -> None:
    """Real Dovecot and SMTP: the customer reads the suggestion, replies "solved"; another
    customer's resolved ticket gets a survey and the reply's score is recorded."""
    desk = Desk(
        tmp_path,
        db_url,
        engine,
        {"host": "127.0.0.1", "port": smtp_sink.port, "security": "none"},
        mailboxes=[open_mailbox(dovecot, imap_account)],
        survey={"delay": "0m"},
    )

    def deliver(raw: bytes) -> None:
        client = dovecot.client(imap_account)
        client.append("INBOX", raw)
        client.logout()
        desk.daemon.run_once()

    def received(to: str) -> list[email.message.EmailMessage]:
        return [
            email.message_from_bytes(m.data, policy=email.policy.default)  # type: ignore[misc]
            for m in smtp_sink.messages
            if m.rcpt_tos == [to]
        ]

    deliver(mail("Forgot my password", body="I forgot my password and cannot sign in."))
    [ack] = received("alice@example.org")
    body = str(ack.get_body(("plain",)).get_content())  # type: ignore[union-attr]
    assert "https://help.example.com/en/reset-password" in body
    deliver(
        mail(
            f"Re: {ack['Subject']}",
            msgid="<m2@example.org>",
            headers=f"In-Reply-To: {ack['Message-ID']}\r\n",
            body=f"Thanks, that helped!\r\n\r\n> {body.splitlines()[0]}",
        )
    )
    assert (desk.ticket(1).status, desk.ticket(1).resolution) == ("resolved", "self_served")

    deliver(mail("Printer on fire", sender="Carl <carl@example.org>", msgid="<c1@example.org>"))
    deliver(agent_reply(2, "thunderbird", "#status resolved\n", "<bob5@example.com>"))
    surveys = [m for m in received("carl@example.org") if "How did we do?" in str(m["Subject"])]
    assert len(surveys) == 1
    deliver(
        mail(
            f"Re: {surveys[0]['Subject']}",
            sender="Carl <carl@example.org>",
            msgid="<c2@example.org>",
            headers=f"In-Reply-To: {surveys[0]['Message-ID']}\r\n",
            body="4\r\nQuick and friendly.",
        )
    )
    survey = desk.survey(2)
    assert survey is not None and (survey.score, survey.comment) == (4, "Quick and friendly.")
    assert desk.ticket(2).status == "resolved"
    # Alice's self-served ticket got its survey too (delay 0m).
    assert any("How did we do?" in str(m["Subject"]) for m in received("alice@example.org"))
