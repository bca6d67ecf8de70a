"""The rough edges a new admin hits on the first day (issue 21, item 7), each as
the admin sees it: the CLI of a desk from `maildesk init`."""

from __future__ import annotations

import json
import re
import smtplib
from pathlib import Path

from sqlalchemy import Engine

from maildesk.cli.main import main
from maildesk.intake import Intake
from maildesk.store.db import session_factory
from maildesk.store.models import Message
from tests.support.desks import Run
from tests.support.dovecot import Account, Dovecot
from tests.support.sources import listening, mail, settings_for

AGENT = "agent@example.com"


def desk(tmp_path: Path) -> Path:
    assert main(["init", str(tmp_path / "desk")]) == 0
    return tmp_path / "desk" / "maildesk.toml"


def ingest(run: Run, config: Path, tmp_path: Path, raw: bytes) -> str:
    path = tmp_path / "m.eml"
    path.write_bytes(raw)
    code, out, err = run("-c", str(config), "ingest", str(path))
    assert code == 0, err
    return out


def agent_says(text: str) -> bytes:
    return (
        f"From: {AGENT}\r\nTo: support@example.com\r\nSubject: Re: [#1] Question 1\r\n"
        f"Message-ID: <agent1@example.com>\r\n\r\n{text}\r\n"
    ).encode()


def test_a_resolved_ticket_shows_nothing_due(run: Run, tmp_path: Path) -> None:
    config = desk(tmp_path)
    ingest(run, config, tmp_path, mail(1))
    _, before, _ = run("-c", str(config), "tickets", "show", "1")
    assert "first response due" in before
    ingest(run, config, tmp_path, agent_says("#status resolved\nThe printer works again."))
    _, shown, _ = run("-c", str(config), "tickets", "show", "1")
    sla = next(line for line in shown.splitlines() if line.startswith("SLA"))
    assert "due" not in sla and sla.endswith("resolved"), sla
    _, out, _ = run("-c", str(config), "tickets", "show", "1", "--json")
    dues = {k: v for k, v in json.loads(out)["sla"].items() if k.endswith("_due")}
    assert set(dues.values()) == {None}


def test_an_empty_outbox_list_says_what_it_hides(run: Run, tmp_path: Path) -> None:
    config = desk(tmp_path)
    _, out, _ = run("-c", str(config), "outbox", "list")
    assert "outbox is empty" in out
    ingest(run, config, tmp_path, mail(1))
    assert run("-c", str(config), "run", "--once")[0] == 0  # the spool takes them all
    code, out, _ = run("-c", str(config), "outbox", "list")
    assert code == 0 and "outbox is empty" not in out
    hidden = r"no pending or failed mail \(\d+ sent; see them with --state sent\)"
    assert re.search(hidden, out), out


def test_the_history_names_a_peer_as_host_and_port(engine: Engine, db_url: str) -> None:
    pipeline = Intake(settings_for(db_url), session_factory(engine))
    with listening(pipeline) as port, smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.sendmail("c1@example.org", ["support@example.com"], mail(1))
    with session_factory(engine)() as s:
        [source] = s.query(Message.source).one()
    assert re.fullmatch(r"smtp:127\.0\.0\.1:\d+", source), source  # not ('127.0.0.1', 50248)


def test_check_warns_of_a_misspelled_template(run: Run, tmp_path: Path) -> None:
    config = desk(tmp_path)
    templates = config.parent / "templates"
    (templates / "acknowledgment.de.txt").write_text("Hallo {{ customer.name }}\n")
    (templates / "notes.txt").write_text("todo\n")
    code, out, _ = run("-c", str(config), "check")
    assert code == 0  # a warning, not an error: nothing is broken, the file is just unused
    assert (
        f'warn {templates}/acknowledgment.de.txt: no mail is called "acknowledgment" '
        '(did you mean "acknowledgement"?)'
    ) in out
    assert f"warn {templates}/notes.txt: not named EVENT.LANGUAGE.txt" in out
    # Shipped names and a template a rule names are not strays.
    (config.parent / "rules" / "50-vip.yaml").write_text(
        "- name: vip\n  when: {subject: {contains: vip}}\n  then: {acknowledge: vip_ack}\n"
    )
    (templates / "vip_ack.en.txt").write_text("Hello {{ customer.name }}\n")
    code, out, _ = run("-c", str(config), "check")
    assert "vip_ack" not in out and out.count("warn ") == 3  # trust, and the two above


def test_tls_on_a_plain_port_says_what_to_change(
    run: Run, tmp_path: Path, dovecot: Dovecot, imap_account: Account
) -> None:
    """Dovecot's plain IMAP port with security = "tls": OpenSSL says WRONG_VERSION_NUMBER."""
    config = desk(tmp_path)
    config.write_text(
        config.read_text() + f'\n[[mailboxes]]\nname = "support"\nhost = "{dovecot.host}"\n'
        f'port = {dovecot.imap_port}\nsecurity = "tls"\nusername = "{imap_account.username}"\n'
        f'password = "{imap_account.password}"\n'
    )
    code, out, err = run("-c", str(config), "check", "--connect")
    assert code == 1
    said = out + err
    assert "did not answer with TLS" in said and 'security = "starttls"' in said


def test_init_without_a_database_says_how_to_make_one(run: Run, tmp_path: Path) -> None:
    code, out, _ = run("init", str(tmp_path / "desk"), "--no-db")
    assert code == 0 and not (tmp_path / "desk" / "maildesk.db").exists()
    assert f"maildesk -c {tmp_path / 'desk' / 'maildesk.toml'} db upgrade" in out
