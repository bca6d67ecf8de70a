"""The engine: every matching rule's actions, in order, later ones overriding earlier.

``stop: true`` ends the evaluation after a matching rule. For a new ticket
all rules run; for a customer reply only rules with ``on: reply``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from maildesk.mail import Route
from maildesk.routing.conditions import time_box
from maildesk.routing.facts import Facts
from maildesk.routing.ruleset import RuleSet


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
    changes: dict[str, Any] = {}
    traces: list[RuleTrace] = []
    hits: list[str] = []
    reply = facts.reply
    if not explain:
        evaluate, actions, labels = rules.compiled(reply)
        with time_box():
            found = list(evaluate(facts))
        for index in found:
            hits.append(labels[index])
            _collect(changes, actions[index])
        return _route(base, changes, hits), ()
    for rule in rules.rules:
        if reply and not rule.on_reply:
            traces.append(
                RuleTrace(rule.name, rule.where, False, "only for new tickets", skipped=True)
            )
            continue
        matched, reason = rule.when.explain(facts)
        traces.append(RuleTrace(rule.name, rule.where, matched, reason))
        if matched:
            hits.append(f"{rule.name} ({rule.where})")
            _collect(changes, rule.then.set_fields)
            if rule.stop:
                traces.extend(
                    RuleTrace(r.name, r.where, False, "after a stop", skipped=True)
                    for r in rules.rules[rules.rules.index(rule) + 1 :]
                )
                break
    return _route(base, changes, hits), tuple(traces)


def _route(base: Route | None, changes: dict[str, Any], hits: list[str]) -> Route:
    route = base or Route()
    if "tags" in changes:
        changes["tags"] = tuple(dict.fromkeys((*route.tags, *changes["tags"])))
    if "notify" in changes:
        changes["notify"] = tuple(dict.fromkeys((*route.notify, *changes["notify"])))
    return replace(route, trace=tuple(hits), **changes)


def _collect(changes: dict[str, Any], actions: tuple[tuple[str, Any], ...]) -> None:
    """One rule's actions onto what earlier rules set: later values win, lists add up."""
    for name, value in actions:
        if name == "tags" or name == "notify":
            changes[name] = (*changes.get(name, ()), *value)
        else:
            changes[name] = value
