"""A new ticket: its customer, its route, its SLA timers, the articles that may answer it.

Runs inside the pipeline's transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy.orm import Session

from maildesk.desk import Desk
from maildesk.kb.terms import problem_key
from maildesk.language import detect_language
from maildesk.mail import (
    Decision,
    ParsedMail,
    Route,
    Trust,
    Verdict,
)
from maildesk.routing.facts import CustomerInfo
from maildesk.sla import timers
from maildesk.store.events import add_event
from maildesk.store.inserts import insert_loaded
from maildesk.store.models import (
    Message,
    Ticket,
)
from maildesk.store.tickets import customer_for
from maildesk.thread import clean_subject
from maildesk.tickets import assignment, problems


class Opened(NamedTuple):
    ticket: Ticket
    route: Route
    first_contact: bool  # the customer was not known before this mail
    assigned: bool = False  # given to an agent by the tier's assign: only they are told


def open_ticket(
    desk: Desk,
    session: Session,
    mail: ParsedMail,
    decision: Decision,
    source: str,
    now: datetime,
    visible: str,
    trust: Trust,
) -> Opened:
    assert mail.sender is not None
    customer = customer_for(session, mail.sender, now)
    first_contact = customer.id is None
    stored = CustomerInfo(customer.category, customer.organization, customer.language)
    router = desk.router
    route, _ = router.route_new(router.facts(mail, visible, stored, now, trust=trust))
    if route.customer_category is not None:
        customer.category = route.customer_category
    if customer.language is None and route.language is not None:
        customer.language = route.language
    subject = clean_subject(mail.subject, desk.policy.token_format) or "(no subject)"
    priority = route.priority or "normal"
    # No rule chose a policy: the config's default for the priority (sla.by_priority).
    sla_policy = route.sla_policy or desk.settings.sla.by_priority.get(priority)  # type: ignore[call-overload]
    if first_contact:
        insert_loaded(session, customer)
    ticket = Ticket(
        subject=subject,
        problem_key=problem_key(subject),
        status="new",
        priority=priority,
        tier=route.tier,
        first_tier=route.tier,
        requester_id=customer.id,
        requester=customer,
        assignee=route.assignee,
        sla_policy=sla_policy,
        tags=list(route.tags),
        language=route.language,
        notify=list(route.notify),
        survey=route.survey is not False,
        # A forged From or spam: no robot of ours writes to this address (README "Security").
        quiet="; ".join(trust.reasons)[:1000] or None,
        created_at=now,
        updated_at=now,
    )
    insert_loaded(session, ticket)
    problems.watch(desk, session, ticket, now)
    add_event(
        session,
        ticket.id,
        "maildesk",
        "created",
        {
            "source": source,
            "how": decision.how,
            "reason": decision.reason,
            "tier": route.tier,
            "priority": route.priority,
            "sla": sla_policy,
            "rules": list(route.trace),
        },
        now,
    )
    policy = timers.policy_of(desk.settings, ticket)
    if policy is not None:
        timers.plan(session, ticket, policy, router.calendar, desk.settings.sla.reminders, now)
    if decision.follow_up_of is not None:
        add_event(session, ticket.id, "maildesk", "follow_up", {"of": decision.follow_up_of}, now)
        add_event(session, decision.follow_up_of, "maildesk", "followed_up", {"by": ticket.id}, now)
    assigned = route.assignee is None and assignment.assign(desk, session, ticket, now)
    return Opened(ticket, route, first_contact, assigned)


def suggest_articles(
    desk: Desk, session: Session, ticket: Ticket, message: Message, now: datetime
) -> list[dict[str, str]]:
    """Knowledge-base articles that may already answer the question, for the
    acknowledgement; recorded as an event so that reports can count deflection."""
    text = message.visible_text or message.full_text
    # The language this question is written in: articles in another are no help.
    language = detect_language(f"{ticket.subject}\n{text}") or ticket.language
    found = desk.router.kb.suggest(ticket.subject, text, language)
    if found:
        add_event(
            session,
            ticket.id,
            "maildesk",
            "kb_suggested",
            {"articles": [s.article.slug for s in found], "scores": [s.score for s in found]},
            now,
        )
    return [{"title": s.article.title, "url": s.article.url} for s in found]


def announce(
    desk: Desk,
    session: Session,
    opened: Opened,
    message: Message,
    mail: ParsedMail,
    verdict: Verdict,
    now: datetime,
    *,
    acknowledge: bool,
) -> None:
    """The customer's acknowledgement (with articles that may answer them) and the
    tier's notification; no robot of ours answers a robot, a forged From or spam."""
    ticket = opened.ticket
    desk.mailer.on_new_ticket(
        session,
        ticket,
        message,
        mail,
        opened.route,
        acknowledge=acknowledge and not verdict.silent,
        notify=not verdict.loop,
        only=ticket.assignee if opened.assigned else None,
        first_contact=opened.first_contact,
        now=now,
        # Archived mail is told nothing: no articles, and none counted as suggested.
        articles=suggest_articles(desk, session, ticket, message, now) if acknowledge else [],
    )
    if acknowledge and verdict.trust.suspicious and not verdict.loop_suspect:
        add_event(
            session,
            ticket.id,
            "maildesk",
            "acknowledgement_suppressed",
            {"why": "; ".join(verdict.trust.reasons)},
            now,
        )
