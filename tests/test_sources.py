"""Sources against real servers: Dovecot over IMAP, the aiosmtpd listener, pipes, archives."""

from __future__ import annotations

import mailbox
import smtplib
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from maildesk.daemon import Daemon
from maildesk.intake import Intake
from maildesk.sources.imap import MailboxReader
from maildesk.sources.inbound import start_listener
from maildesk.store.db import make_engine, session_factory
from maildesk.store.models import MailboxState, Message, QuarantinedMessage, Ticket
from tests.support.desks import Run
from tests.support.dovecot import Account, Dovecot
from tests.support.need import free_port
from tests.support.sources import append, folder_count, inbound_settings, mail, settings_for


def stored(engine: Engine) -> list[str]:
    with session_factory(engine)() as s:
        return [m or "" for m in s.scalars(select(Message.message_id).order_by(Message.id))]


# --- IMAP ------------------------------------------------------------------


def test_imap_reader_stores_moves_and_remembers(
    engine: Engine, db_url: str, dovecot: Dovecot, imap_account: Account
) -> None:
    append(dovecot, imap_account, [mail(n) for n in range(1, 8)] + [b"not a mail at all\r\n"])
    settings = settings_for(db_url, dovecot, imap_account)
    pipeline = Intake(settings, session_factory(engine))
    reader = MailboxReader(
        settings.mailboxes[0], pipeline, lambda: imap_account.password, batch_size=3
    )
    try:
        assert reader.process_pending() == 8
        assert reader.process_pending() == 0
    finally:
        reader.close()
    assert sorted(stored(engine)) == sorted(f"<q{n}@example.org>" for n in range(1, 8))
    assert folder_count(dovecot, imap_account, "INBOX") == 0
    assert folder_count(dovecot, imap_account, "Processed") == 7
    assert folder_count(dovecot, imap_account, "Quarantine") == 1
    with session_factory(engine)() as s:
        state = s.scalars(select(MailboxState)).one()
        assert state.last_uid == 8 and state.folder == "INBOX"
        assert s.scalar(select(func.count()).select_from(QuarantinedMessage)) == 1


def test_imap_reader_flags_seen_when_there_is_no_processed_folder(
    engine: Engine, db_url: str, dovecot: Dovecot, imap_account: Account
) -> None:
    append(dovecot, imap_account, [mail(1), mail(2)])
    settings = settings_for(db_url, dovecot, imap_account, processed_folder="")
    reader = MailboxReader(
        settings.mailboxes[0],
        Intake(settings, session_factory(engine)),
        lambda: imap_account.password,
    )
    try:
        assert reader.process_pending() == 2
        client = reader._client()
        flags = client.get_flags(client.search(["ALL"]))
        assert all(b"\\Seen" in f for f in flags.values()) and len(flags) == 2
        append(dovecot, imap_account, [mail(3)])
        assert reader.process_pending() == 1
    finally:
        reader.close()
    assert len(stored(engine)) == 3


def test_the_same_mail_in_two_mailboxes_is_stored_once(
    engine: Engine, db_url: str, dovecot: Dovecot
) -> None:
    first, second = dovecot.add_account(), dovecot.add_account()
    append(dovecot, first, [mail(1), mail(2)])
    append(dovecot, second, [mail(2), mail(3)])
    data = settings_for(db_url, dovecot, first)
    box2 = data.mailboxes[0].model_copy(
        update={"name": "sales", "username": second.username, "password": second.password}
    )
    settings = data.model_copy(update={"mailboxes": (data.mailboxes[0], box2)})
    daemon = Daemon(settings, Intake(settings, session_factory(engine)))
    assert daemon.run_once() == 4
    assert sorted(stored(engine)) == ["<q1@example.org>", "<q2@example.org>", "<q3@example.org>"]


def test_a_broken_mailbox_does_not_stop_the_others(
    engine: Engine, db_url: str, dovecot: Dovecot, imap_account: Account
) -> None:
    append(dovecot, imap_account, [mail(1)])
    data = settings_for(db_url, dovecot, imap_account)
    broken = data.mailboxes[0].model_copy(update={"name": "broken", "port": free_port()})
    settings = data.model_copy(update={"mailboxes": (broken, data.mailboxes[0])})
    assert Daemon(settings, Intake(settings, session_factory(engine))).run_once() == 1


def test_idle_picks_up_new_mail_within_seconds(
    engine: Engine, db_url: str, dovecot: Dovecot, imap_account: Account
) -> None:
    # poll_interval is long: only IDLE can explain a quick pickup.
    settings = settings_for(db_url, dovecot, imap_account, poll_interval=300)
    daemon = Daemon(settings, Intake(settings, session_factory(engine)))
    thread = threading.Thread(target=daemon.run, daemon=True)
    thread.start()
    try:
        latencies = []
        for n in range(1, 4):
            # The real condition: the server has the reader in IDLE (not a fixed sleep).
            _wait(daemon.idling, 30)
            appended = time.monotonic()
            append(dovecot, imap_account, [mail(n)])
            _wait(lambda n=n: f"<q{n}@example.org>" in stored(engine), 10)
            latencies.append(time.monotonic() - appended)
        # Polling would take 300 s; seconds can only be IDLE. How fast IDLE is, is measured
        # by bench/idle_latency.py, not asserted here (a loaded CI machine is slower).
        assert max(latencies) < 10.0, latencies
    finally:
        daemon.stop()
        thread.join(10)
    assert not thread.is_alive()


def _wait(condition: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {seconds}s")
        time.sleep(0.02)


# --- SMTP / LMTP -------------------------------------------------------------


def test_smtp_listener_answers_250_after_commit(engine: Engine, db_url: str) -> None:
    port = free_port()
    pipeline = Intake(settings_for(db_url), session_factory(engine))
    controller = start_listener(inbound_settings(port), pipeline)
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            assert client.sendmail("c1@example.org", ["support@example.com"], mail(1)) == {}
            client.sendmail("c1@example.org", ["support@example.com"], mail(1))  # an MTA retry
        assert stored(engine) == ["<q1@example.org>"]
    finally:
        controller.stop()


def test_lmtp_listener_answers_once_per_recipient(engine: Engine, db_url: str) -> None:
    port = free_port()
    pipeline = Intake(settings_for(db_url), session_factory(engine))
    controller = start_listener(inbound_settings(port, "lmtp"), pipeline)
    try:
        # smtplib.LMTP.sendmail reads one reply only; speak the protocol step by step.
        client = smtplib.LMTP("127.0.0.1", port, timeout=10)
        assert client.ehlo()[0] == 250
        assert client.mail("c1@example.org")[0] == 250
        assert client.rcpt("support@example.com")[0] == 250
        assert client.rcpt("help@example.com")[0] == 250
        first = client.data(mail(1))
        second = client.getreply()
        assert (first[0], second[0]) == (250, 250)
        client.close()
        assert stored(engine) == ["<q1@example.org>"]
    finally:
        controller.stop()


def test_listener_answers_451_when_the_database_is_down(tmp_path: Path) -> None:
    pytest.importorskip("psycopg")
    url = f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/x?connect_timeout=2"
    settings = settings_for(url)
    port = free_port()
    controller = start_listener(
        inbound_settings(port), Intake(settings, session_factory(make_engine(url)))
    )
    try:
        with (
            smtplib.SMTP("127.0.0.1", port, timeout=20) as client,
            pytest.raises(smtplib.SMTPDataError) as caught,
        ):
            client.sendmail("c1@example.org", ["support@example.com"], mail(1))
        assert caught.value.smtp_code == 451
    finally:
        controller.stop()


# --- pipe and archive ----------------------------------------------------------


def test_ingest_exit_codes(
    run: Run, write_desk: Callable[..., Path], tmp_path: Path, minimal_config: Callable[[], str]
) -> None:
    config = write_desk(minimal_config())
    run("-c", str(config), "db", "upgrade")
    source = tmp_path / "m.eml"
    source.write_bytes(mail(1))
    code, out, _ = run("-c", str(config), "ingest", str(source))
    assert code == 0 and out.startswith("stored ticket 1")
    code, out, _ = run("-c", str(config), "ingest", str(source))
    assert code == 0 and out.startswith("duplicate")
    down = write_desk(minimal_config(f"postgresql+psycopg://x@127.0.0.1:{free_port()}/x"))
    code, _, err = run("-c", str(down), "ingest", str(source))
    assert code == 75 and "exiting 75" in err
    # Two lines, the driver's reason first: not SQLAlchemy's wrapper and links.
    first, _ = err.strip().splitlines()
    assert first.startswith("maildesk: database unavailable: ") and "Connection refused" in first
    assert "sqlalche.me" not in err and "(psycopg" not in err
    down.write_text("[helpdesk]\nadress = 1\n")
    code, _, err = run("-c", str(down), "ingest", str(source))
    assert code == 75 and "unknown key" in err


def test_ingest_reads_standard_input(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "maildesk", "init", str(tmp_path / "d")],
        check=True,
        capture_output=True,
    )
    config = str(tmp_path / "d" / "maildesk.toml")
    result = subprocess.run(
        [sys.executable, "-m", "maildesk", "-c", config, "ingest", "--json"],
        input=mail(5),
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 0 and b'"status": "stored"' in result.stdout


@pytest.mark.parametrize("kind", ["mbox", "maildir"])
def test_import_archive_twice(
    run: Run,
    write_desk: Callable[..., Path],
    tmp_path: Path,
    minimal_config: Callable[[], str],
    kind: str,
) -> None:
    config = write_desk(minimal_config())
    run("-c", str(config), "db", "upgrade")
    path = tmp_path / kind
    box: mailbox.Mailbox = mailbox.mbox(str(path)) if kind == "mbox" else mailbox.Maildir(str(path))
    for n in range(1, 6):
        box.add(mail(n))
    box.add(mail(6, subject="Re: [#1] Question 1").replace(b"c6@", b"c1@"))  # reply by c1
    box.close()
    code, out, _ = run("-c", str(config), "import", str(path), "--json")
    import json

    assert code == 0 and json.loads(out) == {
        "total": 6,
        "stored": 6,
        "duplicate": 0,
        "bounce": 0,
        "held": 0,
        "quarantined": 0,
    }
    code, out, _ = run("-c", str(config), "import", str(path), "--json")
    assert json.loads(out)["duplicate"] == 6
    engine = make_engine(f"sqlite:///{config.parent / 'maildesk.db'}")
    with session_factory(engine)() as s:
        assert s.scalar(select(func.count()).select_from(Ticket)) == 5
    engine.dispose()


def test_import_refuses_what_is_not_an_archive(
    run: Run, write_desk: Callable[..., Path], tmp_path: Path, minimal_config: Callable[[], str]
) -> None:
    config = write_desk(minimal_config())
    (tmp_path / "x.txt").write_text("hello")
    code, _, err = run("-c", str(config), "import", str(tmp_path / "x.txt"))
    assert code == 2 and "not an mbox file" in err


def test_uidvalidity_change_means_reading_the_folder_again(
    engine: Engine, db_url: str, dovecot: Dovecot, imap_account: Account
) -> None:
    client = dovecot.client(imap_account)
    client.create_folder("Support")
    client.append("Support", mail(1))
    client.logout()
    settings = settings_for(db_url, dovecot, imap_account, folder="Support", processed_folder="")
    reader = MailboxReader(
        settings.mailboxes[0],
        Intake(settings, session_factory(engine)),
        lambda: imap_account.password,
    )
    try:
        assert reader.process_pending() == 1
        reader.close()
        client = dovecot.client(imap_account)
        client.delete_folder("Support")  # recreated: new UIDVALIDITY, UIDs start again at 1
        client.create_folder("Support")
        client.append("Support", mail(1))
        client.append("Support", mail(2))
        client.logout()
        assert reader.process_pending() == 2  # both read; the old one is a duplicate
    finally:
        reader.close()
    assert sorted(stored(engine)) == ["<q1@example.org>", "<q2@example.org>"]


def test_copy_and_expunge_where_the_server_has_no_move(
    engine: Engine, db_url: str, dovecot: Dovecot, imap_account: Account
) -> None:
    append(dovecot, imap_account, [mail(1), mail(2), b"junk\r\n"])
    settings = settings_for(db_url, dovecot, imap_account)
    reader = MailboxReader(
        settings.mailboxes[0],
        Intake(settings, session_factory(engine)),
        lambda: imap_account.password,
    )
    try:
        reader.connect()
        reader.moves = False  # as on a server without the MOVE extension
        assert reader.process_pending() == 3
    finally:
        reader.close()
    assert folder_count(dovecot, imap_account, "INBOX") == 0
    assert folder_count(dovecot, imap_account, "Processed") == 2
    assert folder_count(dovecot, imap_account, "Quarantine") == 1


def test_daemon_reconnects_after_an_imap_server_restart(
    engine: Engine, db_url: str, dovecot: Dovecot, imap_account: Account
) -> None:
    settings = settings_for(db_url, dovecot, imap_account, poll_interval=1)
    daemon = Daemon(settings, Intake(settings, session_factory(engine)))
    thread = threading.Thread(target=daemon.run, daemon=True)
    thread.start()
    try:
        append(dovecot, imap_account, [mail(1)])
        _wait(lambda: "<q1@example.org>" in stored(engine), 20)
        dovecot.restart()
        append(dovecot, imap_account, [mail(2)])
        _wait(lambda: "<q2@example.org>" in stored(engine), 60)
    finally:
        daemon.stop()
        thread.join(15)
    assert not thread.is_alive()
    assert sorted(stored(engine)) == ["<q1@example.org>", "<q2@example.org>"]


def test_big_messages_are_fetched_a_few_at_a_time(
    engine: Engine,
    db_url: str,
    dovecot: Dovecot,
    imap_account: Account,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import maildesk.sources.imap as imap

    monkeypatch.setattr(imap, "MAX_FETCH_BYTES", 1000)
    big = [
        mail(n).replace(b"Question number", b"x" * 600 + b" Question number") for n in range(1, 6)
    ]
    append(dovecot, imap_account, big)
    settings = settings_for(db_url, dovecot, imap_account)
    reader = MailboxReader(
        settings.mailboxes[0],
        Intake(settings, session_factory(engine)),
        lambda: imap_account.password,
    )
    fetches: list[int] = []
    try:
        client = reader._client()
        original = client.fetch

        def counting_fetch(uids, items):  # type: ignore[no-untyped-def]
            if "BODY.PEEK[]" in items:
                fetches.append(len(uids))
            return original(uids, items)

        monkeypatch.setattr(client, "fetch", counting_fetch)
        assert reader.process_pending() == 5
    finally:
        reader.close()
    assert fetches == [1, 1, 1, 1, 1]
    assert len(stored(engine)) == 5
