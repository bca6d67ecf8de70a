"""Config validation: one clear line per problem, paths relative to the file."""

from __future__ import annotations

import textwrap
from datetime import time
from pathlib import Path

import pytest

from maildesk.config import load_settings, read_password, secret_problems
from maildesk.config.model import Settings
from maildesk.config.semantics import parse_weekly
from maildesk.errors import UserError
from maildesk.starter import CONFIG as STARTER

REPO = Path(__file__).resolve().parent.parent

BASE = """
[helpdesk]
address = "support@example.com"
[smtp]
spool_dir = "outgoing"
"""

MAILBOX = """
[[mailboxes]]
name = "support"
host = "imap.example.com"
username = "support@example.com"
password = "secret"
"""


def write(tmp_path: Path, text: str, name: str = "maildesk.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems(tmp_path: Path, text: str) -> list[str]:
    path = write(tmp_path, text)
    with pytest.raises(UserError) as caught:
        load_settings(path)
    prefix = f"{path}: "
    lines = [str(p) for p in caught.value.problems]
    assert all(line.startswith(prefix) for line in lines), lines
    return [line.removeprefix(prefix) for line in lines]


def test_minimal_config_gets_documented_defaults(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, BASE))
    assert settings.helpdesk.token_format == "[#{id}]"
    assert settings.database.url == f"sqlite:///{tmp_path / 'maildesk.db'}"
    assert settings.paths.rules == tmp_path / "rules"
    assert settings.paths.templates == tmp_path / "templates"
    assert settings.smtp.spool_dir == tmp_path / "outgoing"
    assert settings.mailboxes == () and settings.tiers == () and settings.inbound is None
    assert settings.source == tmp_path / "maildesk.toml"


def test_mailbox_defaults(tmp_path: Path) -> None:
    box = load_settings(write(tmp_path, BASE + MAILBOX)).mailboxes[0]
    assert (box.security, box.effective_port, box.folder) == ("tls", 993, "INBOX")
    assert (box.processed_folder, box.quarantine_folder) == ("Processed", "Quarantine")
    assert (box.poll_interval, box.idle) == (30, True)


@pytest.mark.parametrize(("security", "port"), [("tls", 465), ("starttls", 587), ("none", 25)])
def test_smtp_port_follows_security(tmp_path: Path, security: str, port: int) -> None:
    text = (
        f'[helpdesk]\naddress = "s@example.com"\n[smtp]\nhost = "relay"\nsecurity = "{security}"\n'
    )
    assert load_settings(write(tmp_path, text)).smtp.effective_port == port


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (MAILBOX + 'port = "abc"\n', ['mailboxes[0].port: expected an integer, got "abc"']),
        (MAILBOX + 'port = "993"\n', ['mailboxes[0].port: expected an integer, got "993"']),
        (MAILBOX + "port = 0\n", ["mailboxes[0].port: expected at least 1, got 0"]),
        (
            MAILBOX + 'security = "ssl"\n',
            ['mailboxes[0].security: expected one of "tls", "starttls", "none"; got "ssl"'],
        ),
        (MAILBOX + 'idle = "yes"\n', ['mailboxes[0].idle: expected true or false, got "yes"']),
        (
            MAILBOX + "poll_interval = 0\n",
            ["mailboxes[0].poll_interval: expected at least 1, got 0"],
        ),
        (
            MAILBOX + 'pasword = "x"\n',
            ['mailboxes[0].pasword: unknown key (did you mean "password"?)'],
        ),
        (
            '[[mailboxes]]\nname = "a"\nusername = "u"\npassword = "p"\n',
            ["mailboxes[0].host: required key is missing"],
        ),
        ("[paths]\nrules = 5\n", ["paths.rules: expected a path (a string), got 5"]),
        (
            '[inbound]\nprotocol = "pop3"\n',
            ['inbound.protocol: expected one of "smtp", "lmtp"; got "pop3"'],
        ),
        ("[[tiers]]\nagents = []\n", ["tiers[0].name: required key is missing"]),
        (
            '[[tiers]]\nname = "L1"\nagents = ["bob"]\n',
            [
                "tiers[0].agents[0]: expected an e-mail address like "
                '"support@example.com", got "bob"'
            ],
        ),
        (
            '[[tiers]]\nname = "L1"\nagents = "bob@example.com"\n',
            ['tiers[0].agents: expected a list, got "bob@example.com"'],
        ),
        (
            'colour = "blue"\n',
            [
                "colour: unknown key (known keys: agents, calendar, database, helpdesk, http, "
                "inbound, ingest, mailboxes, outbox, paths, problems, report, self_service, sla, "
                "sla_policies, smtp, survey, tiers, trust)"
            ],
        ),
    ],
)
def test_type_and_key_errors(tmp_path: Path, extra: str, expected: list[str]) -> None:
    # Top-level keys must come before the first table in TOML.
    text = extra + BASE if extra.startswith("colour") else BASE + extra
    assert problems(tmp_path, text) == expected


def test_missing_required_tables(tmp_path: Path) -> None:
    assert problems(tmp_path, "[database]\n") == [
        "helpdesk: required key is missing",
        "smtp: required key is missing",
    ]


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = BASE + MAILBOX + 'port = "abc"\nsecurity = "ssl"\n[inbound]\nlisten = 8025\n'
    assert problems(tmp_path, text) == [
        'mailboxes[0].port: expected an integer, got "abc"',
        'mailboxes[0].security: expected one of "tls", "starttls", "none"; got "ssl"',
        "inbound.listen: expected a string, got 8025",
    ]


def test_structure_and_meaning_are_checked_together(tmp_path: Path) -> None:
    """The README's example: a wrong type, a typo and an unknown tier, in one run."""
    text = (
        BASE
        + MAILBOX.replace('password = "secret"', 'pasword = "secret"')
        + 'port = "abc"\n[[tiers]]\nname = "L1"\nescalates_to = "L9"\n[[tiers]]\nname = "L2"\n'
    )
    assert problems(tmp_path, text) == [
        'mailboxes[0].port: expected an integer, got "abc"',
        'mailboxes[0].pasword: unknown key (did you mean "password"?)',
        "mailboxes[0]: give one of password, password_env or password_file",
        'tiers[0].escalates_to: unknown tier "L9" (tiers: L1, L2)',
    ]


def test_a_missing_required_key_stops_at_the_structure(tmp_path: Path) -> None:
    text = '[helpdesk]\nname = "x"\n[[tiers]]\nname = "L1"\nescalates_to = "L9"\n'
    assert problems(tmp_path, text) == [
        "helpdesk.address: required key is missing",
        "smtp: required key is missing",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            BASE.replace("[#{id}]", "") + MAILBOX + MAILBOX,
            ['mailboxes[1].name: "support" is already used by mailboxes[0]'],
        ),
        (
            BASE + MAILBOX + 'password_env = "X"\n',
            ["mailboxes[0]: give only one of password, password_env"],
        ),
        (
            BASE + MAILBOX.replace('password = "secret"\n', ""),
            ["mailboxes[0]: give one of password, password_env or password_file"],
        ),
        (
            BASE + MAILBOX + 'processed_folder = "INBOX"\n',
            ['mailboxes[0].processed_folder: must differ from folder (or be "")'],
        ),
        (
            '[helpdesk]\naddress = "s@example.com"\n[smtp]\nport = 25\n',
            [
                "smtp: set host (a relay to send through) or spool_dir "
                "(a folder to write outgoing .eml files to)"
            ],
        ),
        (BASE + 'host = "relay"\n', ["smtp: set either host or spool_dir, not both"]),
        (
            BASE + 'password = "p"\n',
            ["smtp.username: required key is missing (a password is given)"],
        ),
        (
            BASE.replace(
                'address = "support@example.com"',
                'address = "support@example.com"\ntoken_format = "[#{ticket}]"',
            ),
            [
                'helpdesk.token_format: must contain "{id}" exactly once and no other {fields}, '
                'got "[#{ticket}]"'
            ],
        ),
        (
            BASE.replace(
                'address = "support@example.com"',
                'address = "support@example.com"\ntimezone = "Mars/Olympus"',
            ),
            [
                'helpdesk.timezone: unknown time zone "Mars/Olympus" (use an IANA name such as '
                '"Europe/Berlin")'
            ],
        ),
        (
            BASE + '[database]\nurl = "mysql://x@y/z"\n',
            ['database.url: unsupported database "mysql" (use sqlite or postgresql)'],
        ),
        (
            BASE + '[database]\nurl = "not a url"\n',
            [
                'database.url: not a database URL: "not a url" (e.g. "sqlite:///maildesk.db" or '
                '"postgresql+psycopg://user@host/db")'
            ],
        ),
        (
            BASE + '[inbound]\nlisten = "localhost"\n',
            ['inbound.listen: expected "HOST:PORT" such as "127.0.0.1:8025", got "localhost"'],
        ),
        (
            BASE + '[[tiers]]\nname = "L1"\nescalates_to = "L9"\n',
            ['tiers[0].escalates_to: unknown tier "L9" (tiers: L1)'],
        ),
        (
            BASE + '[[tiers]]\nname = "L1"\nescalates_to = "L2"\n'
            '[[tiers]]\nname = "L2"\nescalates_to = "L1"\n',
            ["tiers[0].escalates_to: escalation goes in a circle (L1 -> L2 -> L1)"],
        ),
        (
            BASE + '[[tiers]]\nname = "L1"\n[[tiers]]\nname = "L1"\n',
            ['tiers[1].name: "L1" is already used by tiers[0]'],
        ),
        (
            BASE + MAILBOX.replace('password = "secret"', 'auth = "xoauth2"'),
            [
                'mailboxes[0]: auth = "xoauth2" needs exactly one of oauth2_token_command or '
                "oauth2_token_file"
            ],
        ),
        (
            BASE + MAILBOX + 'auth = "xoauth2"\noauth2_token_file = "t"\n',
            ['mailboxes[0]: auth = "xoauth2" takes a token, not a password'],
        ),
        (
            BASE + MAILBOX + 'oauth2_token_file = "t"\n',
            ['mailboxes[0].oauth2_token_file: only used with auth = "xoauth2"'],
        ),
        (
            BASE + '[sla]\nby_priority = { urgent = "fast" }\ndigest_at = "8.30"\n'
            'at_risk_within = "soon"\n'
            '[[sla_policies]]\nname = "normal"\n',
            [
                'sla.by_priority.urgent: unknown SLA policy "fast" (known: normal)',
                'sla.digest_at: expected a time like "08:30", got "8.30"',
                'sla.at_risk_within: expected a duration like "4h" or "1d", got "soon"',
            ],
        ),
        (
            BASE + '[report]\nweekly = "monday at 8"\n',
            [
                'report.weekly: expected a weekday and a time like "mon 08:00", got "monday at 8"',
                "report.weekly: nobody would get it: give a tier a lead, or set report.to",
            ],
        ),
        (
            BASE + '[calendar]\nholidays_file = "nowhere.ics"\n',
            ["calendar.holidays_file: {dir}/nowhere.ics: cannot read: No such file or directory"],
        ),
        (
            BASE.replace(
                'address = "support@example.com"',
                'address = "support@example.com"\ntrust_agents = "authenticated"',
            ),
            [
                'helpdesk.trust_agents: "authenticated" needs trust.authserv_id, the id your '
                "receiving MTA writes in Authentication-Results (without it anyone can write one)"
            ],
        ),
        (
            BASE + '[trust]\nauthserv_id = ["mx.example.com; dmarc=pass"]\nsuspicious = "drop"\n',
            [
                'trust.suspicious: expected one of "ticket", "hold"; got "drop"',
                # Checked too, although the structure was wrong: every problem at once.
                "trust.authserv_id[0]: expected the host name your MTA writes first in "
                'Authentication-Results (e.g. "mx.example.com"), got "mx.example.com; dmarc=pass"',
            ],
        ),
        (
            BASE + '[trust]\nauthserv_id = ["mx example"]\n',
            [
                "trust.authserv_id[0]: expected the host name your MTA writes first in "
                'Authentication-Results (e.g. "mx.example.com"), got "mx example"'
            ],
        ),
        (
            BASE.replace(
                'address = "support@example.com"',
                'address = "support@example.com"\nfreemail_domains = ["not a domain"]',
            ),
            ['helpdesk.freemail_domains[0]: expected a domain name, got "not a domain"'],
        ),
        (
            BASE.replace(
                'address = "support@example.com"',
                'address = "support@example.com"\njoin = "everyone"',
            ),
            ['helpdesk.join: expected one of "participants", "domain", "anyone"; got "everyone"'],
        ),
    ],
)
def test_problems_across_keys(tmp_path: Path, text: str, expected: list[str]) -> None:
    assert problems(tmp_path, text) == [e.replace("{dir}", str(tmp_path)) for e in expected]


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("mon 08:00", (0, time(8, 0))),
        ("Friday 17:30", (4, time(17, 30))),
        (" sun 0:05 ", (6, time(0, 5))),
        ("monday", None),
        ("noday 08:00", None),
        ("tue 25:00", None),
    ],
)
def test_weekly_moments(text: str, parsed: tuple[int, time] | None) -> None:
    assert parse_weekly(text) == parsed


def test_header_injection_in_names_is_refused(tmp_path: Path) -> None:
    text = BASE.replace(
        'address = "support@example.com"',
        'address = "support@example.com"\nname = "Support\\r\\nBcc: x@evil.example"',
    )
    assert problems(tmp_path, text) == ["helpdesk.name: must be on one line (no line breaks)"]


def test_invalid_toml_names_the_line(tmp_path: Path) -> None:
    [line] = problems(tmp_path, '[helpdesk]\naddress = "support@example.com\n')
    assert line.startswith("invalid TOML: ") and "line 2" in line


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UserError) as caught:
        load_settings(tmp_path / "nope.toml")
    assert "config file not found" in str(caught.value)


def test_non_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "maildesk.toml"
    path.write_bytes(b'[helpdesk]\nname = "\xff"\n')
    with pytest.raises(UserError) as caught:
        load_settings(path)
    assert str(caught.value) == f"{path}: cannot read config file: not UTF-8 (byte 19)"


def test_paths_resolve_against_the_config_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sub = tmp_path / "etc"
    sub.mkdir()
    path = write(
        sub,
        BASE + '[paths]\nrules = "my-rules"\ntemplates = "/abs/templates"\n'
        '[database]\nurl = "sqlite:///data/desk.db"\n',
    )
    monkeypatch.chdir(tmp_path)  # the working folder must not matter
    settings = load_settings(path)
    assert settings.paths.rules == sub / "my-rules"
    assert settings.paths.templates == Path("/abs/templates")
    assert settings.database.url == f"sqlite:///{sub / 'data' / 'desk.db'}"
    assert settings.smtp.spool_dir == sub / "outgoing"


@pytest.mark.parametrize(
    "url", ["sqlite:////var/lib/maildesk/x.db", "sqlite://", "postgresql+psycopg://u:p@h/db"]
)
def test_other_database_urls_are_kept(tmp_path: Path, url: str) -> None:
    settings = load_settings(write(tmp_path, BASE + f'[database]\nurl = "{url}"\n'))
    assert settings.database.url == url


def test_password_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "imap.pw").write_text("from-file\n")
    text = BASE.replace(
        'spool_dir = "outgoing"', 'host = "relay"\nusername = "u"\npassword_env = "MD_PW"'
    )
    text += MAILBOX.replace('password = "secret"', 'password_file = "imap.pw"')
    settings = load_settings(write(tmp_path, text))
    assert read_password(settings.mailboxes[0], "mailboxes[0]") == "from-file"
    path = str(settings.source)
    assert [str(p) for p in secret_problems(settings)] == [
        f"{path}: smtp.password_env: environment variable MD_PW is not set"
    ]
    monkeypatch.setenv("MD_PW", "from-env")
    assert read_password(settings.smtp, "smtp") == "from-env"
    assert secret_problems(settings) == []
    (tmp_path / "imap.pw").unlink()
    [problem] = secret_problems(settings)
    assert str(problem) == (
        f"{path}: mailboxes[0].password_file: cannot read {tmp_path / 'imap.pw'}: "
        "no such file or directory"
    )


def test_passwords_stay_out_of_repr(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, BASE + MAILBOX))
    assert "secret" not in repr(settings)


def test_settings_are_frozen(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, BASE))
    with pytest.raises(Exception, match="frozen"):
        settings.helpdesk.address = "x@y.z"  # type: ignore[misc]


def test_shipped_example_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILDESK_IMAP_PASSWORD", "x")
    monkeypatch.setenv("MAILDESK_SMTP_PASSWORD", "y")
    settings = load_settings(REPO / "maildesk.toml.example")
    assert [t.name for t in settings.tiers] == ["L1", "L2", "L3"]
    assert secret_problems(settings) == []


def test_starter_config_is_valid() -> None:
    settings = load_settings(STARTER)
    assert settings.smtp.spool_dir is not None and settings.inbound is not None
    assert settings.inbound.host_port == ("127.0.0.1", 8025)


def _keys(model: type, prefix: str = "") -> list[str]:
    from pydantic import BaseModel

    from maildesk.config.load import _model_in

    keys = []
    for name, info in model.model_fields.items():  # type: ignore[attr-defined]
        nested = _model_in(info.annotation)
        if nested is not None and issubclass(nested, BaseModel):
            keys.append(f"{prefix}{name}")
            keys += _keys(nested, f"{prefix}{name}.")
        else:
            keys.append(f"{prefix}{name}")
    return keys


def test_every_key_is_documented_in_the_example() -> None:
    """maildesk.toml.example must mention, with a comment, every key the model accepts."""
    text = (REPO / "maildesk.toml.example").read_text()
    undocumented = []
    for key in _keys(Settings):
        *tables, leaf = key.split(".")
        if tables:
            table_line = (
                f"[{'.'.join(tables)}]"
                if tables[0] not in ("mailboxes", "tiers")
                else f"[[{tables[0]}]]"
            )
            section = text.split(table_line, 1)[-1] if table_line in text else ""
            found = any(line.lstrip("# ").startswith(f"{leaf} =") for line in section.splitlines())
        else:
            found = f"[{leaf}]" in text or f"[[{leaf}]]" in text
        if not found:
            undocumented.append(key)
    assert undocumented == []
