"""A desk whose default language is Russian writes to its agents in Russian.

Every agent-facing template has a Russian text, and the values they get
(target names, times left, dates) are Russian too.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from maildesk.clock import FixedClock
from maildesk.intake import Intake
from maildesk.outbox.sender import Sender
from maildesk.render import TemplateSet, render_event, sample_context
from maildesk.sla.calendar import BusinessCalendar
from maildesk.sla.notices import ticket_line, timer_values
from maildesk.starter import starter_dir
from maildesk.store.db import session_factory
from tests.support.mailout import settings_for
from tests.support.pipeline import T0, mail
from tests.support.sinkdesk import parsed
from tests.support.smtpsink import Sink

AGENT_FACING = (
    "customer_reply",
    "agent_copy",
    "command_error",
    "sla_reminder",
    "sla_breach",
    "sla_digest",
    "survey_low",
)
CALENDAR = BusinessCalendar(
    zone=ZoneInfo("UTC"),
    days=frozenset(range(5)),
    hours=((time(9), time(18)),),
    holidays=frozenset(),
)
LATIN_WORDS = ("wrote", "answered", "reminder", "breached", "Customer", "Ticket", "open for")


@pytest.mark.parametrize("event", AGENT_FACING)
def test_every_agent_facing_template_speaks_russian(event: str) -> None:
    now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    context = sample_context()
    context["timer"] = timer_values(
        "first_response", "reminder", 0.75, now + timedelta(hours=1), now, CALENDAR, "ru"
    )
    rendered = render_event(TemplateSet(starter_dir("templates")), event, ["ru", "en"], context)
    assert rendered.language == "ru"
    text = f"{rendered.subject}\n{rendered.text}"
    assert any("а" <= ch <= "я" for ch in text.lower())
    assert not [w for w in LATIN_WORDS if w in text]


def test_timer_and_digest_values_in_russian() -> None:
    now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    due = now + timedelta(hours=2)
    values = timer_values("first_response", "reminder", 0.5, due, now, CALENDAR, "ru")
    assert values["target_name"] == "первый ответ"
    assert values["left"] == "2 часа"
    assert values["due"].startswith("23.11.2026")
    line = ticket_line(_Ticket(), due, now + timedelta(hours=3), "[#{id}]", CALENDAR, "ru")
    assert line["overdue"] == "1 час" and line["age"] == "1 день"


class _Ticket:
    """The fields of a ticket a digest line reads."""

    id = 7
    subject = "Принтер"
    status = "open"
    priority = "high"
    assignee = None
    created_at = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def test_a_russian_desk_tells_its_agents_in_russian(
    engine: Engine, db_url: str, tmp_path: Path, smtp_sink: Sink
) -> None:
    smtp = {"host": "127.0.0.1", "port": smtp_sink.port, "security": "none"}
    settings = settings_for(tmp_path, db_url, smtp)
    helpdesk = settings.helpdesk.model_copy(update={"default_language": "ru"})
    settings = settings.model_copy(update={"helpdesk": helpdesk})
    clock = FixedClock(T0)
    intake = Intake(settings, session_factory(engine), clock)
    sender = Sender(settings, session_factory(engine), clock)
    first = intake.ingest(mail("Printer", msgid="<a1@example.org>"), "test")
    intake.ingest(
        mail(f"Re: [#{first.ticket_id}] Printer", msgid="<a2@example.org>", body="Ещё горит."),
        "test",
    )
    sender.deliver_due()
    to_agent = [parsed(m.data) for m in smtp_sink.messages if "agent1@example.com" in m.rcpt_tos]
    subjects = [str(m["Subject"]) for m in to_agent]
    assert any("Ответ клиента" in s for s in subjects), subjects
