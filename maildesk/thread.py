"""Which ticket a message belongs to.

In this order: (a) the ticket token in the subject, wherever the client put
it; (b) In-Reply-To / References naming a message we stored or sent; (c) a
plus-address on the support address (support+1042@…). Otherwise a new
ticket. The decision is pure: the pipeline looks up the facts first. Whether
the sender may write into the ticket found is the next stage's question
(trust/join.py): a link is not a permission, a Message-ID leaks easily.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from maildesk.mail import Decision, ParsedMail, TicketFacts

# Reply and forward prefixes in the languages clients use, possibly nested and
# numbered ("Re[2]:", "AW: WG: Re:"), and bracketed tags Outlook adds.
_PREFIX = re.compile(
    r"^\s*((re|aw|sv|vs|antw|antwort|ответ|отв|fwd?|wg|tr|rv|rif|r|odp|enc|res|ynt|vl|"
    r"πρθ|回复|答复|転送|回覆|fw)\s*(\[\d+\]|\(\d+\))?\s*[:：]|\[(external|extern|ext|внешний|"
    r"внешнее|spam|suspicious)\]\s*:?)\s*",
    re.IGNORECASE,
)


def ticket_token(token_format: str, ticket_id: int) -> str:
    """The token put in subjects, e.g. ``[#1042]`` for ``[#{id}]``."""
    return token_format.format(id=ticket_id)


@lru_cache(maxsize=16)
def _token_pattern(token_format: str) -> re.Pattern[str]:
    before, _, after = token_format.partition("{id}")
    # Clients sometimes add spaces inside brackets ("[# 1042]"); accept them.
    loose = r"\s*".join(re.escape(ch) for ch in before.strip())
    loose_after = r"\s*".join(re.escape(ch) for ch in after.strip())
    return re.compile(rf"{loose}\s*(\d{{1,9}})\s*{loose_after}", re.IGNORECASE)


def find_token(subject: str, token_format: str) -> int | None:
    """The ticket number in a subject, wherever it stands; the first one wins."""
    match = _token_pattern(token_format).search(subject)
    return int(match.group(1)) if match else None


def clean_subject(subject: str, token_format: str | None = None) -> str:
    """The subject without reply/forward prefixes (and without our token)."""
    if token_format:
        subject = _token_pattern(token_format).sub(" ", subject)
    previous = None
    while previous != subject:
        previous = subject
        subject = _PREFIX.sub("", subject, count=1)
    return " ".join(subject.split())


def plus_ticket(mail: ParsedMail, support: str) -> int | None:
    """support+1042@example.com in To, Cc, Delivered-To or X-Original-To -> 1042."""
    local, _, domain = support.lower().partition("@")
    pattern = re.compile(rf"^{re.escape(local)}\+(\d{{1,9}})@{re.escape(domain)}$")
    candidates = [a.address for a in (*mail.to, *mail.cc)]
    for header in ("Delivered-To", "X-Original-To", "Envelope-To"):
        candidates += [v.strip().strip("<>").lower() for v in mail.header_all(header)]
    for address in candidates:
        match = pattern.match(address)
        if match:
            return int(match.group(1))
    return None


@dataclass(frozen=True)
class Policy:
    token_format: str
    support_address: str
    agents: frozenset[str]
    plus_addressing: bool = True
    reopen_days: int = 14


def decide(
    mail: ParsedMail,
    policy: Policy,
    reference_hits: Mapping[str, int],
    facts: Mapping[int, TicketFacts],
    now: datetime,
) -> Decision:
    """Token, then References, then plus-address; then a new ticket."""
    token = find_token(mail.subject, policy.token_format)
    if token is not None:
        return _checked(
            mail,
            policy,
            token,
            facts,
            reference_hits,
            "token",
            f"subject token {ticket_token(policy.token_format, token)}",
            now,
        )
    referenced = _by_references(mail, reference_hits)
    if referenced is not None:
        return _lifecycle(referenced, facts, "references", "In-Reply-To/References", now, policy)
    if policy.plus_addressing:
        plus = plus_ticket(mail, policy.support_address)
        if plus is not None:
            return _checked(
                mail,
                policy,
                plus,
                facts,
                reference_hits,
                "plus-address",
                f"plus-address +{plus}",
                now,
            )
    return Decision(None, "new", "no token, reference or plus-address matched")


def _by_references(mail: ParsedMail, hits: Mapping[str, int]) -> int | None:
    """The nearest ancestor we know: In-Reply-To, then References from the end."""
    for message_id in (mail.in_reply_to, *reversed(mail.references)):
        if message_id and message_id in hits:
            return hits[message_id]
    return None


def _checked(
    mail: ParsedMail,
    policy: Policy,
    number: int,
    facts: Mapping[int, TicketFacts],
    hits: Mapping[str, int],
    how: str,
    reason: str,
    now: datetime,
) -> Decision:
    """A token or plus-address must name a ticket that exists; else References decide."""
    if number in facts:
        return _lifecycle(number, facts, how, reason, now, policy)
    referenced = _by_references(mail, hits)
    if referenced is not None:
        return _lifecycle(
            referenced,
            facts,
            "references",
            f"{reason} names no ticket; In-Reply-To/References",
            now,
            policy,
        )
    return Decision(None, "new", f"{reason} names no existing ticket")


def _lifecycle(
    number: int,
    facts: Mapping[int, TicketFacts],
    how: str,
    reason: str,
    now: datetime,
    policy: Policy,
) -> Decision:
    ticket = facts.get(number)
    if ticket is not None and ticket.id != number:  # merged: the mail goes on in the survivor
        number, reason = ticket.id, f"{reason}; merged into #{ticket.id}"
    if ticket is None or ticket.status not in ("resolved", "closed"):
        return Decision(number, how, reason)
    if ticket.status == "resolved":
        return Decision(number, how, f"{reason}; reopens the resolved ticket", reopen=True)
    closed = ticket.closed_at
    if closed is not None and now - closed <= timedelta(days=policy.reopen_days):
        return Decision(number, how, f"{reason}; reopens the closed ticket", reopen=True)
    return Decision(
        None,
        "new",
        f"{reason}; ticket #{number} was closed over "
        f"{policy.reopen_days} days ago: a new ticket refers to it",
        follow_up_of=number,
    )


def referenced_ids(mail: ParsedMail) -> list[str]:
    """In-Reply-To and References, the ids that may name a ticket's message."""
    return [i for i in (mail.in_reply_to, *mail.references) if i]
