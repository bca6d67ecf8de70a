"""The few statistics reports print, defined once: medians, p90, changes between periods."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence


def median(values: Sequence[float]) -> float | None:
    """The middle value (the mean of the two middle ones for an even count), to 0.1."""
    return round(statistics.median(values), 1) if values else None


def p90(values: Sequence[float]) -> float | None:
    """Nearest rank: the smallest value at least 90 % of the values do not exceed."""
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[max(math.ceil(0.9 * len(ordered)) - 1, 0)], 1)


def change(now: float | None, before: float | None) -> float | None:
    """Now minus before, when both are known."""
    if now is None or before is None:
        return None
    return round(now - before, 1)
