"""Quarantine: kept with the reason, shown, retried; held mail released into its ticket."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine, select

from maildesk.quarantine import retry_quarantined
from maildesk.store.db import session_factory
from maildesk.store.models import Message, QuarantinedMessage
from tests.support.desks import Run
from tests.support.pipeline import mail, make_pipeline


def test_held_mail_is_released_into_the_ticket_it_named(engine: Engine) -> None:
    p = make_pipeline(engine, foreign_token="hold")
    first = p.ingest(mail(), "test")
    held = p.ingest(
        mail(f"Re: [#{first.ticket_id}] me too", sender="bob@elsewhere.example", msgid="<bob@x>"),
        "test",
    )
    assert held.status == "held"
    with session_factory(engine)() as s:
        row = s.scalars(select(QuarantinedMessage)).one()
    outcome = retry_quarantined(p, row.id)
    assert (outcome.status, outcome.ticket_id) == ("stored", first.ticket_id)
    with session_factory(engine)() as s:
        row = s.scalars(select(QuarantinedMessage)).one()
        assert (row.state, row.dedupe_key) == ("released", None)
        ids = [
            m.message_id
            for m in s.scalars(select(Message).where(Message.ticket_id == first.ticket_id))
        ]
    assert ids == ["<m1@example.org>", "<bob@x>"]
    assert retry_quarantined(p, row.id).status == "released"
    assert p.ingest(mail(msgid="<bob@x>"), "test").status == "duplicate"


def test_retry_that_fails_again_stays_in_quarantine(engine: Engine) -> None:
    p = make_pipeline(engine)
    assert p.ingest(b"no headers here\n", "pipe").status == "quarantined"
    with session_factory(engine)() as s:
        row_id = s.scalars(select(QuarantinedMessage.id)).one()
    again = retry_quarantined(p, row_id)
    assert again.status == "quarantined"
    with session_factory(engine)() as s:
        row = s.get(QuarantinedMessage, row_id)
        assert row is not None and (row.state, row.attempts) == ("held", 2)


def test_quarantine_commands(
    run: Run, write_desk: Callable[..., Path], minimal_config: Callable[[], str], tmp_path: Path
) -> None:
    config = write_desk(minimal_config())
    run("-c", str(config), "db", "upgrade")
    bad = tmp_path / "bad.eml"
    bad.write_bytes(b"Subject: no sender\r\n\r\nwho am I?\r\n")
    assert run("-c", str(config), "ingest", str(bad))[0] == 0
    code, out, _ = run("-c", str(config), "quarantine", "list", "--json")
    [row] = json.loads(out)
    assert code == 0 and row["reason"] == "no sender address (From:)" and row["source"] == "pipe"
    code, out, _ = run("-c", str(config), "quarantine", "show", str(row["id"]))
    assert code == 0 and "no sender address" in out
    code, out, _ = run("-c", str(config), "quarantine", "retry", "--all", "--json")
    assert json.loads(out)[0]["status"] == "quarantined"
    code, _, err = run("-c", str(config), "quarantine", "show", "999")
    assert code == 2 and "no quarantined message 999" in err
    code, _, err = run("-c", str(config), "quarantine", "retry")
    assert code == 2 and "give IDs to retry, or --all" in err


def test_quarantine_show_raw_gives_the_original_bytes(tmp_path: Path) -> None:
    import subprocess
    import sys

    subprocess.run(
        [sys.executable, "-m", "maildesk", "init", str(tmp_path / "d")],
        check=True,
        capture_output=True,
    )
    config = str(tmp_path / "d" / "maildesk.toml")
    raw = b"\x00\xffbinary junk\r\n"
    subprocess.run(
        [sys.executable, "-m", "maildesk", "-c", config, "ingest"],
        input=raw,
        check=True,
        capture_output=True,
    )
    shown = subprocess.run(
        [sys.executable, "-m", "maildesk", "-c", config, "quarantine", "show", "1", "--raw"],
        capture_output=True,
        check=True,
    )
    assert shown.stdout == raw
