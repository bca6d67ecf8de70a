"""A throwaway Dovecot IMAP server on loopback: own config, passwd-file users, Maildir.

No systemd and no system config: everything lives in one temporary folder.
Started once per test session; each test gets its own user (own mailbox).
"""

from __future__ import annotations

import contextlib
import grp
import itertools
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from imapclient import IMAPClient

from tests.support.need import free_port, wait_for_port


@dataclass
class Account:
    username: str
    password: str


DOVECOT_PATHS = ("/usr/sbin/dovecot", "/usr/local/sbin/dovecot")
ACCOUNTS = 500


def account(serial: int) -> Account:
    return Account(f"user{serial}@example.com", f"secret-{serial}")


def find_dovecot() -> str | None:
    found = shutil.which("dovecot")
    if found:
        return found
    return next((p for p in DOVECOT_PATHS if os.access(p, os.X_OK)), None)


@dataclass
class Dovecot:
    root: Path
    imap_port: int
    imaps_port: int
    cert: Path
    process: subprocess.Popen[bytes] | None = None
    _serial: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    host = "127.0.0.1"

    @property
    def passwd(self) -> Path:
        return self.root / "passwd"

    def add_account(self) -> Account:
        """A user nobody has used yet, so its mailbox is empty.

        The users are written before start: Dovecot re-reads passwd-file at
        most once a second, so users added while it runs may not log in.
        """
        serial = next(self._serial)
        if serial > ACCOUNTS:
            raise RuntimeError(f"all {ACCOUNTS} test accounts are used; raise ACCOUNTS")
        return account(serial)

    def client(self, account: Account) -> IMAPClient:
        client = IMAPClient(self.host, port=self.imap_port, ssl=False, timeout=10)
        client.login(account.username, account.password)
        return client

    binary: str = "dovecot"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "-F", "-c", str(self.root / "dovecot.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: stop() ends the imap processes too
        )
        if not (wait_for_port(self.imap_port) and wait_for_port(self.imaps_port)):
            self.stop()
            log_file = self.root / "dovecot.log"
            log = log_file.read_text() if log_file.exists() else ""
            raise RuntimeError(f"dovecot did not start:\n{log}")

    def restart(self) -> None:
        """Stop and start again on the same ports: every open connection drops."""
        self.stop()
        self.start()

    def stop(self) -> None:
        """Stop the server and every process it started: open IMAP sessions end too.

        Dovecot's imap processes outlive their master's SIGTERM, so a stopped
        server would still answer on connections made before.
        """
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)


def _users() -> tuple[str, str, str, int, int]:
    """(internal user, its group, login user, mail uid, mail gid).

    Dovecot refuses to run login processes or mail access as root, so as
    root we use the accounts Debian's package creates; otherwise our own.
    """
    if os.geteuid() != 0:
        me, group = pwd.getpwuid(os.getuid()).pw_name, grp.getgrgid(os.getgid()).gr_name
        return me, group, me, os.getuid(), os.getgid()
    dovecot = pwd.getpwnam("dovecot")
    return (
        "dovecot",
        grp.getgrgid(dovecot.pw_gid).gr_name,
        "dovenull",
        dovecot.pw_uid,
        dovecot.pw_gid,
    )


def start_dovecot(binary: str) -> Dovecot:
    root = Path(tempfile.mkdtemp(prefix="maildesk-dovecot-"))
    root.chmod(0o755)  # the unprivileged login and auth processes must reach their sockets
    internal, group, login, uid, gid = _users()
    mail = root / "mail"
    mail.mkdir()
    os.chown(mail, uid, gid)
    cert, key = root / "cert.pem", root / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        check=True,
        capture_output=True,
    )
    server = Dovecot(root=root, imap_port=free_port(), imaps_port=free_port(), cert=cert)
    server.passwd.write_text(
        "".join(
            f"{a.username}:{{PLAIN}}{a.password}\n" for a in map(account, range(1, ACCOUNTS + 1))
        )
    )
    (root / "dovecot.conf").write_text(f"""
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
disable_plaintext_auth = no
auth_mechanisms = plain login xoauth2 oauthbearer
auth_cache_size = 0
auth_failure_delay = 0
default_internal_user = {internal}
default_internal_group = {group}
default_login_user = {login}
first_valid_uid = 1
mail_location = maildir:{mail}/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {server.passwd}
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={mail}/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    port = {server.imap_port}
  }}
  inet_listener imaps {{
    port = {server.imaps_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
""")
    server.binary = binary
    server.start()
    return server
