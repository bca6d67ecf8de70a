"""Hourly budgets for automatic mail: the limit that ends any mail loop, whatever its headers.

Every mail about a ticket (acknowledgements, notifications, relayed replies,
status notices, surveys...) counts against that ticket's budget for the clock
hour, and every one to a customer's address against that address's. When a
budget is spent, further mail is not queued (an event says so) until the next
hour; the incoming mail is stored as always. Agents' addresses have no budget
of their own (a busy agent gets many notifications); the ticket's budget
protects them. SLA mail is not counted: its timers fire once by design.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from maildesk.store import upsert
from maildesk.store.models import MailBudget

# Mail that is bounded by its own design, and the alert about a spent budget.
UNCOUNTED = frozenset({"sla_reminder", "sla_breach", "sla_digest", "loop_alert", "forged_agent"})


def spend(
    session: Session,
    ticket_id: int,
    to: Iterable[str],
    *,
    per_ticket: int,
    per_address: int,
    now: datetime,
) -> str | None:
    """Count one mail about ``ticket_id`` to ``to`` (customers' addresses); the reason it
    may not go, or None (then it is counted)."""
    hour = now.replace(minute=0, second=0, microsecond=0)
    ticket_key = f"ticket:{ticket_id}"
    address_keys = {f"to:{a.lower()}"[:340]: a for a in to}
    keys = [ticket_key, *address_keys]
    rows = session.execute(
        select(MailBudget.key, MailBudget.count).where(
            MailBudget.key.in_(keys), MailBudget.hour == hour
        )
    )
    spent = {key: count for key, count in rows}
    if spent.get(ticket_key, 0) >= per_ticket:
        return f"{per_ticket} mails about ticket #{ticket_id} this hour already"
    for key, address in address_keys.items():
        if spent.get(key, 0) >= per_address:
            return f"{per_address} mails to {address} this hour already"
    for key in keys:
        statement = upsert.insert(session, MailBudget).values(key=key, hour=hour, count=1)
        session.execute(
            statement.on_conflict_do_update(
                index_elements=[MailBudget.key, MailBudget.hour],
                set_={"count": MailBudget.count + 1},
            )
        )
    return None
