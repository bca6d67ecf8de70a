"""#macro NAME and #kb SLUG: canned answers with the ticket's values, and their commands.

Through the desk's intake and the real SMTP sink, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine

from maildesk.starter import starter_dir
from maildesk.store.models import Ticket
from tests.support.desks import Run
from tests.support.pipeline import mail
from tests.support.sinkdesk import Desk, agent
from tests.support.smtpsink import Sink


@pytest.fixture
def desk(engine: Engine, db_url: str, tmp_path: Path, smtp_sink: Sink) -> Desk:
    made = Desk(engine, db_url, tmp_path, smtp_sink)
    macros = tmp_path / "templates" / "macros"
    (macros / "shady.en.txt").write_text("#merge 1\nText.\n")
    settings = made.intake.settings
    paths = settings.paths.model_copy(update={"kb": starter_dir("kb")})
    from maildesk.intake import Intake

    made.intake = Intake(settings.model_copy(update={"paths": paths}), made.sessions, made.clock)
    return made


def ticket(desk: Desk, **kw: str) -> int:
    number = desk.send(mail("Printer on fire", msgid="<a1@example.org>", **kw))
    desk.sink.messages.clear()
    return number


def test_a_macro_answers_with_the_tickets_values_and_its_commands(desk: Desk) -> None:
    n = ticket(desk)
    desk.send(agent(n, "#macro restart\n", "<b1@x>", "Sorry for the trouble."))
    [answer] = desk.to("alice@example.org")
    text = answer.get_body(("plain",)).get_content()
    assert text.startswith("Sorry for the trouble.")  # the agent's own text first
    assert "Hello Alice," in text and "please restart the device" in text
    assert "Bob Agent" in text  # {{ agent.name }}
    assert "#status" not in text
    with desk.sessions() as s:
        found = s.get(Ticket, n)
        assert found is not None and found.status == "pending"  # the macro's command


def test_a_russian_ticket_gets_the_russian_macro(desk: Desk) -> None:
    n = ticket(desk)
    with desk.sessions.begin() as s:
        s.get(Ticket, n).language = "ru"  # type: ignore[union-attr]
    desk.send(agent(n, "#macro restart\n", "<b1@x>"))
    [answer] = desk.to("alice@example.org")
    assert "перезагрузите устройство" in answer.get_body(("plain",)).get_content()


def test_kb_inserts_the_article(desk: Desk) -> None:
    n = ticket(desk)
    desk.send(agent(n, "#kb printer\n", "<b1@x>"))
    [answer] = desk.to("alice@example.org")
    text = answer.get_body(("plain",)).get_content()
    assert "Add a network printer" in text and "https://help.example.com/en/printer" in text


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("#macro nosuch", "no macro of that name (macros: restart, shady)"),
        ("#macro shady", "#merge not allowed in a macro"),
        ("#kb nosuch", "no knowledge-base article of that name"),
        ("#macro", "macro needs one name"),
    ],
)
def test_a_wrong_macro_sends_nothing_and_says_why(desk: Desk, line: str, problem: str) -> None:
    n = ticket(desk)
    desk.send(agent(n, f"{line}\n", "<b1@x>", "Text."))
    [error] = desk.to("bob@example.com", "not sent")
    assert problem in error.get_body(("plain",)).get_content()
    assert desk.to("alice@example.org") == []


def test_check_renders_the_macros(
    run: Run, write_desk: Callable[..., Path], minimal_config: Callable[[], str]
) -> None:
    config = write_desk(minimal_config())
    macros = config.parent / "templates" / "macros"
    (macros / "broken.en.txt").write_text("Hi {{ customer.nmae }}\n")
    (macros / "misnamed.txt").write_text("Hi\n")
    code, out, err = run("-c", str(config), "check")
    assert code == 2 and "FAIL templates" in out
    assert f"{macros}/broken.en.txt:1: with sample data" in err
    assert "misnamed.txt: not named NAME.LANGUAGE.txt" in out  # a warning: never used
    (macros / "broken.en.txt").unlink()
    code, out, _ = run("-c", str(config), "check")
    assert code == 0 and "misnamed.txt" in out
    shutil.rmtree(macros)
    assert "misnamed.txt" not in run("-c", str(config), "check")[1]
