"""Days off from an iCalendar file, the format public-holiday calendars are published in.

Only what holiday calendars use: all-day VEVENTs (DTSTART;VALUE=DATE, an
optional exclusive DTEND) and yearly repeats (RRULE:FREQ=YEARLY with COUNT or
UNTIL). A timed event marks its whole start day. Anything else in an event
is refused with its line, rather than guessed.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

LAST_YEAR = 2100  # open-ended yearly repeats stop here
MAX_SPAN = 366  # days one event may cover


class IcsError(Exception):
    """FILE:LINE: what is wrong."""


def read_holidays(path: Path) -> frozenset[date]:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise IcsError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise IcsError(f"{path}: not UTF-8") from None
    return parse_holidays(text, str(path))


def parse_holidays(text: str, name: str = "calendar.ics") -> frozenset[date]:
    days: set[date] = set()
    lines = _unfold(text)
    if not any(value.upper() == "BEGIN:VCALENDAR" for _, value in lines):
        raise IcsError(f"{name}: not an iCalendar file (no BEGIN:VCALENDAR)")
    event: dict[str, tuple[int, str]] | None = None
    begun = 0
    for number, line in lines:
        key, _, value = line.partition(":")
        prop = key.split(";", 1)[0].upper()
        if line.upper() == "BEGIN:VEVENT":
            event, begun = {}, number
        elif line.upper() == "END:VEVENT" and event is not None:
            days |= _event_days(event, name, begun)
            event = None
        elif event is not None and prop in ("DTSTART", "DTEND", "RRULE"):
            event[prop] = (number, value.strip())
    return frozenset(days)


def _unfold(text: str) -> list[tuple[int, str]]:
    """Continuation lines (starting with a space or tab) joined to the line before."""
    lines: list[tuple[int, str]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if raw[:1] in (" ", "\t") and lines:
            first, previous = lines[-1]
            lines[-1] = (first, previous + raw[1:])
        elif raw.strip():
            lines.append((number, raw.rstrip()))
    return lines


def _date(value: str, name: str, line: int) -> date:
    match = re.fullmatch(r"(\d{4})(\d{2})(\d{2})(T\d{6}Z?)?", value)
    if not match:
        raise IcsError(f"{name}:{line}: expected a date like 20261225, got {value!r}")
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError as exc:
        raise IcsError(f"{name}:{line}: {value!r}: {exc}") from None


def _event_days(event: dict[str, tuple[int, str]], name: str, begun: int) -> set[date]:
    if "DTSTART" not in event:
        raise IcsError(f"{name}:{begun}: event without DTSTART")
    line, value = event["DTSTART"]
    start = _date(value, name, line)
    span = 1
    if "DTEND" in event:
        end_line, end_value = event["DTEND"]
        span = max((_date(end_value, name, end_line) - start).days, 1)
        if span > MAX_SPAN:
            raise IcsError(f"{name}:{end_line}: event longer than a year")
    starts = [start]
    if "RRULE" in event:
        starts = _yearly(start, *event["RRULE"], name)
    return {s + timedelta(days=i) for s in starts for i in range(span)}


def _yearly(start: date, line: int, rule: str, name: str) -> list[date]:
    parts = dict(p.split("=", 1) for p in rule.upper().split(";") if "=" in p)
    if parts.get("FREQ") != "YEARLY" or set(parts) - {"FREQ", "COUNT", "UNTIL", "INTERVAL"}:
        raise IcsError(f"{name}:{line}: only RRULE:FREQ=YEARLY (with COUNT or UNTIL) is supported")
    try:
        interval = int(parts.get("INTERVAL", "1"))
        count = int(parts["COUNT"]) if "COUNT" in parts else None
    except ValueError:
        raise IcsError(f"{name}:{line}: COUNT and INTERVAL must be numbers") from None
    until = _date(parts["UNTIL"], name, line) if "UNTIL" in parts else date(LAST_YEAR, 12, 31)
    found: list[date] = []
    year = start.year
    while year <= min(until.year, LAST_YEAR) and (count is None or len(found) < count):
        try:
            day = start.replace(year=year)
        except ValueError:  # 29 February in a common year: no holiday that year
            day = None
        if day is not None and day <= until:
            found.append(day)
        year += max(interval, 1)
    return found
