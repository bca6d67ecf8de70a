"""store/inserts.py: an object written or read by one plain statement is in the session
as if the ORM had done it: complete, clean, and written again only when changed."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, event, select

from maildesk.store.db import session_factory
from maildesk.store.inserts import adopt, insert_loaded
from maildesk.store.models import Customer, Ticket

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def statements(engine: Engine) -> list[str]:
    seen: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: seen.append(a[2].split()[0]))
    return seen


def test_an_inserted_ticket_is_complete_and_clean(engine: Engine) -> None:
    with session_factory(engine).begin() as s:
        customer = Customer(address="alice@example.org", created_at=T0, updated_at=T0)
        insert_loaded(s, customer)
        ticket = Ticket(subject="Printer", requester_id=customer.id, created_at=T0, updated_at=T0)
        insert_loaded(s, ticket)
        seen = statements(engine)
        # The column defaults came back with the insert: reading them asks nothing.
        assert (ticket.status, ticket.priority, ticket.tags, ticket.survey) == (
            "new",
            "normal",
            [],
            True,
        )
        assert ticket.id is not None and ticket.first_response_at is None
        assert ticket.requester is not None and ticket.requester.address == "alice@example.org"
        assert not s.dirty and ticket in s
        s.flush()
        assert [w for w in seen if w != "SELECT"] == []  # nothing to write again
        ticket.status = "open"
        s.flush()
        assert "UPDATE" in seen
        number = ticket.id
    with session_factory(engine)() as s:
        stored = s.get(Ticket, number)
        assert stored is not None and (stored.status, stored.subject) == ("open", "Printer")
        assert stored.created_at == T0 and stored.requester_id == customer.id


def test_adopt_gives_the_session_its_own_object_or_a_loaded_one(engine: Engine) -> None:
    with session_factory(engine).begin() as s:
        s.add(Customer(address="bob@example.org", name="Bob", created_at=T0, updated_at=T0))
    table = Customer.metadata.tables["customers"]
    query = select(table).where(table.c.address == "bob@example.org")
    with session_factory(engine).begin() as s:
        held = s.scalars(select(Customer)).one()
        held.name = "Robert"  # a change not yet flushed: the session's state wins
        row = s.connection().execute(query).mappings().one()
        assert adopt(s, Customer, row) is held and held.name == "Robert"
    with session_factory(engine).begin() as s:
        row = s.connection().execute(query).mappings().one()
        bob = adopt(s, Customer, row)
        assert bob in s and not s.dirty and bob.name == "Robert"
        assert s.get(Customer, bob.id) is bob  # in the identity map: no second object
        bob.category = "vip"
    with session_factory(engine)() as s:
        assert s.scalars(select(Customer.category)).one() == "vip"
