"""The result of routing: what a new ticket gets (or a reply changes)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Route:
    tier: str | None = None
    priority: str | None = None
    tags: tuple[str, ...] = ()
    assignee: str | None = None
    sla_policy: str | None = None
    customer_category: str | None = None
    acknowledge: str | bool | None = None  # template, False: none, None: the default
    language: str | None = None
    notify: tuple[str, ...] = ()
    survey: bool | None = None  # False: no satisfaction survey
    trace: tuple[str, ...] = ()  # the rules that matched, "name (file:line)"
