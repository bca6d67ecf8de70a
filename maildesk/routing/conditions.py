"""Conditions: compiled once from YAML into predicates over Facts.

A leaf is ``FIELD: {OPERATOR: VALUE}`` (or ``FIELD: VALUE`` for equals);
``all``, ``any`` and ``not`` combine them. Every comparison ignores case
unless ``ignore_case: false``. Each condition writes itself out as Python for
the generated routing function (``expression``, see fastpath.py), or answers
with the reason that decided it (``explain``), for `maildesk rules test`.
"""

from __future__ import annotations

import contextlib
import contextvars
import fnmatch
import logging
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import regex

from maildesk.routing.facts import Facts

# field -> (kind, getter of the original value, key of the lower-cased value)
# kind: text (one string), list (any of several strings), bool, number (or None: unknown)
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
    "spam": ("bool", lambda f: f.spam),
    "spam_score": ("number", lambda f: f.spam_score),
    "authentication": ("text", lambda f: f.authentication),
    "dmarc": ("text", lambda f: f.dmarc),
    "spf": ("text", lambda f: f.spf),
    "dkim": ("text", lambda f: f.dkim),
}
TEXT_OPERATORS = ("equals", "contains", "matches", "in", "glob", "exists")
NUMBER_OPERATORS = ("at_least", "below", "exists")
OPERATORS = (*TEXT_OPERATORS, "at_least", "below")
COMBINATORS = ("all", "any", "not")


Predicate = Callable[[Facts], bool]

log = logging.getLogger("maildesk.rules")
REGEX_SECONDS = 0.1  # one admin's pattern on one value
RULES_SECONDS = 0.5  # every pattern of every rule on one message, together
_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "rules_deadline", default=None
)


class BoundedPattern:
    """An admin's regular expression that cannot hang the desk.

    A pattern like ``(x+x+)+y`` takes exponential time on the wrong text. The
    ``regex`` module gives each search a timeout and lets other threads run
    meanwhile (the SMTP listener, /healthz); a search that runs out of time
    counts as no match, with one log line per pattern.
    """

    def __init__(self, pattern: str, ignore_case: bool) -> None:
        flags = regex.MULTILINE | (regex.IGNORECASE if ignore_case else 0)
        self.pattern = pattern
        self.compiled = regex.compile(pattern, flags)
        self.timeouts = 0

    def search(self, text: str) -> regex.Match[str] | None:
        limit = REGEX_SECONDS
        deadline = _deadline.get()
        if deadline is not None:
            limit = min(limit, deadline - time.monotonic())
        try:
            if limit <= 0:
                raise TimeoutError("no time left for this message's rules")
            return self.compiled.search(text, timeout=limit, concurrent=True)
        except TimeoutError:
            self.timeouts += 1
            if self.timeouts == 1:
                log.warning("pattern %r ran out of time; it counts as no match", self.pattern)
            return None


@contextlib.contextmanager
def time_box(seconds: float = RULES_SECONDS) -> Iterator[None]:
    """Bound the regular expressions of one message's routing to ``seconds`` together."""
    token = _deadline.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


class Names:
    """Constants the generated routing function refers to: N0, N1, …"""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def add(self, value: Any) -> str:
        name = f"N{len(self.values)}"
        self.values[name] = value
        return name


class Condition:
    def expression(self, names: Names) -> str:
        """Python source for this condition over ``f`` (Facts) and ``L`` (its lower-cased
        values), for the generated routing function (fastpath.py); constants go to names."""
        raise NotImplementedError

    def explain(self, facts: Facts) -> tuple[bool, str]:
        """(result, the part that decided it, in words)."""
        raise NotImplementedError


@dataclass
class Always(Condition):
    def expression(self, names: Names) -> str:
        return "True"

    def explain(self, facts: Facts) -> tuple[bool, str]:
        return True, "no conditions (matches every message)"


@dataclass
class All(Condition):
    parts: Sequence[Condition]

    def expression(self, names: Names) -> str:
        return "(" + " and ".join(p.expression(names) for p in self.parts) + ")"

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

    def expression(self, names: Names) -> str:
        return "(" + " or ".join(p.expression(names) for p in self.parts) + ")"

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

    def expression(self, names: Names) -> str:
        return f"(not {self.part.expression(names)})"

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
        get, test = self.get, self.test
        # What the generated routing function calls for the comparisons it does not inline.
        self.matches: Predicate = lambda f: test(get(f))

    def expression(self, names: Names) -> str:
        """Inline the common comparisons on lower-cased text; call the closure otherwise."""
        if self.field == "header" or not self.ignore_case or self.kind != "text":
            return f"{names.add(self.matches)}(f)"
        value = f"L[{self.field!r}]"
        op = self.operator
        if op == "contains":
            return f"({names.add(str(self.value).lower())} in {value})"
        if op == "equals":
            return f"({value} == {names.add(str(self.value).lower())})"
        if op == "in":
            return f"({value} in {names.add(frozenset(str(v).lower() for v in self.value))})"
        if op == "matches":
            return f"({names.add(self.regex.search)}({value}) is not None)"
        if op == "glob":
            return f"({names.add(self.glob.match)}({value}) is not None)"
        return f"{names.add(self.matches)}(f)"

    def _getter(self) -> Getter:
        if self.kind == "number":
            return FIELDS[self.field][1]
        if self.field == "header":
            name = (self.header or "").lower()
            if self.ignore_case:
                return lambda f: f.lower["headers"].get(name, ())
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
        if self.kind == "number":
            if op == "exists":
                return lambda v: (v is not None) == bool(value)
            limit = float(value)
            if op == "at_least":
                return lambda v: v is not None and v >= limit
            return lambda v: v is not None and v < limit
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
            self.glob = pattern
            one = lambda v: pattern.match(v) is not None  # noqa: E731
        else:  # matches
            bounded = BoundedPattern(str(value), self.ignore_case)
            one = lambda v: bounded.search(v) is not None  # noqa: E731
            self.regex = bounded
        if self.kind == "list":

            def any_value(values: Any) -> bool:
                for v in values:  # noqa: SIM110 (a loop is cheaper than any() here)
                    if one(v):
                        return True
                return False

            return any_value
        return one

    def _describe(self) -> str:
        name = f'header "{self.header}"' if self.field == "header" else self.field
        if self.kind == "bool":
            return f"{name} is {'true' if self.value else 'false'}"
        if self.operator == "exists":
            return f"{name} {'exists' if self.value else 'does not exist'}"
        if self.operator == "in":
            return f"{name} in [{', '.join(_quote(v) for v in self.value)}]"
        if self.kind == "number":
            return f"{name} {'at least' if self.operator == 'at_least' else 'below'} {self.value:g}"
        return f"{name} {self.operator} {_quote(self.value)}"

    def _original(self, facts: Facts) -> Any:
        if self.field == "header":
            return facts.headers.get((self.header or "").lower(), ())
        return FIELDS[self.field][1](facts)

    def explain(self, facts: Facts) -> tuple[bool, str]:
        value = self.get(facts)
        ok = self.test(value)
        # Show what the message really says, not the lower-cased copy compared.
        original = self._original(facts)
        if self.operator == "matches" and ok and self.kind != "bool":
            values = original if self.kind == "list" else (original,)
            hit = next((m for v in values if (m := self.regex.search(v))), None)
            if hit is not None:
                return True, f"{self.text} (found {_quote(hit.group(0))})"
        if self.kind == "number":
            return ok, f"{self.text} (it is {'unknown' if original is None else f'{original:g}'})"
        actual = original if self.kind != "list" else list(original)
        if isinstance(actual, str) and len(actual) > 60:
            actual = actual[:57] + "..."
        shown = (
            f"[{', '.join(_quote(v) for v in actual)}]"
            if isinstance(actual, list | tuple)
            else _quote(actual)
        )
        return ok, f"{self.text} (it is {shown})"


def _quote(value: Any) -> str:
    """A value as the admin wrote it in YAML: text in double quotes, no escaping."""
    return f'"{value}"' if isinstance(value, str) else str(value).lower()
