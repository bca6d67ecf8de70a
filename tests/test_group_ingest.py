"""ingest_many: several messages to a transaction, with the same results as one at a time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from maildesk import pipeline as stages
from maildesk.clock import FixedClock
from maildesk.desk import Desk
from maildesk.intake import Intake
from maildesk.outcome import Outcome
from maildesk.store.db import session_factory
from maildesk.store.models import Event, Message, OutboxMessage, Participant, QuarantinedMessage
from tests.support.mailout import settings_for
from tests.support.pipeline import T0, mail


def pipeline(engine: Engine, db_url: str, tmp_path: Path) -> Intake:
    settings = settings_for(tmp_path, db_url, {"spool_dir": "out"}, acknowledgements_per_hour=1)
    return Intake(settings, session_factory(engine), FixedClock(T0))


def alone_calls(p: Intake, monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The messages that went the one-at-a-time way (a group rolled back)."""
    calls: list[bytes] = []
    one = p._ingest

    def counted(read: Any, source: str, acknowledge: bool) -> Outcome:
        calls.append(read.raw)
        return one(read, source, acknowledge)

    monkeypatch.setattr(p, "_ingest", counted)
    return calls


def test_one_group_threads_dedupes_and_counts_like_one_at_a_time(
    engine: Engine, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = pipeline(engine, db_url, tmp_path)
    alone = alone_calls(p, monkeypatch)
    cc = "Cc: Bob <bob@example.org>\r\n"
    group = [
        mail(),  # a new customer's first ticket
        mail(),  # the same mail again
        mail(
            "Re: Printer on fire", msgid="<m2@x>", headers=f"In-Reply-To: <m1@example.org>\r\n{cc}"
        ),
        mail("Re: Printer on fire", msgid="<m3@x>", headers=f"References: <m2@x>\r\n{cc}"),
        mail("Another thing", msgid="<m4@x>"),  # the same customer, one hour limit of 1
    ]
    outcomes = list(p.ingest_many(group, "test"))
    assert alone == []  # all in one transaction
    assert [o.status for o in outcomes] == ["stored", "duplicate", "stored", "stored", "stored"]
    first = outcomes[0].ticket_id
    assert [o.ticket_id for o in outcomes[2:4]] == [first, first]
    assert outcomes[4].ticket_id not in (None, first)
    with session_factory(engine)() as s:
        assert len(s.scalars(select(Message)).all()) == 4
        people = {
            (x.address, x.role)
            for x in s.scalars(select(Participant).where(Participant.ticket_id == first))
        }
        acks = s.scalars(
            select(OutboxMessage.ticket_id).where(OutboxMessage.kind == "acknowledgement")
        ).all()
        suppressed = s.scalars(
            select(Event.ticket_id).where(Event.kind == "acknowledgement_suppressed")
        ).all()
    assert people == {("alice@example.org", "requester"), ("bob@example.org", "cc")}
    # The second ticket of a customer first seen in this same group is counted.
    assert (acks, suppressed) == ([first], [outcomes[4].ticket_id])


def test_a_failing_message_rolls_its_group_back_and_only_it_is_quarantined(
    engine: Engine, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = pipeline(engine, db_url, tmp_path)
    alone = alone_calls(p, monkeypatch)
    opened = stages.open_ticket

    def fragile(desk: Desk, session: Any, parsed: Any, *rest: Any) -> Any:
        if parsed.subject == "Boom":
            raise RuntimeError("a bug in the store stage")
        return opened(desk, session, parsed, *rest)

    monkeypatch.setattr(stages, "open_ticket", fragile)
    group = [mail(f"Q{n}", sender=f"c{n}@example.org", msgid=f"<q{n}@x>") for n in range(6)]
    group[3] = mail("Boom", msgid="<boom@x>")
    outcomes = list(p.ingest_many(group, "test"))
    assert [o.status for o in outcomes] == ["stored"] * 3 + ["quarantined"] + ["stored"] * 2
    assert "internal error: RuntimeError" in outcomes[3].detail
    # The group up to the failure went again one at a time; the rest formed a new group.
    assert list(dict.fromkeys(alone)) == group[:4]
    with session_factory(engine)() as s:
        assert len(s.scalars(select(Message)).all()) == 5
        held = s.scalars(select(QuarantinedMessage)).all()
        assert [q.message_id for q in held] == ["<boom@x>"]
        assert len(s.scalars(select(Event).where(Event.kind == "created")).all()) == 5


def test_unreadable_mail_in_a_group_is_quarantined_in_it(
    engine: Engine, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = pipeline(engine, db_url, tmp_path)
    alone = alone_calls(p, monkeypatch)
    group = [mail(), b"", b"", mail("Other", sender="bob@example.org", msgid="<m9@x>")]
    outcomes = list(p.ingest_many(group, "test"))
    assert [o.status for o in outcomes] == ["stored", "quarantined", "duplicate", "stored"]
    assert alone == []
