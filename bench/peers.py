"""maildesk beside two peers on the same corpus: roundup-mailgw and django-helpdesk get_email.

The peers are installed into their own virtual environment (never into
maildesk's, never as its dependencies), pinned, on first use:
~/.cache/maildesk-bench/peers, or --venv. Each reads the same generated mail
(bench/mailgen.py) and stores it in SQLite, the way its documentation sets
it up:

- roundup 2.6.0, classic tracker, sqlite backend, unknown senders may
  register by mail (so that customers' mail makes issues), outgoing mail
  to a file: `roundup-mailgw TRACKER mailbox FILE.mbox`.
- django-helpdesk 2.6.1 (Django 5.2), one queue reading a real Dovecot over
  IMAP (its "local directory" reader opens files as UTF-8 text and stops at
  the first koi8-r mail), outgoing mail to files: `manage.py get_email`.
- maildesk: `maildesk import FILE.mbox` (the same mbox as roundup) and
  `maildesk run --once` over IMAP (the same Dovecot as django-helpdesk),
  acknowledgements queued and sent to a spool folder.

Seconds include each program's start; every program's modules are byte-compiled
beforehand, as pip leaves an installed package. Prints a table; nothing here is a test.

    .venv/bin/python bench/peers.py [--messages 1000] [--runs 3] [--venv PATH]

Each round runs the four in turn; the table gives each one's median seconds, the
spread over the rounds, and django-helpdesk's seconds over its own in the same round.
"""

from __future__ import annotations

import argparse
import mailbox
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.ingest import byte_compile, kept, write_desk
from bench.mailgen import messages
from maildesk.store.db import make_engine
from maildesk.store.schema import upgrade
from tests.support.dovecot import Account, Dovecot, find_dovecot, start_dovecot

PEERS = ["roundup==2.6.0", "django-helpdesk==2.6.1", "Django==5.2.19"]
DEFAULT_VENV = Path.home() / ".cache" / "maildesk-bench" / "peers"

DJANGO_SETTINGS = """\
SECRET_KEY = "bench"
DEBUG = False
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = [
    "django.contrib.admin", "django.contrib.auth", "django.contrib.contenttypes",
    "django.contrib.sessions", "django.contrib.messages", "django.contrib.sites",
    "django.contrib.humanize", "rest_framework", "helpdesk",
]
HELPDESK_TEAMS_MODE_ENABLED = False
SITE_ID = 1
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "db.sqlite3"}}
EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
EMAIL_FILE_PATH = "sent"
USE_TZ = True
ROOT_URLCONF = "urls"
MEDIA_ROOT = "media"
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
    ]},
}]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "ERROR"}}
"""

MANAGE = """\
import os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from django.core.management import execute_from_command_line
execute_from_command_line(sys.argv)
"""


def ensure_venv(venv: Path) -> Path:
    python = venv / "bin" / "python"
    if not python.exists():
        progress(f"installing {', '.join(PEERS)} into {venv}")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    found = subprocess.run(
        [str(python), "-m", "pip", "freeze"], capture_output=True, text=True, check=True
    ).stdout.lower()
    if not all(p.lower() in found for p in PEERS):
        subprocess.run([str(python), "-m", "pip", "install", "-q", *PEERS], check=True)
    return venv / "bin"


def timed(command: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{result.stderr[-3000:]}")
    return time.perf_counter() - started


def roundup(bin_dir: Path, work: Path, box: Path) -> tuple[float, int]:
    tracker = work / "roundup"
    subprocess.run(
        [str(bin_dir / "roundup-admin"), "-i", str(tracker), "install", "classic", "sqlite"],
        check=True,
        capture_output=True,
    )
    config = (tracker / "config.ini").read_text()
    config = config.replace("#domain = NO DEFAULT", "domain = example.com", 1)
    config = config.replace("#host = NO DEFAULT", "host = localhost", 1)
    config = config.replace("\ndebug = \n", "\ndebug = sent.log\n", 1)
    config = re.sub(r"(?m)^#?web = .*$", "web = http://localhost:8080/t/", config, count=1)
    (tracker / "config.ini").write_text(config)
    schema = (tracker / "schema.py").read_text()
    schema = schema.replace(
        "#db.security.addPermissionToRole('Anonymous', 'Email Access')",
        "db.security.addPermissionToRole('Anonymous', 'Email Access')",
    )
    (tracker / "schema.py").write_text(schema)
    subprocess.run(
        [str(bin_dir / "roundup-admin"), "-i", str(tracker), "initialise", "admin"],
        check=True,
        capture_output=True,
    )
    mbox = work / "roundup.mbox"
    shutil.copy(box, mbox)  # roundup empties the file it read
    seconds = timed([str(bin_dir / "roundup-mailgw"), str(tracker), "mailbox", str(mbox)], work)
    listed = subprocess.run(
        [str(bin_dir / "roundup-admin"), "-i", str(tracker), "list", "msg"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return seconds, len(listed.splitlines())


def django_helpdesk(
    bin_dir: Path, work: Path, server: Dovecot, account: Account
) -> tuple[float, int]:
    project = work / "django"
    project.mkdir()
    (project / "settings.py").write_text(DJANGO_SETTINGS)
    (project / "urls.py").write_text(
        "from django.urls import include, path\n"
        'urlpatterns = [path("h/", include("helpdesk.urls"))]\n'
    )
    (project / "manage.py").write_text(MANAGE)
    for folder in ("sent", "media"):
        (project / folder).mkdir()
    python = str(bin_dir / "python")
    subprocess.run([python, "manage.py", "migrate", "-v0"], cwd=project, check=True)
    queue = (
        "from helpdesk.models import Queue\n"
        "Queue.objects.create(title='Support', slug='support', email_address='support@example.com',"
        " allow_email_submission=True, email_box_type='imap', email_box_host='127.0.0.1',"
        f" email_box_port={server.imap_port}, email_box_ssl=False,"
        f" email_box_user='{account.username}', email_box_pass='{account.password}',"
        " email_box_imap_folder='INBOX', email_box_interval=0)\n"
    )
    subprocess.run(
        [python, "manage.py", "shell", "-c", queue], cwd=project, check=True, capture_output=True
    )
    seconds = timed([python, "manage.py", "get_email"], project)
    count = subprocess.run(
        [
            python,
            "manage.py",
            "shell",
            "-c",
            "from helpdesk.models import FollowUp; print(FollowUp.objects.count())",
        ],
        cwd=project,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()[-1]
    return seconds, int(count)


def maildesk_import(work: Path, box: Path) -> tuple[float, int]:
    url = f"sqlite:///{work / 'import.db'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    config = write_desk(work / "md-import", url)
    seconds = timed(
        [sys.executable, "-m", "maildesk", "-c", str(config), "import", str(box), "--json"], work
    )
    return seconds, kept(url)


def maildesk_imap(work: Path, server: Dovecot, account: Account) -> tuple[float, int]:
    url = f"sqlite:///{work / 'imap.db'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    config = write_desk(
        work / "md-imap",
        url,
        f'[[mailboxes]]\nname = "b"\nhost = "127.0.0.1"\nport = {server.imap_port}\n'
        f'security = "none"\nusername = "{account.username}"\npassword = "{account.password}"\n',
    )
    seconds = timed([sys.executable, "-m", "maildesk", "-c", str(config), "run", "--once"], work)
    return seconds, kept(url)


def fill(server: Dovecot, corpus: list[bytes]) -> Account:
    account = server.add_account()
    client = server.client(account)
    for raw in corpus:
        client.append("INBOX", raw)
    client.logout()
    return account


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3, help="rounds of all four (default 3)")
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV)
    args = parser.parse_args()
    bin_dir = ensure_venv(args.venv)
    corpus = list(messages(args.messages, seed=21))
    byte_compile()
    binary = find_dovecot()
    if binary is None:
        sys.exit("bench needs Dovecot (apt-get install dovecot-imapd)")
    server = start_dovecot(binary)
    work = Path(tempfile.mkdtemp(prefix="maildesk-peers-"))
    names = [
        ("roundup 2.6.0", "mbox -> mailgw"),
        ("django-helpdesk 2.6.1", "IMAP -> get_email"),
        ("maildesk", "mbox -> import"),
        ("maildesk", "IMAP -> run --once"),
    ]
    seconds: list[list[float]] = [[] for _ in names]
    stored: list[set[int]] = [set() for _ in names]
    try:
        box = work / "corpus.mbox"
        mbox = mailbox.mbox(str(box))
        for raw in corpus:
            mbox.add(raw)
        mbox.close()
        for run in range(1, args.runs + 1):
            # The four one after another in each round: a slower spell of a shared
            # machine falls on all of them, and each ratio is of the same round.
            here = work / f"run{run}"
            here.mkdir()
            progress(f"round {run} of {args.runs}: roundup-mailgw")
            took = [roundup(bin_dir, here, box)]
            progress(f"round {run} of {args.runs}: django-helpdesk get_email")
            took.append(django_helpdesk(bin_dir, here, server, fill(server, corpus)))
            progress(f"round {run} of {args.runs}: maildesk")
            took.append(maildesk_import(here, box))
            took.append(maildesk_imap(here, server, fill(server, corpus)))
            for n, (spent, kept_) in enumerate(took):
                seconds[n].append(spent)
                stored[n].add(kept_)
    finally:
        server.stop()
        shutil.rmtree(server.root, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
    print(
        f"\n{args.messages} messages, SQLite, {os.cpu_count()} cores, one process each, "
        f"{args.runs} rounds: median (min-max)\n"
    )
    header = ("system", "path", "seconds", "spread", "msg/s", "x django", "stored")
    print("{:<22} {:<19} {:>8} {:>12} {:>7} {:>12} {:>7}".format(*header))
    django = seconds[1]
    for n, (system, path) in enumerate(names):
        ratios = sorted(d / s for d, s in zip(django, seconds[n], strict=True))
        cells = (
            system,
            path,
            statistics.median(seconds[n]),
            f"{min(seconds[n]):.1f}-{max(seconds[n]):.1f}",
            args.messages / statistics.median(seconds[n]),
            f"{statistics.median(ratios):.1f} ({ratios[0]:.1f}-{ratios[-1]:.1f})",
            "/".join(str(k) for k in sorted(stored[n])),
        )
        print("{:<22} {:<19} {:>8.1f} {:>12} {:>7.1f} {:>12} {:>7}".format(*cells))


def progress(line: str) -> None:
    print(f"... {line}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
