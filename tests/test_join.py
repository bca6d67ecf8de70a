"""Who may write into a ticket, as a table: each sender against each helpdesk.join."""

from __future__ import annotations

import pytest

from maildesk.mail import Decision, Sender, TicketFacts, Trust
from maildesk.trust.join import JoinPolicy, admit

TICKET = TicketFacts(
    id=1042,
    status="open",
    closed_at=None,
    people=frozenset({"alice@bigcorp.example", "boss@bigcorp.example", "agent@example.com"}),
    message_ids=frozenset({"<ack@example.com>"}),
    requester="alice@bigcorp.example",
)
FREEMAIL_TICKET = TicketFacts(
    1043, "open", None, frozenset({"ann@gmail.com"}), frozenset(), requester="ann@gmail.com"
)
PASS, FAIL, NONE = Trust("pass", "dmarc=pass"), Trust("fail", "dmarc=fail", reasons=("x",)), Trust()
SPAM = Trust(spam=True, reasons=("X-Spam-Flag: YES",))


def who(address: str, trust: Trust = NONE, agent: bool = False, claims: bool = False) -> Sender:
    return Sender(address, agent=agent, claims_agent=claims or agent, trust=trust)


THREADED = Decision(1042, "references", "In-Reply-To/References")
JOINS = ("participants", "domain", "anyone")
# (who, sender, ticket, what happens under each of JOINS): in, held, or forged (held as
# a forged agent), e.g. "held in in" for participants / domain / anyone.
CASES = [
    ("requester", who("alice@bigcorp.example"), TICKET, "in in in"),
    ("a Cc the requester added", who("boss@bigcorp.example"), TICKET, "in in in"),
    ("a colleague", who("carl@bigcorp.example"), TICKET, "held in in"),
    ("a colleague at a subdomain", who("dan@sales.bigcorp.example"), TICKET, "held in in"),
    ("a stranger", who("mallory@evil.example"), TICKET, "held held in"),
    ("another gmail user", who("eve@gmail.com"), FREEMAIL_TICKET, "held held in"),
    ("the requester, forged", who("alice@bigcorp.example", FAIL), TICKET, "held held in"),
    ("the requester, authenticated", who("alice@bigcorp.example", PASS), TICKET, "in in in"),
    ("the requester, spam-flagged", who("alice@bigcorp.example", SPAM), TICKET, "in in in"),
    ("an agent, believed", who("agent@example.com", agent=True), TICKET, "in in in"),
    ("an agent's From, not believed", who("agent@example.com", claims=True), TICKET, "forged " * 3),
    ("an agent not on the ticket", who("other@example.com", agent=True), TICKET, "in in in"),
]


@pytest.mark.parametrize("join", JOINS)
@pytest.mark.parametrize(
    ("label", "sender", "ticket", "expected"), CASES, ids=[c[0] for c in CASES]
)
def test_who_may_join(
    join: str, label: str, sender: Sender, ticket: TicketFacts, expected: str
) -> None:
    decision = admit(
        Decision(ticket.id, "token", "subject token"), sender, {ticket.id: ticket}, JoinPolicy(join)
    )
    got = "forged" if decision.cause == "forged_agent" else ("held" if decision.hold else "in")
    assert got == expected.split()[JOINS.index(join)], decision.reason
    assert decision.ticket_id == ticket.id
    if got == "held":
        assert decision.cause == "stranger" and sender.address in decision.reason


def test_a_stranger_can_get_a_ticket_of_their_own_instead() -> None:
    stranger = who("mallory@evil.example")
    d = admit(THREADED, stranger, {1042: TICKET}, JoinPolicy(stranger="new_ticket"))
    assert (d.ticket_id, d.how, d.hold) == (None, "new", False)
    assert "mallory@evil.example is not on ticket #1042" in d.reason


def test_a_colleague_says_why_they_joined() -> None:
    d = admit(THREADED, who("carl@bigcorp.example"), {1042: TICKET}, JoinPolicy("domain"))
    assert not d.hold and "joins as a colleague at bigcorp.example" in d.reason
    on_gmail = Decision(1043, "token", "subject token [#1043]")
    d = admit(on_gmail, who("eve@gmail.com"), {1043: FREEMAIL_TICKET}, JoinPolicy("domain"))
    assert d.hold and "gmail.com is a public mail provider" in d.reason


def test_extra_freemail_domains() -> None:
    ticket = TicketFacts(
        7, "open", None, frozenset({"a@isp.example"}), frozenset(), "a@isp.example"
    )
    policy = JoinPolicy("domain", freemail=frozenset({"isp.example"}))
    d = admit(Decision(7, "token", "t"), who("b@isp.example"), {7: ticket}, policy)
    assert d.hold and "isp.example is a public mail provider" in d.reason


@pytest.mark.parametrize(
    ("trust", "suspicious", "held"),
    [(NONE, "hold", False), (SPAM, "ticket", False), (SPAM, "hold", True), (FAIL, "hold", True)],
)
def test_new_mail_held_only_when_suspicious_and_so_configured(
    trust: Trust, suspicious: str, held: bool
) -> None:
    new = Decision(None, "new", "no token")
    d = admit(new, who("x@y.example", trust), {}, JoinPolicy(suspicious=suspicious))
    assert (d.hold, d.cause if held else "") == (held, "suspicious" if held else "")


def test_a_forged_agent_is_held_on_a_new_mail_too() -> None:
    d = admit(
        Decision(None, "new", "no token"), who("agent@example.com", claims=True), {}, JoinPolicy()
    )
    assert (d.hold, d.cause) == (True, "forged_agent")
    assert d.reason.startswith("from agent agent@example.com, but the From is not authenticated")
