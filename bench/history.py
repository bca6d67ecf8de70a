"""A deterministic, realistic support history written straight into the database.

For the report's benchmark and its screenshot: weeks of tickets arriving
mostly in business hours, three tiers, first responses mostly in time and
some late, self-served tickets, surveys with skewed-high scores, tags and
subjects that repeat the way real problems do. Six agents answer and
resolve; some tickets are reopened by their customer and resolved again.
Tickets store what the daemon stores as their timers settle (durations,
first responder, problem key) and the audit events the report reads.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from maildesk.config.model import Settings
from maildesk.config.semantics import parse_duration
from maildesk.kb.terms import problem_key
from maildesk.sla import durations
from maildesk.sla.calendar import BusinessCalendar
from maildesk.sla.timers import clock_for
from maildesk.store.models import Customer, Event, Survey, Ticket

PROBLEMS = [
    ("Forgot my password", ["password", "login"]),
    ("Can't log in", ["login"]),
    ("VPN not connecting", ["vpn"]),
    ("VPN connection drops", ["vpn"]),
    ("Invoice needed for October", ["billing", "invoice"]),
    ("Charged twice", ["billing", "refund"]),
    ("Refund request", ["billing", "refund"]),
    ("Printer not printing", ["printer"]),
    ("Email not syncing on phone", ["mail", "mobile"]),
    ("App is very slow", ["performance"]),
    ("Export to CSV fails", ["bug", "export"]),
    ("Upgrade to business plan", ["billing", "plan"]),
    ("Delete my account", ["gdpr"]),
    ("Two-factor code not accepted", ["2fa", "login"]),
    ("API returns 500", ["api", "bug"]),
    ("Не работает VPN", ["vpn"]),
    ("Забыл пароль", ["password", "login"]),
]
TIERS = (("L1", "normal", 0.7), ("L2", "normal", 0.2), ("L3", "corporate", 0.1))
AGENTS = {
    "L1": ("ann@example.com", "bob@example.com", "carla@example.com"),
    "L2": ("dmitri@example.com", "eve@example.com"),
    "L3": ("farid@example.com",),
}


def fill_history(
    sessions: sessionmaker[Session],
    settings: Settings,
    end: datetime,
    *,
    days: int = 28,
    per_day: int = 30,
    seed: int = 1,
) -> int:
    """Tickets for ``days`` days before ``end``; returns how many."""
    rng = random.Random(seed)
    calendar = BusinessCalendar.from_settings(settings)
    start = end - timedelta(days=days)
    count = 0
    with sessions() as session:
        customers = [
            Customer(address=f"customer{i}@example.org", name=f"Customer {i}", created_at=start)
            for i in range(200)
        ]
        session.add_all(customers)
        session.flush()
        day = start
        while day < end:
            local = day.astimezone(calendar.zone)
            weekend = local.weekday() >= 5
            for _ in range(rng.randint(per_day // 6, per_day // 3) if weekend else per_day):
                count += 1
                hour = rng.choices(
                    range(24), weights=[1] * 8 + [6, 9, 9, 8, 5, 7, 8, 7, 6, 4] + [2] * 6
                )[0]
                created = day + timedelta(hours=hour, minutes=rng.randrange(60))
                if created >= end:
                    continue
                session.add_all(
                    _ticket(rng, settings, calendar, created, end, rng.choice(customers))
                )
            day += timedelta(days=1)
        session.commit()
    return count


def _ticket(
    rng: random.Random,
    settings: Settings,
    calendar: BusinessCalendar,
    created: datetime,
    end: datetime,
    customer: Customer,
) -> list[object]:
    tier, policy_name, _ = rng.choices(TIERS, weights=[w for *_, w in TIERS])[0]
    subject, tags = rng.choice(PROBLEMS)
    urgent = rng.random() < 0.06
    if urgent:
        policy_name = "urgent"
    policy = settings.sla_policy(policy_name)
    assert policy is not None and policy.first_response and policy.resolution
    clock = clock_for(policy, calendar)
    first_target = parse_duration(policy.first_response) or timedelta(hours=2)
    resolve_target = parse_duration(policy.resolution) or timedelta(hours=4)
    wording = subject if rng.random() < 0.8 else f"{subject}!"
    agent = rng.choice(AGENTS[tier])
    ticket = Ticket(
        subject=wording,
        problem_key=problem_key(wording),
        assignee=agent if rng.random() < 0.6 else None,
        status="open",
        priority="urgent" if urgent else rng.choice(["normal", "normal", "high", "low"]),
        tier=tier,
        first_tier=tier,
        requester=customer,
        sla_policy=policy_name,
        tags=list(tags),
        notify=[],
        created_at=created,
        updated_at=created,
        first_response_due=clock.add(created, first_target),
        resolution_due=clock.add(created, resolve_target),
    )
    made: list[object] = [ticket]
    customer_address = customer.address

    def event(at: datetime, actor: str, kind: str, **detail: object) -> None:
        made.append(Event(ticket=ticket, at=at, actor=actor, kind=kind, detail=detail))

    def resolve(at: datetime, actor: str) -> None:
        ticket.status, ticket.resolved_at = "resolved", at
        event(at, actor, "status", **{"from": "open", "to": "resolved"})

    if rng.random() < 0.14:  # read the suggested article, replied "solved"
        ticket.resolution = "self_served"
        resolve(created + timedelta(minutes=rng.randint(5, 90)), customer_address)
    else:
        share = rng.lognormvariate(-0.7, 0.6)  # mostly well inside the target, a tail late
        answered = clock.add(created, first_target * share)
        if answered < end:
            ticket.first_response_at, ticket.first_responder = answered, agent
            event(answered, agent, "replied", message=0)
            done = clock.add(answered, resolve_target * rng.lognormvariate(-0.6, 0.7))
            if done < end:
                resolve(done, agent)
                again = done + timedelta(hours=rng.randint(2, 48))
                if rng.random() < 0.08 and again < end:  # "it is broken again"
                    ticket.status, ticket.resolved_at = "open", None
                    event(again, customer_address, "status", **{"from": "resolved", "to": "open"})
                    other = rng.choice(AGENTS[tier])
                    fixed = clock.add(again, resolve_target * rng.lognormvariate(-1, 0.5))
                    if fixed < end:
                        event(fixed, other, "replied", message=0)
                        resolve(fixed, other)
    durations.settle(ticket, clock)
    if ticket.resolved_at is not None and ticket.resolved_at + timedelta(hours=1) < end:
        sent = ticket.resolved_at + timedelta(hours=1)
        answered_at = sent + timedelta(hours=rng.randint(1, 30))
        answer = rng.random() < 0.45 and answered_at < end
        made.append(
            Survey(
                ticket=ticket,
                state="answered" if answer else "sent",
                due_at=sent,
                sent_at=sent,
                score=rng.choices([1, 2, 3, 4, 5], weights=[4, 5, 10, 30, 51])[0]
                if answer
                else None,
                answered_at=answered_at if answer else None,
            )
        )
    return made
