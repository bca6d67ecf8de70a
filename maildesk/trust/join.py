"""Who may write into a ticket: the stage after threading, before anything is stored.

Threading (thread.py) only finds the ticket a mail points at. This decides
whether its sender has business there: the requester, the people the requester
or an agent put in To/Cc, and agents do (``participants``); with ``domain`` also
the requester's colleagues at the same company (never at a public mail
provider); with ``anyone`` everybody. A sender whose From failed authentication
is nobody's participant. Everyone else's mail is held for an agent to admit,
or (``helpdesk.foreign_token = "new_ticket"``) opens a ticket of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from maildesk.mail import Decision, Sender, TicketFacts, Trust
from maildesk.trust.sender import organization

# Public mail providers: two customers of one of these are not colleagues.
FREEMAIL = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "msn.com",
        "yahoo.com",
        "ymail.com",
        "aol.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "proton.me",
        "protonmail.com",
        "gmx.de",
        "gmx.net",
        "gmx.com",
        "web.de",
        "t-online.de",
        "mail.com",
        "zoho.com",
        "yandex.ru",
        "yandex.com",
        "ya.ru",
        "mail.ru",
        "bk.ru",
        "list.ru",
        "inbox.ru",
        "rambler.ru",
        "qq.com",
        "163.com",
        "126.com",
        "naver.com",
        "orange.fr",
        "free.fr",
        "libero.it",
        "seznam.cz",
        "wp.pl",
        "o2.pl",
        "interia.pl",
        "fastmail.com",
        "tutanota.com",
        "hey.com",
    }
)


@dataclass(frozen=True)
class JoinPolicy:
    join: str = "participants"  # participants | domain | anyone
    stranger: str = "hold"  # hold | new_ticket (helpdesk.foreign_token)
    suspicious: str = "ticket"  # ticket | hold (trust.suspicious), for new mail
    freemail: frozenset[str] = FREEMAIL


def admit(
    decision: Decision,
    sender: Sender,
    facts: Mapping[int, TicketFacts],
    policy: JoinPolicy,
) -> Decision:
    """The threading decision, held or turned into a new ticket where the sender has
    no business; the reason says which rule decided."""
    if sender.claims_agent and not sender.agent:
        return replace(
            decision,
            hold=True,
            cause="forged_agent",
            reason=f"from agent {sender.address}, but {_not_believed(sender.trust)}",
        )
    if decision.ticket_id is None:
        if sender.trust.suspicious and policy.suspicious == "hold":
            return replace(
                decision, hold=True, cause="suspicious", reason="; ".join(sender.trust.reasons)
            )
        return decision
    ticket = facts.get(decision.ticket_id)
    if ticket is None or sender.agent:
        return decision
    allowed, why = may_join(sender, ticket, policy)
    if allowed:
        return replace(decision, reason=f"{decision.reason}; {why}") if why else decision
    reason = f"{decision.reason}, but {why}"
    if policy.stranger == "new_ticket":
        return Decision(None, "new", f"{reason}: a new ticket of its own")
    return replace(decision, hold=True, cause="stranger", reason=reason, reopen=False)


def may_join(sender: Sender, ticket: TicketFacts, policy: JoinPolicy) -> tuple[bool, str]:
    """(allowed, why): the part of the rule that decided, in words."""
    if policy.join == "anyone":
        return True, ""
    number = f"ticket #{ticket.id}"
    if sender.trust.authentication == "fail":
        return False, f"{sender.address} failed authentication ({sender.trust.why})"
    if sender.address in ticket.people or sender.ours:
        return True, ""
    if policy.join == "domain" and ticket.requester:
        theirs = organization(ticket.requester.rpartition("@")[2])
        mine = organization(sender.address.rpartition("@")[2])
        if mine == theirs and theirs not in policy.freemail:
            return True, f"{sender.address} joins as a colleague at {theirs}"
        if mine == theirs:
            return False, (
                f"{sender.address} is not on {number} ({theirs} is a public mail provider)"
            )
    return False, f"{sender.address} is not on {number}"


def _not_believed(trust: Trust) -> str:
    if trust.authentication == "fail":
        return f"the From failed authentication ({trust.why})"
    return f"the From is not authenticated ({trust.why})"
