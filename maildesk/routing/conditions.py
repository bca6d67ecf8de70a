"""Conditions: compiled once from YAML into predicates over Facts.

A leaf is ``FIELD: {OPERATOR: VALUE}`` (or ``FIELD: VALUE`` for equals);
``all``, ``any`` and ``not`` combine them. Every comparison ignores case
unless ``ignore_case: false``. Each condition answers fast (``matches``) or
with the reason that decided it (``explain``), for `maildesk rules test`.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from maildesk.routing.facts import Facts

# field -> (kind, getter of the original value, key of the lower-cased value)
# kind: text (one string), list (any of several strings), bool
Getter = Callable[[Facts], Any]
FIELDS: dict[str, tuple[str, Getter]] = {
    "sender": ("text", lambda f: f.sender),
    "sender_domain": ("text", lambda f: f.sender_domain),
    "sender_name": ("text", lambda f: f.sender_name),
    "recipient": ("list", lambda f: f.recipient),
    "subject": ("text", lambda f: f.subject),
    "body": ("text", lambda f: f.body),
    "header": ("list", lambda f: ()),  # needs name:, see _header_getter
    "has_attachments": ("bool", lambda f: f.has_attachments),
    "attachment_type": ("list", lambda f: f.attachment_type),
    "attachment_name": ("list", lambda f: f.attachment_name),
    "language": ("text", lambda f: f.language or ""),
    "customer_category": ("text", lambda f: f.customer.category or ""),
    "customer_organization": ("text", lambda f: f.customer.organization or ""),
    "customer_language": ("text", lambda f: f.customer.language or ""),
    "business_hours": ("bool", lambda f: f.business_hours),
}
OPERATORS = ("equals", "contains", "matches", "in", "glob", "exists")
COMBINATORS = ("all", "any", "not")


class Condition:
    def matches(self, facts: Facts) -> bool:
        raise NotImplementedError

    def explain(self, facts: Facts) -> tuple[bool, str]:
        """(result, the part that decided it, in words)."""
        raise NotImplementedError


@dataclass
class Always(Condition):
    def matches(self, facts: Facts) -> bool:
        return True

    def explain(self, facts: Facts) -> tuple[bool, str]:
        return True, "no conditions (matches every message)"


@dataclass
class All(Condition):
    parts: Sequence[Condition]

    def matches(self, facts: Facts) -> bool:
        return all(p.matches(facts) for p in self.parts)

    def explain(self, facts: Facts) -> tuple[bool, str]:
        reasons = []
        for part in self.parts:
            ok, why = part.explain(facts)
            if not ok:
                return False, why
            reasons.append(why)
        return True, " and ".join(reasons)


@dataclass
class Any_(Condition):
    parts: Sequence[Condition]

    def matches(self, facts: Facts) -> bool:
        return any(p.matches(facts) for p in self.parts)

    def explain(self, facts: Facts) -> tuple[bool, str]:
        misses = []
        for part in self.parts:
            ok, why = part.explain(facts)
            if ok:
                return True, why
            misses.append(why)
        return False, "none of: " + "; ".join(misses)


@dataclass
class Not(Condition):
    part: Condition

    def matches(self, facts: Facts) -> bool:
        return not self.part.matches(facts)

    def explain(self, facts: Facts) -> tuple[bool, str]:
        ok, why = self.part.explain(facts)
        return not ok, f"not ({why})"


class Leaf(Condition):
    """One field compared with one operator; the comparison is built once."""

    def __init__(
        self,
        field: str,
        operator: str,
        value: Any,
        *,
        ignore_case: bool = True,
        header: str | None = None,
    ) -> None:
        self.field, self.operator, self.value = field, operator, value
        self.ignore_case, self.header = ignore_case, header
        self.kind = FIELDS[field][0]
        self.get = self._getter()
        self.test = self._test()
        self.text = self._describe()

    def _getter(self) -> Getter:
        if self.field == "header":
            name = (self.header or "").lower()
            if self.ignore_case:
                return lambda f: f.lower["headers"].get(name, ())  # type: ignore[attr-defined]
            return lambda f: f.headers.get(name, ())
        if self.ignore_case and self.kind != "bool":
            key = self.field
            return lambda f: f.lower[key]
        return FIELDS[self.field][1]

    def _fold(self, value: str) -> str:
        return value.lower() if self.ignore_case else value

    def _test(self) -> Callable[[Any], bool]:
        op, value = self.operator, self.value
        if self.kind == "bool":
            return lambda v: bool(v) == bool(value)
        one: Callable[[str], bool]
        if op == "exists":
            return (lambda v: bool(v)) if value else (lambda v: not v)
        if op == "equals":
            target = self._fold(str(value))
            one = target.__eq__
        elif op == "contains":
            target = self._fold(str(value))
            one = lambda v: target in v  # noqa: E731
        elif op == "in":
            choices = frozenset(self._fold(str(v)) for v in value)
            one = choices.__contains__
        elif op == "glob":
            pattern = re.compile(fnmatch.translate(self._fold(str(value))), re.DOTALL)
            one = lambda v: pattern.match(v) is not None  # noqa: E731
        else:  # matches
            flags = re.IGNORECASE if self.ignore_case else 0
            regex = re.compile(str(value), flags | re.MULTILINE)
            one = lambda v: regex.search(v) is not None  # noqa: E731
            self.regex = regex
        if self.kind == "list":
            return lambda values: any(one(v) for v in values)
        return one

    def _describe(self) -> str:
        name = f'header "{self.header}"' if self.field == "header" else self.field
        if self.kind == "bool":
            return f"{name} is {'true' if self.value else 'false'}"
        if self.operator == "exists":
            return f"{name} {'exists' if self.value else 'does not exist'}"
        shown = list(self.value) if self.operator == "in" else self.value
        return f"{name} {self.operator} {shown!r}"

    def matches(self, facts: Facts) -> bool:
        return self.test(self.get(facts))

    def explain(self, facts: Facts) -> tuple[bool, str]:
        value = self.get(facts)
        ok = self.test(value)
        if self.operator == "matches" and ok and self.kind != "bool":
            values = value if self.kind == "list" else (value,)
            hit = next((m for v in values if (m := self.regex.search(v))), None)
            if hit is not None:
                return True, f"{self.text} (found {hit.group(0)!r})"
        actual = value if self.kind != "list" else list(value)
        if isinstance(actual, str) and len(actual) > 60:
            actual = actual[:57] + "..."
        return ok, f"{self.text} (it is {actual!r})"
