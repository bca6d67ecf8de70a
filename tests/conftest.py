"""Fixtures: real servers on loopback (Dovecot, an aiosmtpd sink, PostgreSQL) and desks.

Server fixtures skip when the server is missing, unless
MAILDESK_REQUIRE_SERVERS=1, when they fail (CI sets it).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from maildesk.cli.main import main
from maildesk.starter import starter_dir
from maildesk.store.db import make_engine
from maildesk.store.schema import upgrade
from tests import corpus
from tests.support import postgres
from tests.support.desks import Run
from tests.support.dovecot import Account, Dovecot, find_dovecot, start_dovecot
from tests.support.need import REQUIRE, missing, servers_required
from tests.support.smtpsink import Sink

# The fixtures that start a real server: a test using one is a `servers` test.
SERVER_FIXTURES = frozenset({"dovecot", "postgres_server", "smtp_sink", "private_postgres"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that talks to a real server carries the ``servers`` marker, so
    ``pytest -m "not servers"`` runs the pure ones. Tests that start their own
    server say so with ``@pytest.mark.servers``."""
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        callspec = getattr(item, "callspec", None)
        on_postgres = callspec is not None and callspec.params.get("db_url") == "postgresql"
        if names & SERVER_FIXTURES or on_postgres:
            item.add_marker(pytest.mark.servers)


def pytest_sessionstart(session: pytest.Session) -> None:
    """Under MAILDESK_REQUIRE_SERVERS a missing corpus ends the run before it starts:
    its parametrized tests would otherwise just not exist (hundreds of cases)."""
    if servers_required() and not corpus.present():
        raise pytest.UsageError(
            f"the shared mail corpus is required ({REQUIRE} is set) but not at "
            f"{corpus.CORPUS}: {corpus.HOW}"
        )


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    binary = find_dovecot()
    if binary is None:
        missing("Dovecot", "install Debian's dovecot-imapd (apt-get install dovecot-imapd)")
    if shutil.which("openssl") is None:
        missing("openssl", "install Debian's openssl (for the test server's certificate)")
    server = start_dovecot(binary)
    yield server
    server.stop()
    shutil.rmtree(server.root, ignore_errors=True)


@pytest.fixture
def imap_account(dovecot: Dovecot) -> Account:
    """A fresh user, so every test starts with an empty mailbox."""
    return dovecot.add_account()


@pytest.fixture
def smtp_sink() -> Iterator[Sink]:
    sink = Sink().start()
    yield sink
    sink.stop()


@pytest.fixture(scope="session")
def postgres_server() -> str:
    url = postgres.server_url()
    if url is None:
        missing("PostgreSQL", postgres.HOW)
    try:
        import psycopg  # noqa: F401
    except ImportError:
        missing("psycopg", "pip install -e '.[postgres]'")
    return url


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A new, empty PostgreSQL database for one test."""
    try:
        url = postgres.create_database(postgres_server)
    except Exception as exc:  # the server is down or refuses us
        missing("PostgreSQL", f"{postgres.HOW} ({type(exc).__name__}: {exc})")
    yield url
    postgres.drop_database(postgres_server, url)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each storage test runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'maildesk.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on an upgraded, empty database."""
    eng = make_engine(db_url)
    upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def write_desk(tmp_path: Path) -> Callable[..., Path]:
    """Write a desk folder (config + shipped rules and templates); returns the config path."""

    def write(config: str, *, rules: bool = True, templates: bool = True) -> Path:
        desk = tmp_path / "desk"
        desk.mkdir(exist_ok=True)
        if rules:
            shutil.copytree(starter_dir("rules"), desk / "rules", dirs_exist_ok=True)
        else:
            (desk / "rules").mkdir(exist_ok=True)
        if templates:
            shutil.copytree(starter_dir("templates"), desk / "templates", dirs_exist_ok=True)
        path = desk / "maildesk.toml"
        path.write_text(config, encoding="utf-8")
        return path

    return write


MINIMAL = """
[helpdesk]
address = "support@example.com"

[database]
url = "{url}"

[smtp]
spool_dir = "outgoing"

[[tiers]]
name = "L1"
agents = ["agent@example.com"]
escalates_to = "L2"

[[tiers]]
name = "L2"
escalates_to = "L3"

[[tiers]]
name = "L3"

[[sla_policies]]
name = "normal"
first_response = "2h"

[[sla_policies]]
name = "urgent"
first_response = "15m"

[[sla_policies]]
name = "corporate"
first_response = "1h"
"""


@pytest.fixture
def minimal_config() -> Callable[[str], str]:
    return lambda url="sqlite:///maildesk.db": MINIMAL.format(url=url)


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    def invoke(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return invoke
