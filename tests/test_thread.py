"""Threading rules as tables: tokens, prefixes, references, plus-addresses, lifecycle."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from maildesk.mail import TicketFacts
from maildesk.parse import parse_mail
from maildesk.thread import Policy, clean_subject, decide, find_token, plus_ticket

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
POLICY = Policy(
    token_format="[#{id}]",
    support_address="support@example.com",
    agents=frozenset({"agent@example.com"}),
)


@pytest.mark.parametrize(
    ("subject", "number"),
    [
        ("[#1042] Printer on fire", 1042),
        ("Re: [#1042] Printer on fire", 1042),
        ("RE: AW: WG: [#1042] Printer", 1042),
        ("Ответ: [#1042] Принтер", 1042),
        ("Printer on fire [#1042]", 1042),
        ("Re: [EXTERNAL] Re: Printer [# 1042 ]", 1042),
        ("SV: Vs: Antw: TR: Fwd: [#7]", 7),
        ("Re[2]: [#15] x", 15),
        ("[#1] and [#2]", 1),
        ("Printer on fire", None),
        ("#1042 without brackets", None),
        ("[1042]", None),
        ("", None),
    ],
)
def test_find_token(subject: str, number: int | None) -> None:
    assert find_token(subject, "[#{id}]") == number


def test_other_token_formats() -> None:
    assert find_token("Re: Ticket#000123: help", "Ticket#{id}:") == 123
    assert find_token("RE: (MD-55) x", "(MD-{id})") == 55


@pytest.mark.parametrize(
    ("subject", "clean"),
    [
        ("Re: Re: Fwd: Printer", "Printer"),
        ("AW: WG: Drucker", "Drucker"),
        ("Ответ: Принтер", "Принтер"),
        ("RE: [EXTERNAL] Re: Lorem", "Lorem"),
        ("Re: [#12] Printer", "Printer"),
        ("Research results", "Research results"),
        ("Re[3]: x", "x"),
    ],
)
def test_clean_subject(subject: str, clean: str) -> None:
    assert clean_subject(subject, "[#{id}]") == clean


@given(st.text())
def test_tokens_and_subjects_never_raise(subject: str) -> None:
    find_token(subject, "[#{id}]")
    clean_subject(subject, "[#{id}]")


def mail(
    subject: str = "Hi",
    sender: str = "alice@example.org",
    to: str = "support@example.com",
    headers: str = "",
):  # type: ignore[no-untyped-def]
    raw = (
        f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <m@x>\r\n"
        f"{headers}\r\nbody\r\n"
    ).encode()
    return parse_mail(raw)


def facts(
    number: int = 1042,
    status: str = "open",
    closed: datetime | None = None,
    people: tuple[str, ...] = ("alice@example.org",),
    ids: tuple[str, ...] = ("<ack-1042@example.com>",),
) -> dict[int, TicketFacts]:
    return {number: TicketFacts(number, status, closed, frozenset(people), frozenset(ids))}


def test_token_from_requester_appends() -> None:
    d = decide(mail("Re: [#1042] Hi"), POLICY, {}, facts(), NOW)
    assert (d.ticket_id, d.how, d.reopen, d.hold) == (1042, "token", False, False)


def test_token_of_missing_ticket_opens_new() -> None:
    d = decide(mail("Re: [#999] Hi"), POLICY, {}, {}, NOW)
    assert (d.ticket_id, d.how) == (None, "new")


def test_references_when_the_client_dropped_the_token() -> None:
    m = mail("Re: Hi", headers="In-Reply-To: <ack-1042@example.com>\r\n")
    d = decide(m, POLICY, {"<ack-1042@example.com>": 1042}, facts(), NOW)
    assert (d.ticket_id, d.how) == (1042, "references")


def test_nearest_reference_wins() -> None:
    m = mail("Re: Hi", headers="References: <a@x> <b@x>\r\n")
    d = decide(m, POLICY, {"<a@x>": 1, "<b@x>": 2}, {**facts(1), **facts(2)}, NOW)
    assert d.ticket_id == 2


def test_plus_address() -> None:
    d = decide(mail("Hi", to="support+1042@example.com"), POLICY, {}, facts(), NOW)
    assert (d.ticket_id, d.how) == (1042, "plus-address")
    assert plus_ticket(mail(to="support+1042@other.example"), "support@example.com") is None
    off = Policy(**{**POLICY.__dict__, "plus_addressing": False})
    assert decide(mail("Hi", to="support+1042@example.com"), off, {}, facts(), NOW).how == "new"


def test_threading_links_whoever_writes() -> None:
    """Threading finds the ticket a mail points at; whether its sender may write there
    is the join stage's question (tests/test_join.py)."""
    stranger = mail("Re: [#1042] Hi", sender="mallory@evil.example")
    assert decide(stranger, POLICY, {}, facts(), NOW).ticket_id == 1042
    leaked = mail(
        "Re: Hi", sender="mallory@evil.example", headers="In-Reply-To: <ack-1042@example.com>\r\n"
    )
    d = decide(leaked, POLICY, {"<ack-1042@example.com>": 1042}, facts(), NOW)
    assert (d.ticket_id, d.how, d.hold) == (1042, "references", False)


def test_closed_ticket_reopens_within_the_window_only() -> None:
    recent = facts(status="closed", closed=NOW - timedelta(days=3))
    d = decide(mail("Re: [#1042] Hi"), POLICY, {}, recent, NOW)
    assert (d.ticket_id, d.reopen) == (1042, True)
    old = facts(status="closed", closed=NOW - timedelta(days=30))
    d = decide(mail("Re: [#1042] Hi"), POLICY, {}, old, NOW)
    assert (d.ticket_id, d.follow_up_of) == (None, 1042)


def test_resolved_ticket_reopens() -> None:
    d = decide(mail("Re: [#1042] Hi"), POLICY, {}, facts(status="resolved"), NOW)
    assert (d.ticket_id, d.reopen) == (1042, True)
