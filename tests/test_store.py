"""Storage on SQLite and PostgreSQL: schema, constraints, lookups, migrations."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, select, text
from sqlalchemy.exc import IntegrityError

from maildesk.errors import UserError
from maildesk.store.db import make_engine, session_factory
from maildesk.store.models import (
    Attachment,
    Base,
    Customer,
    Event,
    MailboxState,
    Message,
    OutboxMessage,
    Participant,
    QuarantinedMessage,
    Ticket,
)
from maildesk.store.queries import list_tickets, ticket_detail
from maildesk.store.schema import (
    current_revision,
    head_revision,
    migrations_head,
    require_current,
    upgrade,
)
from tests.support.store import T0


def add_ticket(
    engine: Engine,
    *,
    subject: str = "Printer on fire",
    status: str = "new",
    tier: str | None = "L1",
    requester: str = "alice@example.org",
    messages: int = 1,
) -> int:
    with session_factory(engine).begin() as s:
        customer = s.scalar(select(Customer).where(Customer.address == requester))
        if customer is None:
            customer = Customer(address=requester, name="Alice", category="novice", language="en")
        ticket = Ticket(
            subject=subject,
            status=status,
            tier=tier,
            requester=customer,
            created_at=T0,
            updated_at=T0,
        )
        s.add(ticket)
        s.flush()
        for n in range(messages):
            s.add(
                Message(
                    ticket=ticket,
                    direction="in",
                    dedupe_key=f"<{ticket.id}.{n}@example.org>",
                    message_id=f"<{ticket.id}.{n}@example.org>",
                    from_address=requester,
                    subject=subject,
                    visible_text=f"text {n}",
                    date=T0,
                    raw=b"raw",
                )
            )
        return ticket.id


def test_the_head_is_the_newest_migration() -> None:
    assert head_revision() == migrations_head()


def test_upgrade_creates_every_table(engine: Engine) -> None:
    tables = set(inspect(engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    assert "alembic_version" in tables
    assert current_revision(engine) == head_revision()


@pytest.fixture
def migrated(db_url: str) -> Iterator[Engine]:
    """An empty database brought to head by every migration in turn, as old desks are
    (the engine fixture's empty database gets the models' schema at once)."""
    eng = make_engine(db_url)
    upgrade(eng, replay=True)
    yield eng
    eng.dispose()


def test_migrations_match_the_models(migrated: Engine) -> None:
    """A model change without a migration would break `db upgrade` on real desks; and
    an empty desk's schema, made from the models, is the one the migrations make."""
    with migrated.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
    assert current_revision(migrated) == head_revision()


def test_an_old_desk_learns_its_first_responders(db_url: str) -> None:
    """0011 fills in who answered first from the audit log of tickets answered before."""
    eng = make_engine(db_url)
    upgrade(eng, "0010")
    with eng.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO tickets (id, subject, status, priority, tags, notify, created_at,"
                " updated_at, first_response_at, survey, problem)"
                " VALUES (1, 's', 'open', 'normal', '[]', '[]', :t, :t, :t, true, false),"
                " (2, 's', 'open', 'normal', '[]', '[]', :t, :t, NULL, true, false)"
            ),
            {"t": T0.replace(tzinfo=None)},
        )
        conn.execute(
            text(
                "INSERT INTO events (ticket_id, at, actor, kind, detail) VALUES"
                " (1, :late, 'late@example.com', 'replied', '{}'),"
                " (1, :t, 'first@example.com', 'replied', '{}'),"
                " (2, :t, 'note@example.com', 'note', '{}')"
            ),
            {"t": T0.replace(tzinfo=None), "late": (T0 + timedelta(hours=1)).replace(tzinfo=None)},
        )
    upgrade(eng)
    with session_factory(eng)() as s:
        first = {t.id: t.first_responder for t in s.scalars(select(Ticket))}
    eng.dispose()
    assert first == {1: "first@example.com", 2: None}


def test_upgrade_is_idempotent(engine: Engine) -> None:
    before, after = upgrade(engine)
    assert before == after == head_revision()


def test_lookup_indexes_exist(engine: Engine) -> None:
    insp = inspect(engine)
    message_indexes = {tuple(i["column_names"]) for i in insp.get_indexes("messages")}
    assert ("message_id",) in message_indexes and ("ticket_id",) in message_indexes
    uniques = {tuple(u["column_names"]) for u in insp.get_unique_constraints("messages")}
    assert ("dedupe_key",) in uniques
    outbox = {tuple(i["column_names"]) for i in insp.get_indexes("outbox")}
    assert ("state", "next_attempt_at") in outbox


def test_ticket_with_everything_round_trips(engine: Engine) -> None:
    number = add_ticket(engine)
    with session_factory(engine).begin() as s:
        ticket = s.get(Ticket, number)
        assert ticket is not None
        message = ticket.messages[0]
        message.attachments.append(
            Attachment(filename="log.txt", content_type="text/plain", size=3, content=b"abc")
        )
        s.add(Participant(ticket=ticket, address="alice@example.org", role="requester"))
        s.add(Event(ticket=ticket, actor="maildesk", kind="created", detail={"tier": "L1"}, at=T0))
        s.add(
            OutboxMessage(
                ticket_id=number,
                kind="acknowledgement",
                message_id="<ack-1@example.com>",
                sender="support@example.com",
                recipients=["alice@example.org"],
                raw=b"mail",
            )
        )
        s.add(
            MailboxState(
                mailbox="support", folder="INBOX", uidvalidity=2**32 - 1, last_uid=2**31 + 5
            )
        )
        s.add(QuarantinedMessage(source="imap:support", reason="no From", raw=b"\xff\x00"))
    detail = None
    with session_factory(engine)() as s:
        detail = ticket_detail(s, number)
        state = s.scalar(select(MailboxState))
        quarantined = s.scalar(select(QuarantinedMessage))
        outbox = s.scalar(select(OutboxMessage))
    assert detail is not None
    assert detail.ticket.requester == "alice@example.org"
    assert detail.ticket.created_at == T0 and detail.ticket.created_at.tzinfo is not None
    assert [a.filename for a in detail.messages[0].attachments] == ["log.txt"]
    assert [(e.kind, e.detail) for e in detail.events] == [("created", {"tier": "L1"})]
    assert state is not None and (state.uidvalidity, state.last_uid) == (2**32 - 1, 2**31 + 5)
    assert quarantined is not None and quarantined.raw == b"\xff\x00"
    assert outbox is not None and outbox.state == "pending" and outbox.attempts == 0


def test_times_come_back_in_utc(engine: Engine) -> None:
    berlin = datetime(2026, 3, 29, 3, 30, tzinfo=timezone(timedelta(hours=2)))
    with session_factory(engine).begin() as s:
        s.add(Ticket(subject="x", created_at=berlin, updated_at=berlin))
    with session_factory(engine)() as s:
        ticket = s.scalars(select(Ticket)).one()
    assert ticket.created_at == berlin
    assert ticket.created_at.utcoffset() == timedelta(0)


def test_naive_times_are_refused(engine: Engine) -> None:
    with pytest.raises(Exception, match="naive datetime"), session_factory(engine).begin() as s:
        s.add(Ticket(subject="x", created_at=datetime(2026, 1, 1)))


def test_the_same_mail_is_stored_once(engine: Engine) -> None:
    number = add_ticket(engine)
    with pytest.raises(IntegrityError), session_factory(engine).begin() as s:
        s.add(Message(ticket_id=number, direction="in", dedupe_key=f"<{number}.0@example.org>"))


@pytest.mark.parametrize(
    ("model", "values"),
    [
        (Ticket, {"subject": "x", "status": "lost"}),
        (Ticket, {"subject": "x", "priority": "whenever"}),
    ],
)
def test_check_constraints(engine: Engine, model: type, values: dict[str, str]) -> None:
    with pytest.raises(IntegrityError), session_factory(engine).begin() as s:
        s.add(model(**values))


def test_foreign_keys_are_enforced(engine: Engine) -> None:
    with pytest.raises(IntegrityError), session_factory(engine).begin() as s:
        s.add(Message(ticket_id=999, direction="in", dedupe_key="<orphan@x>"))


def test_deleting_a_ticket_removes_its_messages(engine: Engine) -> None:
    number = add_ticket(engine, messages=3)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM tickets WHERE id = :id"), {"id": number})
        assert conn.execute(text("SELECT count(*) FROM messages")).scalar() == 0


def test_list_tickets_filters_and_counts(engine: Engine) -> None:
    first = add_ticket(engine, subject="one", messages=2)
    second = add_ticket(
        engine, subject="two", status="open", tier="L2", requester="bob@example.org"
    )
    third = add_ticket(engine, subject="three", status="resolved", messages=0)
    with session_factory(engine)() as s:
        everything = list_tickets(s)
        assert [t.id for t in everything] == [third, second, first]
        assert [t.message_count for t in everything] == [0, 1, 2]
        assert [t.id for t in list_tickets(s, statuses=["new", "open"])] == [second, first]
        assert [t.id for t in list_tickets(s, tiers=["L2"])] == [second]
        assert [t.id for t in list_tickets(s, limit=1)] == [third]
        assert ticket_detail(s, 12345) is None


def test_sqlite_runs_with_wal_and_foreign_keys(tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()


def test_out_of_date_schema_is_refused(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        with pytest.raises(
            UserError, match=r"no maildesk schema yet: run `maildesk -c desk.toml db upgrade`"
        ):
            require_current(engine, "desk.toml")
        upgrade(engine)
        require_current(engine, "desk.toml")  # now fine
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = 'ffff'"))
        with pytest.raises(UserError, match="newer than this maildesk"):
            require_current(engine, "desk.toml")
    finally:
        engine.dispose()
