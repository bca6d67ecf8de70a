"""No password, token or message body in any log line, in either log format.

A real daemon runs with secrets everywhere they can be configured: the
database URL, a good IMAP login, a wrong IMAP password, an XOAUTH2 token
the server refuses, and a relay that rejects the SMTP password. It stores a
mail whose body is a marker, fails the ways above, and is stopped. The log
must tell about each failure and contain none of the secrets.
"""

from __future__ import annotations

import shutil
import signal
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from maildesk.starter import starter_dir
from maildesk.store.db import make_engine
from maildesk.store.schema import upgrade
from tests.support.dovecot import Account, Dovecot
from tests.support.lifecycle import start, wait_for
from tests.support.pipeline import mail
from tests.support.smtpsink import Sink
from tests.support.sources import append

DB_SECRET = "Db-Secret-7f3a"
WRONG_PASSWORD = "Imap-Secret-91c2"
TOKEN = "ya29.Token-Secret-55d0"
SMTP_SECRET = "Smtp-Secret-c4e8"
BODY = "Body-Secret-0b6e the printer burns"


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_no_secret_or_body_reaches_the_log(
    tmp_path: Path, postgres_url: str, dovecot: Dovecot, imap_account: Account, log_format: str
) -> None:
    sink = Sink(auth=("relay", "the-right-one"))
    sink.start()
    try:
        # PostgreSQL here trusts loopback, so any password in the URL connects.
        db_url = make_url(postgres_url).set(password=DB_SECRET).render_as_string(False)
        engine = make_engine(db_url)
        upgrade(engine)
        engine.dispose()
        box = f'host = "{dovecot.host}"\nport = {dovecot.imap_port}\nsecurity = "none"\n'
        config = tmp_path / "maildesk.toml"
        config.write_text(
            f'[helpdesk]\naddress = "support@example.com"\n[database]\nurl = "{db_url}"\n'
            f'[smtp]\nhost = "127.0.0.1"\nport = {sink.port}\nsecurity = "none"\n'
            f'username = "relay"\npassword = "{SMTP_SECRET}"\n[[tiers]]\nname = "L1"\n'
            f'[[mailboxes]]\nname = "good"\n{box}username = "{imap_account.username}"\n'
            f'password = "{imap_account.password}"\n'
            f'[[mailboxes]]\nname = "wrong"\n{box}username = "{imap_account.username}"\n'
            f'password = "{WRONG_PASSWORD}"\n'
            f'[[mailboxes]]\nname = "oauth"\n{box}username = "{imap_account.username}"\n'
            f'auth = "xoauth2"\noauth2_token_file = "token"\n'
        )
        (tmp_path / "token").write_text(TOKEN + "\n")
        (tmp_path / "rules").mkdir()
        shutil.copytree(starter_dir("templates"), tmp_path / "templates")
        append(dovecot, imap_account, [mail(msgid="<secret1@example.org>", body=BODY)])

        process, log = start(config, "--log-format", log_format)
        try:
            wait_for(lambda: "<secret1@example.org>: stored" in log.read_text(), 30)
            wait_for(lambda: "imap:wrong" in log.read_text(), 30)
            wait_for(lambda: "imap:oauth" in log.read_text(), 30)
            wait_for(lambda: "authentication" in log.read_text().lower(), 30)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=15)
    finally:
        sink.stop()
    text = log.read_text()
    secrets = [DB_SECRET, WRONG_PASSWORD, TOKEN, SMTP_SECRET, imap_account.password, "Body-Secret"]
    leaked = [s for s in secrets if s in text]
    assert not leaked, text
    # The failures were told, without the secrets: this is what the operator reads.
    assert "login to" in text and "failed" in text
