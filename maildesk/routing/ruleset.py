"""A compiled rule set as data: the rules, their conditions and actions, and the fast path.

rules.py makes one from YAML files; engine.py and fastpath.py read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from maildesk.routing.conditions import Condition
from maildesk.routing.fastpath import generate


@dataclass(frozen=True)
class Known:
    """What rules may name: the config's tiers and SLA policies, the templates."""

    tiers: frozenset[str] = frozenset()
    sla_policies: frozenset[str] = frozenset()
    templates: frozenset[str] = frozenset()
    check_names: bool = True  # False: shape only (no config to check against)


@dataclass(frozen=True)
class Actions:
    tier: str | None = None
    priority: str | None = None
    tags: tuple[str, ...] = ()
    assign: str | None = None
    sla: str | None = None
    customer_category: str | None = None
    acknowledge: str | bool | None = None  # template name, False for none, None: not set
    language: str | None = None
    notify: tuple[str, ...] = ()
    survey: bool | None = None  # False: no satisfaction survey for this ticket

    @property
    def set_fields(self) -> tuple[tuple[str, Any], ...]:
        """(Route field, value) for every action this rule sets, computed once."""
        cached: tuple[tuple[str, Any], ...] | None = self.__dict__.get("_set")
        if cached is None:
            names = {"sla": "sla_policy", "assign": "assignee"}
            cached = tuple(
                (names.get(k, k), v)
                for k, v in self.__dict__.items()
                if not k.startswith("_") and v is not None and v != ()
            )
            object.__setattr__(self, "_set", cached)
        return cached


@dataclass(frozen=True)
class Rule:
    name: str
    where: str  # file:line
    when: Condition
    then: Actions
    stop: bool = False
    on_reply: bool = False


Compiled = tuple[Any, tuple[tuple[tuple[str, Any], ...], ...], tuple[str, ...]]


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...] = ()
    files: tuple[Path, ...] = ()

    def compiled(self, reply: bool) -> Compiled:
        """(generated function, actions per rule, label per rule) for the fast path."""
        key = "_reply" if reply else "_new"
        found: Compiled | None = self.__dict__.get(key)
        if found is None:
            chosen = [r for r in self.rules if r.on_reply or not reply]
            found = (
                generate([(r.when, r.stop) for r in chosen]),
                tuple(r.then.set_fields for r in chosen),
                tuple(f"{r.name} ({r.where})" for r in chosen),
            )
            object.__setattr__(self, key, found)
        return found
