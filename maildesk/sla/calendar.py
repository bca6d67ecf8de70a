"""Business time: working days, several hour ranges a day, holidays, in one time zone."""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, time

from maildesk.config.model import Settings
from maildesk.config.semantics import parse_hours

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class BusinessCalendar:
    zone: zoneinfo.ZoneInfo
    days: frozenset[int]  # 0 = Monday
    hours: tuple[tuple[time, time], ...]
    holidays: frozenset[date]

    @classmethod
    def from_settings(cls, settings: Settings) -> BusinessCalendar:
        cal = settings.calendar
        ranges = tuple(r for r in (parse_hours(h) for h in cal.hours) if r is not None)
        return cls(
            zone=zoneinfo.ZoneInfo(cal.timezone or settings.helpdesk.timezone),
            days=frozenset(WEEKDAYS.index(d) for d in cal.days),
            hours=tuple(sorted(ranges)),
            holidays=frozenset(date.fromisoformat(d) for d in cal.holidays),
        )

    def is_open(self, moment: datetime) -> bool:
        """Is this moment inside business hours?"""
        local = moment.astimezone(self.zone)
        if local.weekday() not in self.days or local.date() in self.holidays:
            return False
        now = local.time().replace(tzinfo=None)
        return any(start <= now < end for start, end in self.hours)
