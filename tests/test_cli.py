"""The maildesk command: the newcomer's flow, exit codes, --json shapes, --help."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from maildesk.cli.main import cli
from maildesk.store.db import make_engine, session_factory
from maildesk.store.models import Attachment, Customer, Event, Message, Ticket
from maildesk.store.schema import head_revision, upgrade
from tests.support.cli import _commands, maildesk
from tests.support.desks import Run
from tests.support.store import T0


def test_newcomer_flow_prints_an_empty_list(tmp_path: Path) -> None:
    desk = tmp_path / "d"
    assert maildesk("init", str(desk)).returncode == 0
    config = str(desk / "maildesk.toml")
    checked = maildesk("-c", config, "check")
    assert checked.returncode == 0, checked.stderr
    assert maildesk("-c", config, "db", "upgrade").returncode == 0
    listed = maildesk("-c", config, "tickets", "list", "--json")
    assert (listed.returncode, listed.stdout.strip(), listed.stderr) == (0, "[]", "")


def test_init_writes_a_complete_desk(run: Run, tmp_path: Path) -> None:
    code, out, _ = run("init", str(tmp_path / "d"))
    assert code == 0 and "maildesk -c" in out
    desk = tmp_path / "d"
    assert sorted(p.name for p in desk.iterdir()) == [
        "customers.yaml",
        "kb",
        "maildesk.db",
        "maildesk.toml",
        "outgoing",
        "rules",
        "templates",
    ]
    assert (desk / "rules" / "00-default.yaml").exists()
    assert (desk / "templates" / "acknowledgement.en.txt").exists()
    code, _, err = run("init", str(desk))
    assert code == 2 and "already exists (use --force to overwrite)" in err
    assert run("init", "--force", str(desk))[0] == 0


def test_config_errors_exit_2_with_one_line_each(tmp_path: Path) -> None:
    config = tmp_path / "maildesk.toml"
    config.write_text(
        '[helpdesk]\naddress = "s@example.com"\nadress = "x"\n'
        '[[mailboxes]]\nname = "m"\nhost = "h"\nport = "abc"\n'
        'username = "u"\npassword = "p"\n'
    )
    result = maildesk("-c", str(config), "check")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f'maildesk: {config}: helpdesk.adress: unknown key (did you mean "address"?)',
        f'maildesk: {config}: mailboxes[0].port: expected an integer, got "abc"',
        f"maildesk: {config}: smtp: required key is missing",
    ]
    assert "Traceback" not in result.stderr + result.stdout
    for command in (["tickets", "list"], ["db", "upgrade"], ["run", "--once"]):
        other = maildesk("-c", str(config), *command)
        assert other.returncode == 2 and "Traceback" not in other.stderr


def test_config_comes_from_the_environment_then_the_working_folder(tmp_path: Path) -> None:
    maildesk("init", str(tmp_path / "d"))
    env = {**os.environ, "MAILDESK_CONFIG": str(tmp_path / "d" / "maildesk.toml")}
    assert maildesk("tickets", "list", env=env).returncode == 0
    env.pop("MAILDESK_CONFIG")
    assert maildesk("tickets", "list", env=env, cwd=tmp_path / "d").returncode == 0
    missing = maildesk("tickets", "list", env=env, cwd=tmp_path)
    assert missing.returncode == 2
    assert missing.stderr.strip() == (
        "maildesk: maildesk.toml: config file not found (give -c PATH, set MAILDESK_CONFIG, "
        "or create one with `maildesk init DIR`)"
    )


def test_check_reports_bad_rules_and_templates(
    run: Run, write_desk: Callable[..., Path], minimal_config: Callable[[], str]
) -> None:
    config = write_desk(minimal_config())
    (config.parent / "rules" / "50-broken.yaml").write_text("- name: x\n  then: [\n")
    (config.parent / "templates" / "broken.en.txt").write_text("Hi\n{{ customer.name \n")
    code, out, err = run("-c", str(config), "check")
    assert code == 2
    assert "FAIL rules" in out and "FAIL templates" in out and "ok   config" in out
    assert f"{config.parent}/rules/50-broken.yaml:3: invalid YAML" in err
    assert f"{config.parent}/templates/broken.en.txt:2: " in err
    code, out, _ = run("-c", str(config), "check", "--json")
    report = json.loads(out)
    assert code == 2 and report["ok"] is False
    assert {p["where"].rsplit("/", 1)[-1] for p in report["problems"]} == {
        "50-broken.yaml:3",
        "broken.en.txt:2",
    }


def test_check_explains_the_trust_settings(
    run: Run, write_desk: Callable[..., Path], minimal_config: Callable[[], str]
) -> None:
    config = write_desk(minimal_config())
    code, out, _ = run("-c", str(config), "check")
    assert code == 0
    assert "ok   trust: only the requester, the people they or an agent put in To/Cc" in out
    assert "no Authentication-Results are believed (trust.authserv_id unset)" in out
    assert "agents are known by their From address" in out
    assert "warn " in out and "trust.authserv_id: not set" in out
    text = config.read_text().replace(
        'address = "support@example.com"',
        'address = "support@example.com"\ntrust_agents = "sender"\njoin = "anyone"',
    )
    config.write_text(text + '\n[trust]\nauthserv_id = ["mx.example.com"]\n')
    code, out, _ = run("-c", str(config), "check", "--json")
    report = json.loads(out)
    assert code == 0 and report["ok"] is True
    [trust] = [c for c in report["checks"] if c["name"] == "trust"]
    assert "Authentication-Results of mx.example.com are believed" in trust["detail"]
    warned = [w["what"] for w in report["warnings"]]
    assert [w.split(":", 1)[0] for w in warned] == ["helpdesk.trust_agents", "helpdesk.join"]
    config.write_text(config.read_text().replace('trust_agents = "sender"\n', ""))
    code, out, _ = run("-c", str(config), "check")
    assert "agents must pass authentication" in out


def test_check_reports_unset_password_variable(
    run: Run, write_desk: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MD_TEST_PW", raising=False)
    config = write_desk(
        '[helpdesk]\naddress = "s@example.com"\n[smtp]\nhost = "relay"\n'
        'username = "u"\npassword_env = "MD_TEST_PW"\n',
        rules=False,
    )
    code, _, err = run("-c", str(config), "check")
    assert code == 2
    assert err.strip() == (
        f"maildesk: {config}: smtp.password_env: environment variable MD_TEST_PW is not set"
    )
    # Reading tickets does not need the relay's password.
    assert run("-c", str(config), "db", "upgrade")[0] == 0
    assert run("-c", str(config), "tickets", "list")[0] == 0


def fill(url: str) -> int:
    engine = make_engine(url)
    with session_factory(engine).begin() as s:
        number = _ticket(s)
    engine.dispose()
    return number


def _ticket(s: Session) -> int:
    alice = Customer(address="alice@example.org", name="Alice")
    ticket = Ticket(
        subject="VPN is down",
        status="open",
        priority="high",
        tier="L2",
        requester=alice,
        assignee="carol@example.com",
        created_at=T0,
        updated_at=T0,
    )
    message = Message(
        ticket=ticket,
        direction="in",
        dedupe_key="<m1@example.org>",
        message_id="<m1@example.org>",
        from_address="alice@example.org",
        from_name="Alice",
        to=["support@example.com"],
        cc=["boss@example.org"],
        subject="VPN is down",
        date=T0,
        visible_text="It broke.",
        raw=b"...",
    )
    message.attachments.append(Attachment(filename="err.png", content_type="image/png", size=1234))
    note = Message(
        ticket=ticket,
        direction="out",
        dedupe_key="<n1@example.com>",
        message_id="<n1@example.com>",
        from_address="carol@example.com",
        subject="note",
        date=T0,
        visible_text="Looking.",
        is_note=True,
    )
    s.add_all(
        [
            ticket,
            message,
            note,
            Event(
                ticket=ticket,
                at=T0,
                actor="carol@example.com",
                kind="assigned",
                detail={"to": "carol@example.com"},
            ),
        ]
    )
    s.flush()
    return ticket.id


@pytest.fixture
def desk_with_ticket(
    write_desk: Callable[..., Path], minimal_config: Callable[[str], str], db_url: str
) -> tuple[Path, int]:
    config = write_desk(minimal_config(db_url))
    engine = make_engine(db_url)
    upgrade(engine)
    engine.dispose()
    return config, fill(db_url)


def test_tickets_list_json_shape(run: Run, desk_with_ticket: tuple[Path, int]) -> None:
    config, number = desk_with_ticket
    code, out, _ = run("-c", str(config), "tickets", "list", "--json")
    assert code == 0
    assert json.loads(out) == [
        {
            "id": number,
            "token": f"[#{number}]",
            "subject": "VPN is down",
            "status": "open",
            "priority": "high",
            "tier": "L2",
            "requester": "alice@example.org",
            "assignee": "carol@example.com",
            "created_at": "2026-11-20T09:30:00+00:00",
            "updated_at": "2026-11-20T09:30:00+00:00",
            "message_count": 2,
            "sla": {
                "policy": None,
                "first_response_due": None,
                "first_response_at": None,
                "next_response_due": None,
                "resolution_due": None,
            },
        }
    ]
    assert (
        json.loads(run("-c", str(config), "tickets", "list", "--json", "--status", "closed")[1])
        == []
    )
    assert (
        len(json.loads(run("-c", str(config), "tickets", "list", "--json", "--tier", "L2")[1])) == 1
    )


def test_tickets_show_json_shape(run: Run, desk_with_ticket: tuple[Path, int]) -> None:
    config, number = desk_with_ticket
    code, out, _ = run("-c", str(config), "tickets", "show", f"[#{number}]", "--json")
    data = json.loads(out)
    assert code == 0 and data["id"] == number and data["message_count"] == 2
    first, note = data["messages"]
    assert first == {
        "id": first["id"],
        "direction": "in",
        "message_id": "<m1@example.org>",
        "from": "alice@example.org",
        "to": ["support@example.com"],
        "cc": ["boss@example.org"],
        "subject": "VPN is down",
        "date": "2026-11-20T09:30:00+00:00",
        "visible_text": "It broke.",
        "is_note": False,
        "attachments": [{"filename": "err.png", "size": 1234, "content_type": "image/png"}],
    }
    assert note["is_note"] is True and note["direction"] == "out"
    assert data["events"] == [
        {
            "id": data["events"][0]["id"],
            "at": "2026-11-20T09:30:00+00:00",
            "actor": "carol@example.com",
            "kind": "assigned",
            "detail": {"to": "carol@example.com"},
        }
    ]


def test_tickets_for_people(run: Run, desk_with_ticket: tuple[Path, int]) -> None:
    config, number = desk_with_ticket
    code, out, _ = run("-c", str(config), "tickets", "list")
    assert code == 0
    header, row = out.splitlines()
    assert header.split() == [
        "TICKET",
        "STATUS",
        "PRIORITY",
        "TIER",
        "REQUESTER",
        "ASSIGNEE",
        "MSGS",
        "UPDATED",
        "SUBJECT",
    ]
    assert row.split()[:7] == [
        f"[#{number}]",
        "open",
        "high",
        "L2",
        "alice@example.org",
        "carol@example.com",
        "2",
    ]
    code, out, _ = run("-c", str(config), "tickets", "show", str(number))
    assert code == 0 and "It broke." in out and "err.png" in out and "assigned" in out
    code, _, err = run("-c", str(config), "tickets", "show", "99999")
    assert (code, err.strip()) == (1, "maildesk: no ticket 99999")


def test_bad_usage_exits_2(run: Run, desk_with_ticket: tuple[Path, int]) -> None:
    config, _ = desk_with_ticket
    code, _, err = run("-c", str(config), "tickets", "list", "--status", "lost")
    assert code == 2 and "Invalid value for '--status'" in err


def test_db_status(
    run: Run, write_desk: Callable[..., Path], minimal_config: Callable[[], str]
) -> None:
    config = write_desk(minimal_config())
    code, out, _ = run("-c", str(config), "db", "status", "--json")
    assert code == 1 and json.loads(out) == {
        "current": None,
        "head": head_revision(),
        "up_to_date": False,
    }
    code, out, _ = run("-c", str(config), "db", "upgrade")
    assert code == 0 and f"from nothing to {head_revision()}" in out
    code, out, _ = run("-c", str(config), "db", "status")
    assert code == 0 and "up to date" in out


def test_run_refuses_an_old_schema_and_a_bad_rule(
    run: Run, write_desk: Callable[..., Path], minimal_config: Callable[[], str]
) -> None:
    config = write_desk(minimal_config())
    code, _, err = run("-c", str(config), "run", "--once")
    assert code == 2 and f"run `maildesk -c {config} db upgrade`" in err
    run("-c", str(config), "db", "upgrade")
    assert run("-c", str(config), "run", "--once")[0] == 0
    (config.parent / "rules" / "99-bad.yaml").write_text("- name: x\n  colour: red\n  then: {}\n")
    code, _, err = run("-c", str(config), "run", "--once")
    assert code == 2 and '99-bad.yaml:2: unknown key "colour"' in err


def test_database_down_is_a_temporary_failure(
    run: Run, write_desk: Callable[..., Path], minimal_config: Callable[[str], str]
) -> None:
    pytest.importorskip("psycopg")
    from tests.support.need import free_port

    url = f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/none?connect_timeout=2"
    config = write_desk(minimal_config(url))
    code, _, err = run("-c", str(config), "tickets", "list")
    assert code == 75 and "database unavailable" in err and "try again" in err


def test_run_stops_on_sigterm(tmp_path: Path) -> None:
    from tests.support.need import free_port

    maildesk("init", str(tmp_path / "d"))
    config = tmp_path / "d" / "maildesk.toml"
    port = free_port()
    config.write_text(config.read_text().replace("127.0.0.1:8025", f"127.0.0.1:{port}"))
    process = subprocess.Popen(
        [sys.executable, "-m", "maildesk", "-c", str(config), "run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        lines = [process.stderr.readline(), process.stderr.readline()]
        assert f"listening for SMTP on 127.0.0.1:{port}" in lines[0]
        assert "maildesk ready for support@example.com" in lines[1]
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        assert time.monotonic() - started < 10
        assert "received SIGTERM" in process.stderr.read()
    finally:
        process.kill()
        process.wait()


def test_run_says_when_the_listen_address_is_taken(
    run: Run, write_desk: Callable[..., Path], minimal_config: Callable[[], str]
) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = write_desk(minimal_config() + f'[inbound]\nlisten = "127.0.0.1:{port}"\n')
        run("-c", str(config), "db", "upgrade")
        code, _, err = run("-c", str(config), "run")
    assert code == 2
    assert f"inbound.listen: cannot listen on 127.0.0.1:{port}" in err


@pytest.mark.parametrize("command", _commands(cli), ids=lambda c: " ".join(c) or "maildesk")
def test_every_command_has_help(run: Run, command: tuple[str, ...]) -> None:
    code, out, _ = run(*command, "--help")
    assert code == 0 and out.startswith("Usage: maildesk") and len(out.splitlines()) > 3


def test_version(run: Run) -> None:
    from maildesk import __version__

    code, out, _ = run("--version")
    assert (code, out.strip()) == (0, f"maildesk, version {__version__}")


def test_customer_text_is_shown_literally(
    run: Run, write_desk: Callable[..., Path], minimal_config: Callable[[], str]
) -> None:
    """A subject is data: no rich markup, no terminal escapes reach the screen."""
    config = write_desk(minimal_config())
    run("-c", str(config), "db", "upgrade")
    engine = make_engine(f"sqlite:///{config.parent / 'maildesk.db'}")
    with session_factory(engine).begin() as s:
        s.add(Ticket(subject="[bold red]help[/] \x1b[2Jnow", created_at=T0, updated_at=T0))
    engine.dispose()
    code, out, _ = run("-c", str(config), "tickets", "list")
    assert code == 0 and "[bold red]help[/] [2Jnow" in out and "\x1b" not in out
    code, out, _ = run("-c", str(config), "tickets", "show", "1")
    assert code == 0 and "[bold red]help[/]" in out and "\x1b" not in out


def test_the_lazy_command_table_matches_the_commands() -> None:
    """`maildesk --help` lists commands from a table without importing them: each entry
    names a real command and says what that command's own help says."""
    import click

    from maildesk.cli.main import COMMANDS, cli

    ctx = click.Context(cli)
    for name, (_, _, text) in COMMANDS.items():
        command = cli.get_command(ctx, name)
        assert command is not None and command.name == name
        stand_in = click.Command(name, help=text)
        assert stand_in.get_short_help_str(300) == command.get_short_help_str(300), name


def test_help_imports_no_command() -> None:
    """The start of every command pays only for what it uses."""
    probe = (
        "import sys\nfrom maildesk.cli.main import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('maildesk.daemon', 'maildesk.pipeline', 'alembic', 'rich',"
        " 'apscheduler', 'aiosmtpd', 'sqlalchemy.dialects.postgresql') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
