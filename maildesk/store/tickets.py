"""Writes of a ticket's life: customers, messages with their attachments, participants.

Everything here runs inside the caller's transaction; nothing commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from maildesk.mail import Address, ParsedMail
from maildesk.store.db import flushed
from maildesk.store.events import append_row, write_appended
from maildesk.store.inserts import adopt, insert_loaded
from maildesk.store.models import (
    Attachment,
    Customer,
    Event,
    Message,
    OutboxMessage,
    Participant,
    QuarantinedMessage,
    Ticket,
)


def load_tickets(session: Session, numbers: Iterable[int]) -> dict[int, Ticket]:
    """The tickets that exist among these numbers.

    The caller keeps the dict while it works: the session holds loaded rows
    only weakly, and a ticket let go would be read again.
    """
    found: dict[int, Ticket] = {}
    missing: list[int] = []
    for number in set(numbers):
        held = session.identity_map.get(identity_key(Ticket, (number,)))
        if held is not None:
            found[number] = held
        else:
            missing.append(number)
    if missing:  # one plain SELECT for those the session does not hold
        rows = session.connection().execute(_TICKETS, {"numbers": missing}).mappings()
        found.update((row["id"], adopt(session, Ticket, row)) for row in rows)
    return found


# Built once: asked of nearly every mail.
_customers = Customer.metadata.tables[Customer.__tablename__]
_CUSTOMER = select(_customers).where(_customers.c.address == bindparam("address"))
_tickets = Ticket.metadata.tables[Ticket.__tablename__]
_TICKETS = select(_tickets).where(_tickets.c.id.in_(bindparam("numbers", expanding=True)))
_PARTICIPANTS = select(Participant.ticket_id, Participant.address).where(
    Participant.ticket_id.in_(bindparam("numbers", expanding=True))
)


def customer_for(session: Session, who: Address, now: datetime) -> Customer:
    """The customer with this address; on first contact a new one, not yet in the
    session: the caller inserts it (``insert_loaded``) with the ticket that needs it
    (its ``id`` is None until then)."""
    row = flushed(session).execute(_CUSTOMER, {"address": who.address}).mappings().first()
    customer = adopt(session, Customer, row) if row is not None else None
    if customer is None:
        customer = Customer(
            address=who.address, name=who.name or None, created_at=now, updated_at=now
        )
    elif who.name and not customer.name:
        customer.name = who.name
    return customer


def participants_of(session: Session, numbers: Iterable[int]) -> dict[int, set[str]]:
    """Ticket -> the addresses of its participants."""
    found: dict[int, set[str]] = {n: set() for n in numbers}
    write_appended(session)  # participants this transaction added: a plain read follows
    for number, address in session.connection().execute(_PARTICIPANTS, {"numbers": list(found)}):
        found[number].add(address)
    return found


def add_participant(
    session: Session, ticket_id: int, who: Address, role: str, now: datetime
) -> None:
    append_row(
        session,
        Participant,
        {
            "ticket_id": ticket_id,
            "address": who.address,
            "name": who.name or None,
            "role": role,
            "added_at": now,
        },
    )


def store_message(
    session: Session,
    ticket: Ticket,
    mail: ParsedMail,
    *,
    visible: str,
    kind: str,
    reasons: tuple[str, ...],
    source: str,
    now: datetime,
    direction: str = "in",
    is_note: bool = False,
    body_hash: str | None = None,
) -> Message:
    message = Message(
        ticket_id=ticket.id,
        direction=direction,
        is_note=is_note,
        dedupe_key=mail.dedupe_key,
        message_id=mail.message_id,
        in_reply_to=mail.in_reply_to,
        references=list(mail.references),
        from_address=mail.sender.address if mail.sender else "",
        from_name=(mail.sender.name or None) if mail.sender else None,
        to=[str(a) for a in mail.to],
        cc=[str(a) for a in mail.cc],
        subject=mail.subject,
        date=mail.date,
        received_at=now,
        source=source,
        visible_text=visible,
        full_text=mail.text,
        html=mail.html,
        raw=mail.raw,
        kind=kind,
        guard_reasons=list(reasons),
        body_hash=body_hash,
    )
    insert_loaded(session, message)
    attachments = [
        Attachment(
            message_id=message.id,
            filename=part.filename,
            content_type=part.content_type[:255],
            size=part.size,
            content_id=part.content_id,
            inline=part.inline,
            content=part.content,
        )
        for part in mail.parts
    ]
    for attachment in attachments:
        insert_loaded(session, attachment)
    set_committed_value(message, "attachments", attachments)
    return message


def find_customer(session: Session, address: str) -> Customer | None:
    return session.scalar(select(Customer).where(Customer.address == address.lower()))


def joined(session: Session, ticket_id: int, roles: Iterable[str]) -> list[str]:
    """The addresses of a ticket's participants in these roles, in the order they joined."""
    return list(
        session.scalars(
            select(Participant.address)
            .where(Participant.ticket_id == ticket_id, Participant.role.in_(list(roles)))
            .order_by(Participant.id)
        )
    )


def messages_newest_first(session: Session, ticket_id: int, direction: str) -> Iterator[Message]:
    """A ticket's messages one way (in: to the desk, out: from it), newest first."""
    yield from session.scalars(
        select(Message)
        .where(Message.ticket_id == ticket_id, Message.direction == direction)
        .order_by(Message.id.desc())
    )


def move_ticket_rows(session: Session, source_id: int, target_id: int) -> int:
    """Everything that hangs off ``source_id`` now hangs off ``target_id`` (a merge):
    messages, events, sent and held mail, and the participants the target lacks.
    Returns how many messages moved."""
    session.flush()  # rows of this transaction first, so that every one moves
    write_appended(session)
    rows = session.connection()
    moved = rows.execute(
        update(Message).where(Message.ticket_id == source_id).values(ticket_id=target_id)
    ).rowcount
    for model in (Event, OutboxMessage, QuarantinedMessage):
        rows.execute(update(model).where(model.ticket_id == source_id).values(ticket_id=target_id))
    have = set(joined(session, target_id, ("requester", "cc", "agent")))
    for row_id, address in rows.execute(
        select(Participant.id, Participant.address).where(Participant.ticket_id == source_id)
    ).all():
        if address in have:
            rows.execute(delete(Participant).where(Participant.id == row_id))
        else:
            have.add(address)
            rows.execute(
                update(Participant).where(Participant.id == row_id).values(ticket_id=target_id)
            )
    session.expire_all()  # the ORM's copies of moved rows are stale now
    return int(moved or 0)


def customer_addresses(
    session: Session, ticket: Ticket, agents: frozenset[str], max_cc: int
) -> list[str]:
    """The requester and at most ``max_cc`` others (the earliest to join), whatever
    joined the ticket over time: a reply never fans out past the cap."""
    found: list[str] = []
    if ticket.requester is not None:
        found.append(ticket.requester.address)
    for address in joined(session, ticket.id, ("requester", "cc")):
        if address not in found and address not in agents:
            found.append(address)
    return found[: max_cc + 1] if ticket.requester is not None else found[:max_cc]
