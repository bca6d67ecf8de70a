"""The routing result for a new ticket. The YAML rules engine produces it; until
rules are evaluated, every ticket gets the default: the first tier, normal priority."""

from __future__ import annotations

from dataclasses import dataclass, field

from maildesk.config.model import Settings


@dataclass(frozen=True)
class Route:
    tier: str | None
    priority: str = "normal"
    tags: tuple[str, ...] = ()
    assignee: str | None = None
    sla_policy: str | None = None
    trace: tuple[str, ...] = field(default=())


def default_route(settings: Settings) -> Route:
    tier = settings.tiers[0].name if settings.tiers else None
    return Route(tier=tier, trace=("default: first tier, normal priority",))
