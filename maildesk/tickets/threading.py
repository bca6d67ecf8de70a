"""Which ticket a mail belongs to, and whether its sender may write there.

The look-ups that feed thread.py's pure decision (the tickets its token,
References and plus-address name) and trust/join.py's admission, inside the
pipeline's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from maildesk.desk import Desk
from maildesk.mail import Decision, ParsedMail, Sender, Verdict
from maildesk.store.lookups import reference_hits, ticket_facts
from maildesk.store.models import Ticket
from maildesk.store.tickets import load_tickets
from maildesk.thread import decide, find_token, plus_ticket, referenced_ids
from maildesk.tickets.merge import surviving
from maildesk.trust.join import admit


@dataclass(frozen=True)
class Threaded:
    decision: Decision
    # Kept while we work: the session holds loaded rows only weakly (store.load_tickets).
    known: dict[int, Ticket]


def sender_of(desk: Desk, mail: ParsedMail, verdict: Verdict, forced: Decision | None) -> Sender:
    """Who wrote, as far as we believe it; an admitted agent was vouched for."""
    assert mail.sender is not None
    claims_agent = mail.sender.address in desk.agents
    vouched = forced is not None and forced.admitted and claims_agent
    return Sender(
        mail.sender.address,
        agent=vouched or desk.is_agent(mail, verdict.trust),
        claims_agent=claims_agent,
        trust=verdict.trust,
        ours=desk.ours.is_ours(mail.sender.address),
    )


def find_ticket(
    desk: Desk,
    session: Session,
    mail: ParsedMail,
    sender: Sender,
    now: datetime,
    forced: Decision | None = None,
) -> Threaded:
    """The ticket the mail threads into (or a new one), held if its sender has no
    business there; ``forced`` (an admitted held mail) skips both."""
    if forced is not None:
        return Threaded(forced, {})
    hits = reference_hits(session, referenced_ids(mail))
    candidates = set(hits.values())
    token = find_token(mail.subject, desk.policy.token_format)
    if token is not None:
        candidates.add(token)
    plus = plus_ticket(mail, desk.policy.support_address)
    if plus is not None:
        candidates.add(plus)
    known = load_tickets(session, candidates)
    merged = {n: surviving(session, n) for n, t in known.items() if t.merged_into is not None}
    known.update({t.id: t for t in merged.values() if t is not None})
    facts = ticket_facts(session, {n: t for n, t in known.items() if n not in merged})
    for number, survivor in merged.items():
        if survivor is not None and survivor.id in facts:
            facts[number] = facts[survivor.id]  # its token and Message-IDs mean the survivor
    decision = decide(mail, desk.policy, hits, facts, now)
    return Threaded(admit(decision, sender, facts, desk.join), known)


def ticket_of(session: Session, threaded: Threaded) -> Ticket:
    """The existing ticket a decision names."""
    number = threaded.decision.ticket_id
    assert number is not None
    found = threaded.known.get(number) or session.get(Ticket, number)
    assert found is not None  # decide() only names tickets that exist
    return found
