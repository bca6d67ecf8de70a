"""`maildesk check --connect` against a real Dovecot, a real SMTP sink and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from maildesk.config import load_settings
from maildesk.config.model import Mailbox
from maildesk.sources.imap import MailboxUnavailable, open_mailbox, probe_mailbox
from maildesk.store.schema import head_revision
from tests.support.desks import Run
from tests.support.dovecot import Account, Dovecot
from tests.support.need import free_port
from tests.support.smtpsink import Sink


def mailbox_toml(server: Dovecot, account: Account, security: str, extra: str = "") -> str:
    port = server.imaps_port if security == "tls" else server.imap_port
    return (
        f'[[mailboxes]]\nname = "support"\nhost = "127.0.0.1"\nport = {port}\n'
        f'security = "{security}"\nusername = "{account.username}"\n'
        f'password = "{account.password}"\n{extra}'
    )


def desk(write_desk: Callable[..., Path], db_url: str, body: str, smtp: str) -> Path:
    config = write_desk(
        f'[helpdesk]\naddress = "support@example.com"\n[database]\nurl = "{db_url}"\n'
        f"{smtp}\n{body}",
        rules=False,
    )
    return config


@pytest.mark.parametrize(
    ("security", "tls_extra"),
    [
        ("none", ""),
        ("starttls", "tls_verify = false\n"),
        ("tls", "tls_verify = false\n"),
        ("tls", 'tls_ca_file = "{cert}"\n'),  # verified against the server's own certificate
    ],
    ids=["none", "starttls-unverified", "tls-unverified", "tls-verified"],
)
def test_mailbox_security_modes(
    dovecot: Dovecot, imap_account: Account, tmp_path: Path, security: str, tls_extra: str
) -> None:
    text = '[helpdesk]\naddress = "s@example.com"\n[smtp]\nspool_dir = "out"\n' + mailbox_toml(
        dovecot, imap_account, security, tls_extra.format(cert=dovecot.cert)
    )
    (tmp_path / "maildesk.toml").write_text(text)
    box = load_settings(tmp_path / "maildesk.toml").mailboxes[0]
    client = dovecot.client(imap_account)
    client.append("INBOX", b"Subject: one\r\n\r\nbody\r\n")
    client.logout()
    status = probe_mailbox(box, imap_account.password)
    assert status.messages == 1 and status.folder == "INBOX" and status.uidvalidity > 0
    assert "IDLE" in status.capabilities


def test_self_signed_certificate_is_refused_by_default(
    dovecot: Dovecot, imap_account: Account
) -> None:
    box = Mailbox(
        name="m",
        host="127.0.0.1",
        port=dovecot.imaps_port,
        security="tls",
        username=imap_account.username,
        password=imap_account.password,
    )
    with pytest.raises(MailboxUnavailable, match="certificate not trusted"):
        open_mailbox(box, imap_account.password)


def test_wrong_password_and_closed_port(dovecot: Dovecot, imap_account: Account) -> None:
    box = Mailbox(
        name="m",
        host="127.0.0.1",
        port=dovecot.imap_port,
        security="none",
        username=imap_account.username,
        password="wrong",
    )
    with pytest.raises(
        MailboxUnavailable,
        match=f"login to 127.0.0.1:{dovecot.imap_port} as {imap_account.username} failed",
    ):
        open_mailbox(box, "wrong")
    closed = box.model_copy(update={"port": free_port()})
    with pytest.raises(MailboxUnavailable, match="connection refused"):
        open_mailbox(closed, "wrong")


def test_check_connect_all_green(
    run: Run,
    dovecot: Dovecot,
    imap_account: Account,
    smtp_sink: Sink,
    write_desk: Callable[..., Path],
    db_url: str,
) -> None:
    smtp = f'[smtp]\nhost = "127.0.0.1"\nport = {smtp_sink.port}\nsecurity = "none"\n'
    config = desk(write_desk, db_url, mailbox_toml(dovecot, imap_account, "none"), smtp)
    assert run("-c", str(config), "db", "upgrade")[0] == 0
    code, out, err = run("-c", str(config), "check", "--connect")
    assert (code, err) == (0, ""), out
    assert f"ok   database: reachable, schema {head_revision()}" in out
    assert "ok   mailbox support: 127.0.0.1: INBOX has 0 message(s)" in out
    assert "ok   smtp: 127.0.0.1:" in out


def test_check_connect_failures_exit_1(
    run: Run,
    dovecot: Dovecot,
    imap_account: Account,
    write_desk: Callable[..., Path],
    db_url: str,
) -> None:
    bad = Account(imap_account.username, "not-the-password")
    smtp = f'[smtp]\nhost = "127.0.0.1"\nport = {free_port()}\nsecurity = "none"\n'
    config = desk(write_desk, db_url, mailbox_toml(dovecot, bad, "none"), smtp)
    code, out, _ = run("-c", str(config), "check", "--connect", "--json")
    report = json.loads(out)
    assert code == 1 and report["ok"] is False and report["problems"] == []
    failures = {f["where"].split(": ")[-1]: f["what"] for f in report["failures"]}
    assert (
        failures["database.url"]
        == f"schema missing, needs {head_revision()}: run `maildesk db upgrade`"
    )
    assert failures["mailboxes[0]"].startswith(f"login to 127.0.0.1:{dovecot.imap_port} as ")
    assert "connection refused" in failures["smtp"]


@pytest.mark.servers  # its own aiosmtpd relay with AUTH
def test_check_connect_relay_with_login(
    run: Run,
    write_desk: Callable[..., Path],
    tmp_path: Path,
) -> None:
    sink = Sink(auth=("relay-user", "relay-pw")).start()
    try:
        base = (
            f'[helpdesk]\naddress = "s@example.com"\n[database]\nurl = "sqlite:///{tmp_path}/x.db"\n'
            f'[smtp]\nhost = "127.0.0.1"\nport = {sink.port}\nsecurity = "none"\n'
            'username = "relay-user"\n'
        )
        config = write_desk(base + 'password = "relay-pw"\n', rules=False)
        run("-c", str(config), "db", "upgrade")
        code, out, _ = run("-c", str(config), "check", "--connect")
        assert code == 0 and "ok   smtp" in out
        config.write_text(base + 'password = "wrong"\n')
        code, _, err = run("-c", str(config), "check", "--connect")
        assert code == 1 and "login to 127.0.0.1" in err and "535" in err
    finally:
        sink.stop()


def test_xoauth2_token_from_a_command_and_a_file(
    run: Run,
    dovecot: Dovecot,
    imap_account: Account,
    write_desk: Callable[..., Path],
    tmp_path: Path,
) -> None:
    """Dovecot checks an XOAUTH2 token like a password here; the login path is the real one."""
    token_file = tmp_path / "token"
    token_file.write_text(imap_account.password + "\n")
    base = (
        f'[helpdesk]\naddress = "s@example.com"\n[database]\nurl = "sqlite:///{tmp_path}/x.db"\n'
        '[smtp]\nspool_dir = "out"\n[[mailboxes]]\nname = "gmail"\nhost = "127.0.0.1"\n'
        f'port = {dovecot.imap_port}\nsecurity = "none"\nusername = "{imap_account.username}"\n'
        'auth = "xoauth2"\n'
    )
    config = write_desk(base + f'oauth2_token_command = "cat {token_file}"\n', rules=False)
    run("-c", str(config), "db", "upgrade")
    code, out, err = run("-c", str(config), "check", "--connect")
    assert (code, err) == (0, ""), out
    config.write_text(base + f'oauth2_token_file = "{token_file}"\n')
    assert run("-c", str(config), "check", "--connect")[0] == 0
    config.write_text(base + 'oauth2_token_command = "false"\n')
    code, _, err = run("-c", str(config), "check")
    assert code == 2 and "mailboxes[0].oauth2_token_command: gave no token (exit code 1)" in err
    token_file.write_text("expired-token")
    config.write_text(base + f'oauth2_token_file = "{token_file}"\n')
    code, _, err = run("-c", str(config), "check", "--connect")
    assert code == 1 and "login to 127.0.0.1" in err
