"""Durations and moments written for people, in their language."""

from __future__ import annotations

from datetime import timedelta

_UNITS = {
    "en": (("day", "days"), ("hour", "hours"), ("minute", "minutes")),
    "ru": (("день", "дня", "дней"), ("час", "часа", "часов"), ("минута", "минуты", "минут")),
}


# Russian after "в течение" (within): the genitive, singular after 1, 21, 31...
# (в течение 1 часа, 21 часа) and plural after every other number (2 часов, 5 часов).
_GENITIVE = {
    "ru": (("дня", "дней", "дней"), ("часа", "часов", "часов"), ("минуты", "минут", "минут")),
}
_WITHIN = {"en": "within {}", "ru": "в течение {}"}


def humanize(duration: timedelta, language: str) -> str:
    """2h -> "2 hours" / "2 часа": a duration on its own (nominative)."""
    return _spell(duration, language, _UNITS.get(language, _UNITS["en"]))


def within(duration: timedelta, language: str) -> str:
    """2h -> "within 2 hours" / "в течение 2 часов": the promise in the
    acknowledgement, with the case the phrase needs."""
    units = _GENITIVE.get(language) or _UNITS.get(language, _UNITS["en"])
    phrase = _WITHIN.get(language, _WITHIN["en"])
    return phrase.format(_spell(duration, language, units))


def _spell(duration: timedelta, language: str, units: tuple[tuple[str, ...], ...]) -> str:
    total = int(duration.total_seconds() // 60)
    parts = []
    for amount, names in zip((total // 1440, total % 1440 // 60, total % 60), units, strict=True):
        if amount:
            parts.append(f"{amount} {_plural(amount, names, language)}")
    return " ".join(parts) or f"1 {units[2][0]}"


_STATUSES = {
    "ru": {
        "new": "новый",
        "open": "в работе",
        "pending": "ждёт вашего ответа",
        "resolved": "решён",
        "closed": "закрыт",
    },
}


def status_name(status: str, language: str) -> str:
    """A ticket status as the customer reads it: "pending" is "ждёт вашего ответа"."""
    return _STATUSES.get(language, {}).get(status, status)


def _plural(n: int, names: tuple[str, ...], language: str) -> str:
    if language == "ru":
        if n % 10 == 1 and n % 100 != 11:
            return names[0]
        if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
            return names[1]
        return names[2]
    return names[0] if n == 1 else names[1]


def size_text(size: int) -> str:
    """A file's size as people read it: 812 B, 24 KB, 3.1 MB (SI units, as mail
    clients show them)."""
    if size < 1000:
        return f"{size} B"
    for unit, scale in (("KB", 1e3), ("MB", 1e6), ("GB", 1e9)):
        if size < scale * 1000 or unit == "GB":
            value = size / scale
            return f"{value:.1f} {unit}" if value < 10 else f"{value:.0f} {unit}"
    raise AssertionError("unreachable")
