"""The engine: every matching rule's actions, in order, later ones overriding earlier.

``stop: true`` ends the evaluation after a matching rule. For a new ticket
all rules run; for a customer reply only rules with ``on: reply``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from maildesk.routing.facts import Facts
from maildesk.routing.route import Route
from maildesk.routing.rules import Actions, Rule, RuleSet


@dataclass(frozen=True)
class RuleTrace:
    name: str
    where: str
    matched: bool
    reason: str
    skipped: bool = False  # after a stop, or not for replies


def route_message(
    rules: RuleSet, facts: Facts, *, explain: bool = False, base: Route | None = None
) -> tuple[Route, tuple[RuleTrace, ...]]:
    """The route for this message, and a trace of every rule (with reasons if ``explain``)."""
    route = base or Route(tier=None)
    traces: list[RuleTrace] = []
    stopped = False
    for rule in rules.rules:
        if stopped or (facts.reply and not rule.on_reply):
            why = "after a stop" if stopped else "only for new tickets"
            if explain:
                traces.append(RuleTrace(rule.name, rule.where, False, why, skipped=True))
            continue
        if explain:
            matched, reason = rule.when.explain(facts)
        else:
            matched, reason = rule.when.matches(facts), ""
        if explain or matched:
            traces.append(RuleTrace(rule.name, rule.where, matched, reason))
        if matched:
            route = apply(route, rule)
            stopped = rule.stop
    hits = tuple(f"{t.name} ({t.where})" for t in traces if t.matched)
    return replace(route, trace=hits), tuple(traces)


def apply(route: Route, rule: Rule) -> Route:
    then: Actions = rule.then
    changes: dict[str, object] = {}
    for name in ("tier", "priority", "sla_policy", "customer_category", "language"):
        value = getattr(then, "sla" if name == "sla_policy" else name)
        if value is not None:
            changes[name] = value
    if then.assign is not None:
        changes["assignee"] = then.assign
    if then.acknowledge is not None:
        changes["acknowledge"] = then.acknowledge
    if then.tags:
        changes["tags"] = tuple(dict.fromkeys((*route.tags, *then.tags)))
    if then.notify:
        changes["notify"] = tuple(dict.fromkeys((*route.notify, *then.notify)))
    return replace(route, **changes)  # type: ignore[arg-type]
