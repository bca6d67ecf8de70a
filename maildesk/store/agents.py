"""Agents' state: who is away until when, how many open tickets each holds, who was last.

Reads and writes inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from maildesk.store.models import AgentAbsence, Ticket

OPEN = ("new", "open", "pending")


def away(session: Session, addresses: Sequence[str], now: datetime) -> dict[str, datetime]:
    """Address -> until when, for those of ``addresses`` away at ``now``."""
    rows = session.execute(
        select(AgentAbsence.address, AgentAbsence.until).where(
            AgentAbsence.address.in_(list(addresses)), AgentAbsence.until > now
        )
    )
    return {address: until for address, until in rows}


def set_away(session: Session, address: str, until: datetime, reason: str, now: datetime) -> None:
    """Away until ``until`` (an earlier absence is replaced)."""
    found = session.get(AgentAbsence, address)
    if found is None:
        session.add(AgentAbsence(address=address, until=until, reason=reason, since=now))
    else:
        found.until, found.reason, found.since = until, reason, now
    session.flush()


def set_back(session: Session, address: str) -> bool:
    """Back at work; False if they were not marked away."""
    return bool(
        session.execute(delete(AgentAbsence).where(AgentAbsence.address == address)).rowcount  # type: ignore[attr-defined]
    )


def absences(session: Session) -> list[AgentAbsence]:
    return list(session.scalars(select(AgentAbsence).order_by(AgentAbsence.address)))


def open_counts(session: Session, addresses: Sequence[str]) -> dict[str, int]:
    """Open tickets assigned to each of these agents (0 for none)."""
    rows = session.execute(
        select(Ticket.assignee, func.count())
        .where(Ticket.assignee.in_(list(addresses)), Ticket.status.in_(OPEN))
        .group_by(Ticket.assignee)
    )
    found = {a: 0 for a in addresses}
    found.update({assignee: int(n) for assignee, n in rows if assignee is not None})
    return found


def last_assignee(session: Session, tier: str, addresses: Sequence[str]) -> str | None:
    """Who got the tier's latest ticket among these agents: the turn goes on from there."""
    return session.scalar(
        select(Ticket.assignee)
        .where(Ticket.tier == tier, Ticket.assignee.in_(list(addresses)))
        .order_by(Ticket.id.desc())
        .limit(1)
    )


def stand_ins(session: Session, assignee: str, agents: Sequence[str], now: datetime) -> list[str]:
    """Who hears for ``assignee``: themselves, or while they are away the others of
    ``agents`` at work; themselves again if nobody else is there."""
    gone = away(session, [assignee, *agents], now)
    if assignee not in gone:
        return [assignee]
    return [a for a in agents if a != assignee and a not in gone] or [assignee]
