"""Authentication-Results (RFC 8601): what the receiving MTA found out about a mail.

Only a header written by our own MTA means anything: anyone can add one to a
mail they send. So a header counts only when its authserv-id is one the admin
configured (``trust.authserv_id``). Microsoft 365 writes its header without an
authserv-id; the pseudo-id ``microsoft365`` trusts the topmost such header,
which is the one Exchange Online added on arrival (headers are prepended).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

MICROSOFT365 = "microsoft365"
MAX_LENGTH = 16384
_SPACES_AROUND_EQUALS = re.compile(r"\s*=\s*")
_SPACES_AROUND_DOT = re.compile(r"(?<=[A-Za-z])\s*\.\s*(?=[A-Za-z])")


@dataclass(frozen=True)
class Result:
    """One method's verdict, e.g. ``dkim=pass header.d=example.com``."""

    method: str  # lower-case, without a version ("dkim", "spf", "dmarc", "compauth", "auth")
    result: str  # lower-case ("pass", "fail", "softfail", "none", ...)
    properties: Mapping[str, str] = field(default_factory=dict)  # "header.d" -> "example.com"
    reason: str = ""

    def property(self, name: str) -> str:
        return self.properties.get(name, "")

    def __str__(self) -> str:
        props = " ".join(f"{k}={v}" for k, v in self.properties.items())
        return f"{self.method}={self.result}" + (f" {props}" if props else "")


@dataclass(frozen=True)
class AuthenticationResults:
    authserv_id: str | None  # None: the header named no authserv-id (Microsoft 365)
    results: tuple[Result, ...]


def parse(value: str) -> AuthenticationResults | None:
    """One header's value; None for a value that is not Authentication-Results at all."""
    text = _without_comments(value)
    segments = _split(text, ";")
    if not segments:
        return None
    first = segments[0].strip()
    authserv: str | None
    if "=" in first:
        authserv, rest = None, segments  # Microsoft: "spf=pass ...; dkim=..."
    else:
        words = first.split()
        if not words:
            return None
        authserv, rest = words[0].lower(), segments[1:]
    results = tuple(r for segment in rest if (r := _result(segment)) is not None)
    return AuthenticationResults(authserv, results)


def trusted_results(
    headers: Sequence[tuple[str, str]], authserv_ids: Iterable[str]
) -> tuple[tuple[Result, ...], tuple[str, ...]]:
    """The results of the headers our MTA wrote, and the ids of the others (ignored).

    ``headers`` are (lower-case name, value) in message order, topmost first.
    """
    ids = {i.lower() for i in authserv_ids}
    if not ids:
        return (), ()  # nobody's word counts: not worth reading
    found: list[Result] = []
    ignored: list[str] = []
    topmost = True
    for name, value in headers:
        if name != "authentication-results":
            continue
        # Real headers are a few hundred bytes; a huge one is noise (and slow to read).
        parsed = parse(value) if len(value) <= MAX_LENGTH else None
        if parsed is None:
            topmost = False
            continue
        if (parsed.authserv_id is not None and parsed.authserv_id in ids) or (
            parsed.authserv_id is None and topmost and MICROSOFT365 in ids
        ):
            found.extend(parsed.results)
        else:
            ignored.append(parsed.authserv_id or "(no authserv-id)")
        topmost = False
    return tuple(found), tuple(ignored)


def _result(segment: str) -> Result | None:
    text = _SPACES_AROUND_EQUALS.sub("=", segment.strip())
    text = _SPACES_AROUND_DOT.sub(".", text)
    tokens = _split(text, None)
    if not tokens or "=" not in tokens[0]:
        return None  # e.g. Microsoft's bare "receivingdomain.com" between results
    method, _, result = tokens[0].partition("=")
    method = method.split("/", 1)[0].strip().lower()
    if not method or not result:
        return None
    properties: dict[str, str] = {}
    reason = ""
    for token in tokens[1:]:
        key, equals, raw = token.partition("=")
        if not equals:
            continue
        value = _unquote(raw)
        if key.lower() == "reason":
            reason = value
        else:
            properties.setdefault(key.lower(), value)
    return Result(method, _unquote(result).lower(), properties, reason)


def _without_comments(value: str) -> str:
    """Drop (comments), nested ones included, but not parentheses inside "quotes"."""
    out: list[str] = []
    depth = 0
    quoted = escaped = False
    for ch in value:
        if escaped:
            escaped = False
            if depth == 0:
                out.append(ch)
            continue
        if ch == "\\":
            escaped = True
            if depth == 0:
                out.append(ch)
            continue
        if quoted:
            if ch == '"':
                quoted = False
            out.append(ch)
            continue
        if ch == "(":
            depth += 1
            out.append(" ")
        elif ch == ")" and depth:
            depth -= 1
        elif depth == 0:
            if ch == '"':
                quoted = True
            out.append(ch)
    return "".join(out)


def _split(text: str, separator: str | None) -> list[str]:
    """Split on ``separator`` (None: on white space) outside "quoted strings"."""
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for ch in text:
        if ch == '"':
            quoted = not quoted
            current.append(ch)
            continue
        splits = ch.isspace() if separator is None else ch == separator
        if splits and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [p for p in parts if p.strip()] if separator is None else parts


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1].replace('\\"', '"')
    return value
