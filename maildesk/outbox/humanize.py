"""Durations and moments written for people, in their language."""

from __future__ import annotations

from datetime import timedelta

_UNITS = {
    "en": (("day", "days"), ("hour", "hours"), ("minute", "minutes")),
    "ru": (("день", "дня", "дней"), ("час", "часа", "часов"), ("минута", "минуты", "минут")),
}


def humanize(duration: timedelta, language: str) -> str:
    """2h -> "2 hours" / "2 часа"; the promise a customer reads in the acknowledgement."""
    total = int(duration.total_seconds() // 60)
    parts = []
    units = _UNITS.get(language, _UNITS["en"])
    for amount, names in zip((total // 1440, total % 1440 // 60, total % 60), units, strict=True):
        if amount:
            parts.append(f"{amount} {_plural(amount, names, language)}")
    return " ".join(parts) or f"1 {units[2][0]}"


def _plural(n: int, names: tuple[str, ...], language: str) -> str:
    if language == "ru":
        if n % 10 == 1 and n % 100 != 11:
            return names[0]
        if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
            return names[1]
        return names[2]
    return names[0] if n == 1 else names[1]
