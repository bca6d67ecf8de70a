"""Everything the desk's admins edit as files (rules, customers, calendar, knowledge
base), loaded together and swapped as one on reload."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from maildesk.config.model import Settings
from maildesk.errors import Problem
from maildesk.kb.articles import load_articles
from maildesk.kb.index import KnowledgeBase
from maildesk.mail import ParsedMail, Route, Trust
from maildesk.render import template_files
from maildesk.routing.customers import CustomerDirectory, load_customers
from maildesk.routing.engine import RuleTrace, route_message
from maildesk.routing.facts import CustomerInfo, Facts, facts_for
from maildesk.routing.rules import load_rules
from maildesk.routing.ruleset import Known, RuleSet
from maildesk.sla.calendar import BusinessCalendar
from maildesk.trust.sender import TrustPolicy, assess

Signature = tuple[tuple[str, float, int], ...]


def known_names(settings: Settings) -> Known:
    folder = settings.paths.templates
    templates = set()
    if folder.is_dir():
        templates = {p.name.split(".", 1)[0] for p in template_files(folder)}
    return Known(
        tiers=frozenset(t.name for t in settings.tiers),
        sla_policies=frozenset(p.name for p in settings.sla_policies),
        templates=frozenset(templates),
    )


@dataclass(frozen=True)
class Router:
    rules: RuleSet
    customers: CustomerDirectory
    calendar: BusinessCalendar
    default_tier: str | None
    kb: KnowledgeBase = field(default_factory=lambda: KnowledgeBase(()))
    signature: Signature = ()  # of the files as they were just before loading
    trust: TrustPolicy = field(default_factory=TrustPolicy)

    @classmethod
    def load(cls, settings: Settings) -> tuple[Router, list[Problem]]:
        # Taken first: a file saved while we read is seen as changed next time.
        signature = rules_signature(settings)
        rules, problems = load_rules(settings.paths.rules, known_names(settings))
        customers, trouble = load_customers(settings.paths.customers)
        articles, bad_articles = load_articles(settings.paths.kb)
        router = cls(
            rules,
            customers,
            BusinessCalendar.from_settings(settings),
            settings.tiers[0].name if settings.tiers else None,
            KnowledgeBase(articles),
            signature,
            TrustPolicy(settings.trust.authserv_id, settings.trust.spam_score),
        )
        return router, [*problems, *trouble, *bad_articles]

    def customer(self, address: str, stored: CustomerInfo | None) -> CustomerInfo:
        """The admin's list first, then what the database knows (e.g. set by a rule)."""
        listed = self.customers.lookup(address) or CustomerInfo()
        stored = stored or CustomerInfo()
        return CustomerInfo(
            category=listed.category or stored.category,
            organization=listed.organization or stored.organization,
            language=listed.language or stored.language,
        )

    def facts(
        self,
        mail: ParsedMail,
        visible: str,
        stored: CustomerInfo | None,
        now: datetime,
        *,
        reply: bool = False,
        trust: Trust | None = None,
    ) -> Facts:
        """``trust``: the pipeline's verdict; else judged here (`maildesk rules test`)."""
        address = mail.sender.address if mail.sender else ""
        return facts_for(
            mail,
            visible,
            self.customer(address, stored),
            self.calendar.is_open(now),
            reply=reply,
            trust=trust if trust is not None else assess(mail, self.trust),
        )

    def route_new(
        self, facts: Facts, *, explain: bool = False
    ) -> tuple[Route, tuple[RuleTrace, ...]]:
        route, traces = route_message(self.rules, facts, explain=explain)
        return replace(
            route,
            tier=route.tier or self.default_tier,
            priority=route.priority or "normal",
            language=route.language or facts.customer.language or facts.language,
        ), traces

    def route_reply(self, facts: Facts) -> Route:
        return route_message(self.rules, facts)[0]


def rules_signature(settings: Settings) -> Signature:
    """What the router was loaded from; a change means: load again."""
    paths: list[Path] = []
    for folder in (settings.paths.rules, settings.paths.templates, settings.paths.kb):
        if folder.is_dir():
            paths += sorted(p for p in folder.rglob("*") if p.is_file())
    if settings.paths.customers is not None:
        paths.append(settings.paths.customers)
    signature = []
    for path in paths:
        try:
            stat = path.stat()
        except OSError:
            continue
        signature.append((str(path), stat.st_mtime, stat.st_size))
    return tuple(signature)
