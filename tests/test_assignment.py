"""Who takes a new ticket: round robin, least open, hours, absence, on call.

Tier L1 has bob, carol and dave; business hours 09:00-18:00 UTC Monday to
Friday. Through the desk's intake and the real SMTP sink, on SQLite and
PostgreSQL; `maildesk agents` through the CLI.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from maildesk.clock import FixedClock
from maildesk.config.model import AgentHours
from maildesk.intake import Intake
from maildesk.outbox.sender import Sender
from maildesk.store.models import Event, Ticket
from tests.support.desks import Run
from tests.support.pipeline import mail
from tests.support.sinkdesk import Desk
from tests.support.smtpsink import Sink

FRIDAY_10 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
SATURDAY_3 = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)
AGENTS = ("bob@example.com", "carol@example.com", "dave@example.com")


class Team(Desk):
    def __init__(
        self,
        engine: Engine,
        db_url: str,
        tmp_path: Path,
        sink: Sink,
        *,
        agents: tuple[AgentHours, ...] = (),
        rules: str = "- name: all\n  then: {sla: normal}\n",
        **tier: Any,
    ) -> None:
        super().__init__(engine, db_url, tmp_path, sink)
        (tmp_path / "rules" / "00.yaml").write_text(rules)
        settings = self.intake.settings
        l1 = settings.tiers[0].model_copy(update={"agents": AGENTS, **tier})
        settings = settings.model_copy(update={"tiers": (l1,), "agents": agents})
        self.settings = settings
        self.clock = FixedClock(FRIDAY_10)
        self.intake = Intake(settings, self.sessions, self.clock)
        self.sender = Sender(settings, self.sessions, self.clock)

    def ticket(self, n: int, subject: str = "Printer") -> tuple[int, str | None]:
        number = self.send(
            mail(f"{subject} {n}", sender=f"c{n}@example.org", msgid=f"<q{n}@x>", body=f"Q{n}")
        )
        with self.sessions() as s:
            found = s.get(Ticket, number)
            assert found is not None
            return number, found.assignee

    def notified(self, number: int) -> list[str]:
        return sorted(
            to
            for m in self.sink.messages
            for to in m.rcpt_tos
            if f"[#{number}]" in m.data.decode(errors="replace") and to in AGENTS
        )


def test_round_robin_takes_turns_and_tells_only_the_assignee(
    engine: Engine, db_url: str, tmp_path: Path, smtp_sink: Sink
) -> None:
    team = Team(engine, db_url, tmp_path, smtp_sink, assign="round_robin")
    got = [team.ticket(n) for n in range(4)]
    assert [a for _, a in got] == [*AGENTS, AGENTS[0]]
    for number, assignee in got:
        assert team.notified(number) == [assignee]  # not the whole tier
    with team.sessions() as s:
        how = s.scalars(select(Event.detail).where(Event.kind == "assignee")).all()
        assert [d["how"] for d in how] == ["round robin"] * 4


def test_least_open_picks_the_least_busy(
    engine: Engine, db_url: str, tmp_path: Path, smtp_sink: Sink
) -> None:
    team = Team(engine, db_url, tmp_path, smtp_sink, assign="least_open")
    assert [team.ticket(n)[1] for n in range(3)] == list(AGENTS)
    first, _ = team.ticket(9)  # a tie again: bob, the first
    with team.sessions.begin() as s:
        s.get(Ticket, first).status = "resolved"  # type: ignore[union-attr]
    assert team.ticket(10)[1] == "bob@example.com"  # bob has 1 open, the others 1
    with team.sessions.begin() as s:
        for ticket in s.scalars(select(Ticket).where(Ticket.assignee == "carol@example.com")):
            ticket.status = "closed"
    assert team.ticket(11)[1] == "carol@example.com"


def test_own_hours_and_absence(
    engine: Engine, db_url: str, tmp_path: Path, smtp_sink: Sink, run: Run
) -> None:
    mornings = AgentHours(address="bob@example.com", hours=("08:00-09:30",))
    team = Team(engine, db_url, tmp_path, smtp_sink, assign="round_robin", agents=(mornings,))
    assert [team.ticket(n)[1] for n in range(3)] == [AGENTS[1], AGENTS[2], AGENTS[1]]
    # dave's out-of-office comes in on his ticket: away for a day.
    number, _ = team.ticket(3)  # dave's turn
    auto = (
        f"From: Dave <dave@example.com>\r\nTo: support@example.com\r\n"
        f"Subject: Automatic reply: [#{number}] Printer\r\nMessage-ID: <ooo@x>\r\n"
        "Auto-Submitted: auto-replied\r\n\r\nI am out of the office.\r\n"
    ).encode()
    team.intake.ingest(auto, "test")
    assert [team.ticket(n)[1] for n in range(4, 6)] == [AGENTS[1], AGENTS[1]]
    # Nobody at work: nobody is picked and the tier hears of it.
    team.clock._at = SATURDAY_3
    number, assignee = team.ticket(6)
    assert assignee is None and team.notified(number) == list(AGENTS)


def test_urgent_at_night_goes_to_the_on_call_agent(
    engine: Engine, db_url: str, tmp_path: Path, smtp_sink: Sink
) -> None:
    rules = "- name: urgent\n  when: {subject: {contains: outage}}\n  then: {priority: urgent}\n"
    team = Team(
        engine, db_url, tmp_path, smtp_sink, rules=rules, on_call="carol@example.com"
    )  # assign stays manual: by day the tier shares the mail
    team.clock._at = SATURDAY_3
    number, assignee = team.ticket(1, "Mail outage")
    assert assignee == "carol@example.com" and team.notified(number) == ["carol@example.com"]
    number, assignee = team.ticket(2, "Printer")  # not urgent: it waits for Monday
    assert assignee is None and team.notified(number) == list(AGENTS)
    team.clock._at = FRIDAY_10
    number, assignee = team.ticket(3, "Mail outage")  # by day: manual
    assert assignee is None


def test_agents_away_and_back_by_cli(
    engine: Engine, db_url: str, tmp_path: Path, smtp_sink: Sink, run: Run
) -> None:
    team = Team(engine, db_url, tmp_path, smtp_sink, assign="round_robin")
    config = tmp_path / "maildesk.toml"
    config.write_text(
        f'[helpdesk]\naddress = "support@example.com"\n[database]\nurl = "{db_url}"\n'
        '[smtp]\nspool_dir = "out"\n'
        '[[tiers]]\nname = "L1"\nagents = ["bob@example.com", "carol@example.com", '
        '"dave@example.com"]\nassign = "round_robin"\n'
    )
    code, out, err = run(
        "-c", str(config), "agents", "away", "carol@example.com", "--until", "2099-01-01"
    )
    assert code == 0, err
    code, out, err = run(
        "-c", str(config), "agents", "away", "eve@example.com", "--until", "2099-01-01"
    )
    assert code == 2 and "eve@example.com is no agent of this desk" in err
    code, out, err = run(
        "-c", str(config), "agents", "list", "--json", "--now", FRIDAY_10.isoformat()
    )
    assert code == 0, err
    import json

    listed = {a["address"]: a for a in json.loads(out)}
    assert listed["carol@example.com"]["away_until"].startswith("2099-01-01")
    assert listed["bob@example.com"]["at_work"] is True
    assert [team.ticket(n)[1] for n in range(2)] == [AGENTS[0], AGENTS[2]]
    assert run("-c", str(config), "agents", "back", "carol@example.com")[0] == 0
    assert run("-c", str(config), "agents", "back", "carol@example.com")[0] == 1
    assert team.ticket(2)[1] == AGENTS[0]  # the turn goes on after dave


def test_a_rules_assignee_wins(
    engine: Engine, db_url: str, tmp_path: Path, smtp_sink: Sink
) -> None:
    rules = "- name: to dave\n  then: {assign: dave@example.com}\n"
    team = Team(engine, db_url, tmp_path, smtp_sink, rules=rules, assign="round_robin")
    assert [team.ticket(n)[1] for n in range(2)] == [AGENTS[2], AGENTS[2]]


@pytest.mark.parametrize(
    ("tier", "problem"),
    [
        ({"on_call": "night@example.com"}, "tiers[0].on_call: night@example.com is no agent"),
        ({"assign": "round_robin", "agents": ()}, 'tiers[0].assign: "round_robin" needs agents'),
    ],
)
def test_assignment_settings_are_checked(tier: dict[str, Any], problem: str) -> None:
    from maildesk.config import settings_from_mapping
    from maildesk.errors import UserError

    with pytest.raises(UserError) as found:
        settings_from_mapping(
            {
                "helpdesk": {"address": "support@example.com"},
                "smtp": {"spool_dir": "out"},
                "tiers": [{"name": "L1", "agents": ["bob@example.com"], **tier}],
            },
            name="maildesk.toml",
            base=Path("/tmp"),
        )
    assert problem in str(found.value)


def test_while_the_assignee_is_away_the_others_hear(
    engine: Engine, db_url: str, tmp_path: Path, smtp_sink: Sink
) -> None:
    """A customer's reply on bob's ticket, and its SLA reminder, go to carol and dave
    while bob is away; to bob again once he is back."""
    from datetime import timedelta

    from maildesk.sla.scheduler import SlaScheduler
    from maildesk.store import agents as store

    team = Team(engine, db_url, tmp_path, smtp_sink, assign="round_robin")
    number, assignee = team.ticket(1)
    assert assignee == "bob@example.com"
    with team.sessions.begin() as s:
        store.set_away(s, "bob@example.com", FRIDAY_10 + timedelta(days=7), "holiday", FRIDAY_10)
    team.sink.messages.clear()
    team.send(mail(f"Re: [#{number}] Printer 1", sender="c1@example.org", msgid="<r1@x>"))
    assert team.notified(number) == ["carol@example.com", "dave@example.com"]
    team.sink.messages.clear()
    calendar = team.intake.router.calendar
    scheduler = SlaScheduler(
        team.settings, team.sessions, team.clock, team.intake.mailer, lambda: calendar
    )
    fired = scheduler.tick(FRIDAY_10 + timedelta(hours=1, minutes=40))  # 2h first response
    assert [f.to for f in fired if f.kind == "reminder"] == [
        ("carol@example.com", "dave@example.com")
    ]
    with team.sessions.begin() as s:
        store.set_back(s, "bob@example.com")
    team.sink.messages.clear()
    team.send(
        mail(f"Re: [#{number}] Printer 1", sender="c1@example.org", msgid="<r2@x>", body="Again.")
    )
    assert team.notified(number) == ["bob@example.com"]
