"""A ticket opened, or changed by its customer's reply: the store stage's ticket half.

Runs inside the pipeline's transaction; agent mail has its own module
(agent_mail.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, NamedTuple

from sqlalchemy.orm import Session

from maildesk.feedback import surveys
from maildesk.feedback.replies import self_served_phrase, survey_score
from maildesk.language import detect_language
from maildesk.mail import DONE, Address, Decision, ParsedMail, Route, Trust, Verdict
from maildesk.routing.facts import CustomerInfo
from maildesk.sla import timers
from maildesk.store.events import add_event
from maildesk.store.models import Message, Ticket
from maildesk.store.tickets import add_participant, customer_for, participants_of
from maildesk.thread import clean_subject

if TYPE_CHECKING:
    from maildesk.pipeline import Pipeline


class Opened(NamedTuple):
    ticket: Ticket
    route: Route
    first_contact: bool  # the customer was not known before this mail


def open_ticket(
    pipeline: Pipeline,
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
    router = pipeline.router
    route, _ = router.route_new(router.facts(mail, visible, stored, now, trust=trust))
    if route.customer_category is not None:
        customer.category = route.customer_category
    if customer.language is None and route.language is not None:
        customer.language = route.language
    subject = clean_subject(mail.subject, pipeline.policy.token_format) or "(no subject)"
    priority = route.priority or "normal"
    # No rule chose a policy: the config's default for the priority (sla.by_priority).
    sla_policy = route.sla_policy or pipeline.settings.sla.by_priority.get(priority)  # type: ignore[call-overload]
    ticket = Ticket(
        subject=subject,
        status="new",
        priority=priority,
        tier=route.tier,
        first_tier=route.tier,
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
    session.add(ticket)
    session.flush()
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
    policy = timers.policy_of(pipeline.settings, ticket)
    if policy is not None:
        timers.plan(session, ticket, policy, router.calendar, pipeline.settings.sla.reminders, now)
    if decision.follow_up_of is not None:
        add_event(session, ticket.id, "maildesk", "follow_up", {"of": decision.follow_up_of}, now)
        add_event(session, decision.follow_up_of, "maildesk", "followed_up", {"by": ticket.id}, now)
    return Opened(ticket, route, first_contact)


def update_ticket(
    pipeline: Pipeline,
    session: Session,
    ticket: Ticket,
    mail: ParsedMail,
    decision: Decision,
    now: datetime,
    visible: str,
    verdict: Verdict,
    is_agent: bool,
) -> str | None:
    """A reply on a known ticket; returns "survey" or "self_served" when the reply was
    an answer to the survey or a thumbs-up that closed the ticket (nobody needs to hear
    of it), else None.

    An automatic reply (out of office...) is stored but changes nothing: it neither
    reopens the ticket nor restarts an SLA clock.
    """
    assert mail.sender is not None
    sender = mail.sender.address
    ticket.updated_at = now
    before = ticket.status
    if verdict.loop_suspect:
        return None
    requester = ticket.requester.address if ticket.requester else None
    if ticket.quiet and sender == requester and verdict.trust.authentication == "pass":
        lift_quiet(session, ticket, sender, f"{sender} wrote again, authenticated", now)
    # Only the requester answers the survey or says the suggestions solved it: a
    # colleague on Cc who writes "solved" is not the customer (README "Security model").
    if not is_agent and sender == requester and ticket.status in DONE:
        survey = surveys.sent_survey(session, ticket.id)
        answer = survey_score(visible) if survey is not None else None
        if survey is not None and answer is not None:
            surveys.record_answer(pipeline.mailer, session, ticket, survey, *answer, sender, now)
            return "survey"
    if decision.reopen:
        add_event(
            session,
            ticket.id,
            sender,
            "status",
            {"from": ticket.status, "to": "open", "why": "reply reopened it"},
            now,
        )
        ticket.status = "open"
        ticket.closed_at = None
        ticket.resolved_at = None
        ticket.resolution = None
    elif ticket.status == "pending" and not is_agent:
        # The customer answered: the ball is back with support.
        add_event(
            session,
            ticket.id,
            sender,
            "status",
            {"from": "pending", "to": "open", "why": "customer replied"},
            now,
        )
        ticket.status = "open"
    if is_agent:
        return None
    route_reply(pipeline, session, ticket, mail, now, visible, verdict.trust)
    served = sender == requester and _self_served(pipeline, session, ticket, sender, visible, now)
    policy = timers.policy_of(pipeline.settings, ticket)
    calendar = pipeline.router.calendar
    timers.follow_status(session, ticket, before, policy, calendar, now)
    surveys.follow_status(session, pipeline.settings, ticket, before, now)
    if served:
        return "self_served"
    reminders = pipeline.settings.sla.reminders
    timers.on_customer_reply(session, ticket, policy, calendar, reminders, now)
    return None


def _self_served(
    pipeline: Pipeline, session: Session, ticket: Ticket, sender: str, visible: str, now: datetime
) -> bool:
    """No agent has answered yet and the customer says the suggestions solved it."""
    if ticket.status not in ("new", "open") or ticket.first_response_at is not None:
        return False
    config = pipeline.settings.self_service
    phrase = self_served_phrase(visible, config.phrases, config.max_words)
    if phrase is None:
        return False
    add_event(
        session,
        ticket.id,
        sender,
        "status",
        {
            "from": ticket.status,
            "to": "resolved",
            "why": f'self-served: the customer said "{phrase}"',
        },
        now,
    )
    ticket.status, ticket.resolved_at, ticket.resolution = "resolved", now, "self_served"
    return True


def route_reply(
    pipeline: Pipeline,
    session: Session,
    ticket: Ticket,
    mail: ParsedMail,
    now: datetime,
    visible: str,
    trust: Trust,
) -> None:
    """Rules marked ``on: reply`` may change a ticket when its customer writes again."""
    router = pipeline.router
    if not any(rule.on_reply for rule in router.rules.rules):
        return
    customer = ticket.requester
    stored = (
        CustomerInfo(customer.category, customer.organization, customer.language)
        if customer is not None
        else None
    )
    route = router.route_reply(router.facts(mail, visible, stored, now, reply=True, trust=trust))
    changes: dict[str, object] = {}
    for field, value in (
        ("priority", route.priority),
        ("tier", route.tier),
        ("assignee", route.assignee),
        ("sla_policy", route.sla_policy),
    ):
        if value is not None and getattr(ticket, field) != value:
            changes[field] = {"from": getattr(ticket, field), "to": value}
            setattr(ticket, field, value)
    new_tags = [t for t in route.tags if t not in ticket.tags]
    if new_tags:
        changes["tags"] = {"added": new_tags}
        ticket.tags = [*ticket.tags, *new_tags]
    new_notify = [a for a in route.notify if a not in ticket.notify]
    if new_notify:
        changes["notify"] = {"added": new_notify}
        ticket.notify = [*ticket.notify, *new_notify]
    if changes:
        add_event(
            session,
            ticket.id,
            "maildesk",
            "routed",
            {**changes, "rules": list(route.trace)},
            now,
        )


def add_participants(
    pipeline: Pipeline,
    session: Session,
    ticket: Ticket,
    mail: ParsedMail,
    new: bool,
    now: datetime,
    *,
    agent: bool,
    trusted: bool,
) -> None:
    """The sender joins the ticket, and the people the requester or an agent put in
    To/Cc: never those of anyone else, nor of a suspicious mail (README "Security")."""
    assert mail.sender is not None
    sender = mail.sender
    if agent:
        role = "agent"
    elif new or (ticket.requester is not None and ticket.requester.address == sender.address):
        role = "requester"
    else:
        role = "cc"
    known = set() if new else participants_of(session, [ticket.id])[ticket.id]
    wanted = [(sender, role)]
    anyone = pipeline.settings.helpdesk.join == "anyone"
    others: dict[str, Address] = {}
    if agent or (trusted and (role == "requester" or anyone)):
        for other in (*mail.to, *mail.cc):
            address = other.address
            if (
                address not in known
                and address != sender.address
                and not pipeline.ours.is_ours(address)
            ):
                others.setdefault(address, other)
    cap = pipeline.settings.helpdesk.max_cc
    for other in list(others.values())[:cap]:
        wanted.append((other, "agent" if other.address in pipeline.policy.agents else "cc"))
    for who, role in wanted:
        if who.address not in known:
            known.add(who.address)
            add_participant(session, ticket.id, who, role, now)
    if len(others) > cap:
        # Kept for the agents: `#admit ADDRESS` adds one of them.
        left = list(others)[cap:]
        add_event(
            session,
            ticket.id,
            sender.address,
            "participants_held",
            {"count": len(left), "addresses": left[:200], "max_cc": cap},
            now,
        )


def lift_quiet(session: Session, ticket: Ticket, actor: str, why: str, now: datetime) -> None:
    """Automatic mail may go to the requester again (surveys, status notices)."""
    add_event(session, ticket.id, actor, "quiet_lifted", {"was": ticket.quiet, "why": why}, now)
    ticket.quiet = None


def suggest_articles(
    pipeline: Pipeline, session: Session, ticket: Ticket, message: Message, now: datetime
) -> list[dict[str, str]]:
    """Knowledge-base articles that may already answer the question, for the
    acknowledgement; recorded as an event so that reports can count deflection."""
    text = message.visible_text or message.full_text
    # The language this question is written in: articles in another are no help.
    language = detect_language(f"{ticket.subject}\n{text}") or ticket.language
    found = pipeline.router.kb.suggest(ticket.subject, text, language)
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
