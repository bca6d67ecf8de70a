"""Known problems and incidents: #problem, #link, #broadcast, resolve-all, the alert.

Through the desk's intake and the real SMTP sink, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from maildesk.store.models import Event, SlaTimer, Ticket
from tests.support.pipeline import T0, mail
from tests.support.sinkdesk import Desk, agent
from tests.support.smtpsink import Sink


@pytest.fixture
def desk(engine: Engine, db_url: str, tmp_path: Path, smtp_sink: Sink) -> Desk:
    return Desk(engine, db_url, tmp_path, smtp_sink)


def customers(desk: Desk, count: int, subject: str = "VPN down") -> list[int]:
    """``count`` customers, c0@… to c{n}@…, each with a ticket."""
    numbers = [
        desk.send(
            mail(
                f"{subject} ({n})",
                sender=f"C{n} <c{n}@example.org>",
                msgid=f"<c{n}@x>",
                body=f"Since {n} minutes.",
            )
        )
        for n in range(count)
    ]
    desk.sink.messages.clear()
    return numbers


def test_problem_links_and_broadcast(desk: Desk) -> None:
    problem, *incidents = customers(desk, 4)
    desk.send(agent(problem, f"#problem {incidents[0]} {incidents[1]}\n", "<b1@x>"))
    desk.send(agent(incidents[2], f"#incident-of [#{problem}]\n", "<b2@x>"))
    with desk.sessions() as s:
        assert s.get(Ticket, problem).problem  # type: ignore[union-attr]
        linked = s.scalars(select(Ticket.id).where(Ticket.incident_of == problem)).all()
        assert sorted(linked) == sorted(incidents)
    desk.sink.messages.clear()
    desk.send(agent(problem, "#broadcast\n", "<b3@x>", "A fix is on its way."))
    for n, number in enumerate([problem, *incidents]):
        [got] = desk.to(f"c{n}@example.org")
        assert "A fix is on its way." in got.get_body(("plain",)).get_content()
        assert f"[#{number}]" in str(got["Subject"])  # in the customer's own ticket
        assert got["In-Reply-To"] == f"<c{n}@x>"
    with desk.sessions() as s:
        for number in incidents:
            ticket = s.get(Ticket, number)
            assert ticket is not None and ticket.first_response_at == T0
        events = s.scalars(select(Event.ticket_id).where(Event.kind == "broadcast")).all()
        assert sorted(events) == sorted(incidents)


def test_resolving_the_problem_resolves_its_open_incidents(desk: Desk) -> None:
    problem, first, second, closed = customers(desk, 4)
    desk.send(agent(problem, f"#problem {first} {second} {closed}\n", "<b1@x>"))
    desk.send(agent(closed, "#status closed\n", "<b2@x>"))
    desk.sink.messages.clear()
    desk.clock.advance(timedelta(minutes=30))
    desk.send(agent(problem, "#status resolved\n", "<b3@x>", "Fixed: the VPN is back."))
    with desk.sessions() as s:
        for number in (first, second):
            ticket = s.get(Ticket, number)
            assert ticket is not None
            assert (ticket.status, ticket.resolution) == ("resolved", "problem")
            running = s.scalars(
                select(SlaTimer).where(SlaTimer.ticket_id == number, SlaTimer.state == "pending")
            ).all()
            assert running == []
        still = s.get(Ticket, closed)
        assert still is not None and still.status == "closed"  # closed stays closed
    for n in (1, 2):
        [notice] = desk.to(f"c{n}@example.org")
        assert "solved now" in notice.get_body(("plain",)).get_content()
    assert desk.to("c3@example.org") == []


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("#link 999", "there is no ticket [#999]"),
        ("#link {self}", "this is ticket [#{self}] itself"),
        ("#link {incident}", "is itself an incident of"),
        ("#broadcast", "this ticket is no known problem"),
        ("#link", "link needs the number of the problem ticket"),
        ("#problem 999", "there is no ticket [#999]"),
    ],
)
def test_a_wrong_problem_command_changes_nothing_and_says_why(
    desk: Desk, line: str, problem: str
) -> None:
    known, incident, mine = customers(desk, 3)
    desk.send(agent(known, f"#problem {incident}\n", "<b1@x>"))
    desk.sink.messages.clear()
    line = line.format(self=mine, incident=incident)
    desk.send(agent(mine, f"{line}\n", "<b2@x>", "Some text."))
    [error] = desk.to("bob@example.com", "not sent")
    assert problem.format(self=mine) in error.get_body(("plain",)).get_content()
    assert desk.to("c2@example.org") == []
    with desk.sessions() as s:
        ticket = s.get(Ticket, mine)
        assert ticket is not None and ticket.incident_of is None and not ticket.problem


def test_many_tickets_about_one_thing_propose_a_problem_once(
    engine: Engine, db_url: str, tmp_path: Path, smtp_sink: Sink
) -> None:
    desk = Desk(engine, db_url, tmp_path, smtp_sink)
    tier = desk.intake.settings.tiers[0].model_copy(update={"lead": "lead@example.com"})
    from maildesk.intake import Intake

    settings = desk.intake.settings.model_copy(update={"tiers": (tier,)})
    desk.intake = Intake(settings, desk.sessions, desk.clock)
    subjects = [
        "Printer on floor 3 not printing",
        "printers on floor 3 NOT printing!",
        "Re: Printer floor 3 not printing",
        "Floor 3 printer not printing",
        "not printing: printer floor 3",
        "Printer floor 3 printing not",
    ]
    numbers = []
    for n, subject in enumerate(subjects):
        desk.clock.advance(timedelta(minutes=5))
        raw = mail(subject, sender=f"c{n}@example.org", msgid=f"<p{n}@x>", body=f"Room {n}.")
        numbers.append(desk.send(raw))
    desk.send(mail("VPN down", sender="v@example.org", msgid="<v@x>"))
    [alert] = desk.to("lead@example.com")
    text = alert.get_body(("plain",)).get_content()
    assert f"[#{numbers[0]}]" in str(alert["Subject"])
    command = "#problem " + " ".join(str(n) for n in numbers[1:5])
    assert command in text and f"[#{numbers[5]}]" not in text
    # The lead answers the alert with the line it proposes.
    reply = (
        f"From: Lead <lead@example.com>\r\nTo: support@example.com\r\n"
        f"Subject: Re: {alert['Subject']}\r\nMessage-ID: <l1@x>\r\n"
        f"In-Reply-To: {alert['Message-ID']}\r\n\r\n{command}\r\n"
    ).encode()
    settings = desk.intake.settings
    agents = (*settings.tiers[0].agents, "lead@example.com")
    tier = settings.tiers[0].model_copy(update={"agents": agents})
    desk.intake = Intake(settings.model_copy(update={"tiers": (tier,)}), desk.sessions, desk.clock)
    assert desk.intake.ingest(reply, "test").ticket_id == numbers[0]
    with desk.sessions() as s:
        linked = s.scalars(select(Ticket.id).where(Ticket.incident_of == numbers[0])).all()
        assert sorted(linked) == numbers[1:5]
