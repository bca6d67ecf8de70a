"""Rules in the running desk: tickets routed, replies re-routed, the dry run, live reload."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from maildesk.config import settings_from_mapping
from maildesk.daemon import Daemon
from maildesk.intake import Intake
from maildesk.starter import starter_dir
from maildesk.store.db import session_factory
from maildesk.store.models import Customer, Event, Ticket
from tests.support.desks import Run
from tests.support.pipeline import mail

REPO = Path(__file__).resolve().parent.parent


def desk_settings(tmp_path: Path, db_url: str):  # type: ignore[no-untyped-def]
    shutil.copytree(starter_dir("rules"), tmp_path / "rules", dirs_exist_ok=True)
    shutil.copytree(starter_dir("templates"), tmp_path / "templates", dirs_exist_ok=True)
    shutil.copy(REPO / "maildesk" / "starter" / "customers.yaml", tmp_path / "customers.yaml")
    return settings_from_mapping(
        {
            "helpdesk": {"address": "support@example.com"},
            "database": {"url": db_url},
            "smtp": {"spool_dir": "out"},
            "tiers": [
                {"name": "L1", "agents": ["agent@example.com"]},
                {"name": "L2"},
                {"name": "L3"},
            ],
            "sla_policies": [{"name": "normal"}, {"name": "urgent"}, {"name": "corporate"}],
            "paths": {"customers": "customers.yaml"},
        },
        name="maildesk.toml",
        base=tmp_path,
    )


def test_new_tickets_are_routed_by_the_rules(engine: Engine, db_url: str, tmp_path: Path) -> None:
    p = Intake(desk_settings(tmp_path, db_url), session_factory(engine))
    plain = p.ingest(mail("How do I print?", msgid="<a@x>"), "test")
    urgent = p.ingest(mail("Server is down", msgid="<b@x>"), "test")
    corp = p.ingest(mail("Question", sender="ceo@megacorp.example", msgid="<c@x>"), "test")
    with session_factory(engine)() as s:
        rows = {t.id: t for t in s.scalars(select(Ticket))}
        assert (
            rows[plain.ticket_id].tier,
            rows[plain.ticket_id].priority,
            rows[plain.ticket_id].sla_policy,
        ) == ("L1", "normal", "normal")
        assert (rows[urgent.ticket_id].priority, rows[urgent.ticket_id].tags) == (
            "high",
            ["urgent"],
        )
        assert (rows[corp.ticket_id].tier, rows[corp.ticket_id].sla_policy) == ("L3", "corporate")
        created = s.scalars(
            select(Event).where(Event.ticket_id == corp.ticket_id, Event.kind == "created")
        ).one()
        assert created.detail["rules"] == [
            "everything starts in L1 (00-default.yaml:4)",
            "corporate customers to L3 (20-corporate.yaml:4)",
        ]


def test_rule_sets_the_customer_category_and_ack_choice(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    settings = desk_settings(tmp_path, db_url)
    (tmp_path / "rules" / "30-vip.yaml").write_text(
        "- name: vip\n  when: {sender: boss@vip.example}\n"
        "  then: {customer_category: corporate, acknowledge: false}\n"
    )
    p = Intake(settings, session_factory(engine))
    out = p.ingest(mail("Hi", sender="boss@vip.example", msgid="<v1@x>"), "test")
    assert (out.acknowledge, out.auto_reply) == (False, False)
    with session_factory(engine)() as s:
        customer = s.scalars(select(Customer).where(Customer.address == "boss@vip.example")).one()
        assert customer.category == "corporate"
    # The stored category now counts like a listed one: the next ticket goes to L3.
    again = p.ingest(mail("Another", sender="boss@vip.example", msgid="<v2@x>"), "test")
    with session_factory(engine)() as s:
        ticket = s.get(Ticket, again.ticket_id)
        assert ticket is not None and ticket.tier == "L3"


def test_on_reply_rules_change_an_open_ticket(engine: Engine, db_url: str, tmp_path: Path) -> None:
    p = Intake(desk_settings(tmp_path, db_url), session_factory(engine))
    first = p.ingest(mail("Printer question", msgid="<p1@x>"), "test")
    p.ingest(
        mail(
            f"Re: [#{first.ticket_id}] Printer question",
            msgid="<p2@x>",
            body="It is still down, urgent!",
        ),
        "test",
    )
    p.ingest(
        mail(
            f"Re: [#{first.ticket_id}]",
            sender="agent@example.com",
            msgid="<p3@x>",
            body="urgent? looking",
        ),
        "test",
    )
    with session_factory(engine)() as s:
        ticket = s.get(Ticket, first.ticket_id)
        assert ticket is not None and (ticket.priority, ticket.tier) == ("high", "L1")
        routed = s.scalars(select(Event).where(Event.kind == "routed")).all()
    assert len(routed) == 1  # the agent's mail does not re-route
    assert routed[0].detail["priority"] == {"from": "normal", "to": "high"}


EN = (
    "From: Alice <alice@home.example>\r\nTo: support@example.com\r\n"
    "Subject: Our server is down\r\nMessage-ID: <en@x>\r\n\r\nNothing works since 9.\r\n"
)
RU = (
    "From: =?utf-8?b?0JjQstCw0L0=?= <ivan@bigcorp.example>\r\nTo: support@example.com\r\n"
    "Subject: =?utf-8?b?0KHRgNC+0YfQvdC+OiDQvdC1INGA0LDQsdC+0YLQsNC10YIg0L/QvtGH0YLQsA==?=\r\n"
    "Content-Type: text/plain; charset=utf-8\r\nMessage-ID: <ru@x>\r\n\r\n"
    "Здравствуйте, у нас не работает почта.\r\n"
)


@pytest.mark.parametrize(
    ("raw", "language", "tier", "deciding"),
    [
        (
            EN,
            "en",
            "L1",
            r'subject matches "\b(urgent|outage|down|срочно|не работает|авария)\b" '
            '(found "down")',
        ),
        (
            RU,
            "ru",
            "L3",
            r'subject matches "\b(urgent|outage|down|срочно|не работает|авария)\b" '
            '(found "Срочно")',
        ),
    ],
)
def test_rules_test_explains_the_match(
    run: Run,
    write_desk: Callable[..., Path],
    minimal_config: Callable[[], str],
    tmp_path: Path,
    raw: str,
    language: str,
    tier: str,
    deciding: str,
) -> None:
    config = write_desk(minimal_config() + '[paths]\ncustomers = "customers.yaml"\n')
    shutil.copy(REPO / "maildesk" / "starter" / "customers.yaml", config.parent)
    message = tmp_path / "m.eml"
    message.write_bytes(raw.encode())
    code, out, _ = run("-c", str(config), "rules", "test", str(message), "--json")
    assert code == 0
    data = json.loads(out)
    assert data["message"]["language"] == language
    assert data["result"]["tier"] == tier and data["result"]["priority"] == "high"
    urgent = next(r for r in data["rules"] if r["name"] == "urgent words raise priority")
    assert urgent["matched"] and urgent["reason"] == deciding
    corporate = next(r for r in data["rules"] if r["name"] == "corporate customers to L3")
    assert corporate["matched"] is (tier == "L3")
    if tier == "L1":
        assert corporate["reason"].startswith("none of: sender_domain in ")
    code, out, _ = run("-c", str(config), "rules", "test", str(message))
    assert code == 0 and "MATCHED" in out and "urgent words raise priority" in out
    assert f"tier               {tier}" in out or f"tier  {tier}" in " ".join(out.split("  "))


def test_rules_check(
    run: Run, write_desk: Callable[..., Path], minimal_config: Callable[[], str]
) -> None:
    config = write_desk(minimal_config())
    code, out, _ = run("-c", str(config), "rules", "check")
    assert (code, out.strip()) == (0, "ok: 3 rule(s) in 3 file(s)")
    (config.parent / "rules" / "40-typo.yaml").write_text("- name: x\n  then: {tier: L7}\n")
    code, _, err = run("-c", str(config), "rules", "check")
    assert code == 2
    assert err.strip() == (
        f'maildesk: {config.parent}/rules/40-typo.yaml:2: unknown tier "L7" (tiers: L1, L2, L3)'
    )
    code, out, _ = run("-c", str(config), "rules", "check", "--json")
    assert code == 2 and json.loads(out)["ok"] is False


def test_half_typed_file_changes_nothing_and_logs_one_error(
    engine: Engine, db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = desk_settings(tmp_path, db_url)
    pipeline = Intake(settings, session_factory(engine))
    daemon = Daemon(settings, pipeline)
    seen = pipeline.router.signature
    before = pipeline.router
    rule = tmp_path / "rules" / "30-printer.yaml"
    rule.write_text("- name: printers to L2\n  when: {subject: {contains: printer}}\n  then: {tie")
    with caplog.at_level(logging.INFO, logger="maildesk.daemon"):
        seen = daemon.reload_rules(seen)
        seen = daemon.reload_rules(seen)  # nothing changed since: no second error
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "rules not reloaded, the previous rules stay in force" in errors[0].getMessage()
    assert "30-printer.yaml:3: invalid YAML" in errors[0].getMessage()
    assert pipeline.router is before
    out = pipeline.ingest(mail("printer jammed", msgid="<j1@x>"), "test")
    with session_factory(engine)() as s:
        assert s.get(Ticket, out.ticket_id).tier == "L1"  # type: ignore[union-attr]
    rule.write_text(
        "- name: printers to L2\n  when: {subject: {contains: printer}}\n  then: {tier: L2}\n"
    )
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="maildesk.daemon"):
        daemon.reload_rules(seen)
    assert "rules reloaded: 4 rule(s) from 4 file(s)" in caplog.text
    out = pipeline.ingest(mail("printer jammed again", msgid="<j2@x>"), "test")
    with session_factory(engine)() as s:
        assert s.get(Ticket, out.ticket_id).tier == "L2"  # type: ignore[union-attr]


def test_running_daemon_reloads_rules_and_ignores_a_broken_save(
    engine: Engine, db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import threading
    import time

    settings = desk_settings(tmp_path, db_url)
    pipeline = Intake(settings, session_factory(engine))
    daemon = Daemon(settings, pipeline)
    thread = threading.Thread(target=daemon.run, daemon=True)

    def tier_of(subject: str, msgid: str) -> str | None:
        out = pipeline.ingest(mail(subject, msgid=msgid), "test")
        with session_factory(engine)() as s:
            ticket = s.get(Ticket, out.ticket_id)
            return ticket.tier if ticket else None

    def wait_for(text: str) -> None:
        deadline = time.monotonic() + 10
        while text not in caplog.text:
            assert time.monotonic() < deadline, f"no log line with {text!r}"
            time.sleep(0.05)

    with caplog.at_level(logging.INFO, logger="maildesk.daemon"):
        thread.start()
        try:
            wait_for("maildesk ready")
            rule = tmp_path / "rules" / "30-printer.yaml"
            rule.write_text("- name: printers\n  when: {subject: {contains: printer}}\n  then: {ti")
            wait_for("rules not reloaded")
            assert tier_of("printer broken", "<t1@x>") == "L1"
            rule.write_text(
                "- name: printers\n  when: {subject: {contains: printer}}\n  then: {tier: L2}\n"
            )
            wait_for("rules reloaded: 4 rule(s)")
            assert tier_of("printer broken again", "<t2@x>") == "L2"
        finally:
            daemon.stop()
            thread.join(10)
    assert caplog.text.count("rules not reloaded") == 1


def test_running_daemon_keeps_the_last_good_templates(
    engine: Engine, db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A misspelled variable saved into a live template changes nothing: the
    acknowledgement still goes out, with the last good template."""
    import threading
    import time

    from maildesk.store.models import OutboxMessage

    settings = desk_settings(tmp_path, db_url)
    pipeline = Intake(settings, session_factory(engine))
    daemon = Daemon(settings, pipeline)
    thread = threading.Thread(target=daemon.run, daemon=True)

    def wait_for(text: str) -> None:
        deadline = time.monotonic() + 10
        while text not in caplog.text:
            assert time.monotonic() < deadline, f"no log line with {text!r}"
            time.sleep(0.05)

    template = tmp_path / "templates" / "acknowledgement.en.txt"
    good = template.read_text()
    with caplog.at_level(logging.INFO, logger="maildesk.daemon"):
        thread.start()
        try:
            wait_for("maildesk ready")
            template.write_text(good.replace("helpdesk.name", "helpdesk.nmae", 1) + "Ciao\n")
            wait_for("templates not reloaded")
            assert "acknowledgement.en.txt" in caplog.text and "nmae" in caplog.text
            pipeline.ingest(mail("Help", msgid="<ack1@x>"), "test")
            template.write_text(good + "Thanks for waiting.\n")
            wait_for("templates reloaded")
            pipeline.ingest(mail("More help", sender="b@example.org", msgid="<ack2@x>"), "test")
        finally:
            daemon.stop()
            thread.join(10)
    with session_factory(engine)() as s:
        acks = s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "acknowledgement")).all()
    assert len(acks) == 2 and all(a.state != "failed" for a in acks)
    assert b"Ciao" not in acks[0].raw and b"Thanks for waiting." in acks[1].raw


def test_a_template_that_fails_on_real_data_fails_visibly(
    engine: Engine, db_url: str, tmp_path: Path, run: Run
) -> None:
    """It renders with `maildesk check`'s sample data (ticket 1042) but not for
    ticket 1: the mail is a failed row in `outbox list`, never silently dropped."""
    settings = desk_settings(tmp_path, db_url)
    template = tmp_path / "templates" / "acknowledgement.en.txt"
    template.write_text(
        template.read_text() + "{% if ticket.id < 1000 %}{{ ticket.nosuch }}{% endif %}\n"
    )
    pipeline = Intake(settings, session_factory(engine))
    out = pipeline.ingest(mail("Help", msgid="<f1@x>"), "test")
    config = tmp_path / "maildesk.toml"
    config.write_text(
        f'[helpdesk]\naddress = "support@example.com"\n[database]\nurl = "{db_url}"\n'
        '[smtp]\nspool_dir = "out"\n[[tiers]]\nname = "L1"\n'
    )
    code, text, _ = run("-c", str(config), "outbox", "list", "--json")
    rows = json.loads(text)
    [failed] = [r for r in rows if r["kind"] == "acknowledgement"]
    assert code == 0 and failed["state"] == "failed" and failed["ticket"] == out.ticket_id
    assert "acknowledgement" in failed["last_error"] and "nosuch" in failed["last_error"]


def test_rules_test_keeps_one_row_per_rule(
    run: Run, write_desk: Callable[..., Path], minimal_config: Callable[[], str], tmp_path: Path
) -> None:
    """A rule named over two lines (YAML `|`) used to break the table after it."""
    config = write_desk(minimal_config())
    (config.parent / "rules" / "40-two-lines.yaml").write_text(
        "- name: |\n    printers\n    on floor 2\n  when: {subject: {contains: printer}}\n"
        "  then: {tier: L2}\n"
    )
    message = tmp_path / "m.eml"
    message.write_bytes(EN.encode())
    code, out, _ = run("-c", str(config), "rules", "test", str(message))
    assert code == 0
    rows = [line for line in out.splitlines() if "40-two-lines.yaml" in line]
    assert len(rows) == 1 and "printers ⏎ on floor 2" in rows[0]
    assert not any(line.strip() == "on floor 2" for line in out.splitlines())
