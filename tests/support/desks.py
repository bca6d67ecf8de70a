"""Paths and types the test desks share: the repository, a desk with no rules, the CLI runner."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

Run = Callable[..., tuple[int, str, str]]


REPO = Path(__file__).resolve().parents[2]


# For tests that are not about routing: no rules, the shipped templates.
NO_RULES = {
    "rules": str(REPO / "tests" / "data" / "no-rules"),
    "templates": str(REPO / "templates"),
}
