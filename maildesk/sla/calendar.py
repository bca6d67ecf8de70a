"""Business time: working days, several hour ranges a day, holidays, in one time zone."""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from maildesk.config.model import Settings
from maildesk.config.semantics import parse_hours
from maildesk.sla.ics import read_holidays

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
        holidays = frozenset(date.fromisoformat(d) for d in cal.holidays)
        if cal.holidays_file is not None:
            holidays |= read_holidays(cal.holidays_file)
        return cls(
            zone=zoneinfo.ZoneInfo(cal.timezone or settings.helpdesk.timezone),
            days=frozenset(WEEKDAYS.index(d) for d in cal.days),
            hours=tuple(sorted(ranges)),
            holidays=holidays,
        )

    def is_open(self, moment: datetime) -> bool:
        """Is this moment inside business hours?"""
        local = moment.astimezone(self.zone)
        if local.weekday() not in self.days or local.date() in self.holidays:
            return False
        now = local.time().replace(tzinfo=None)
        return any(start <= now < end for start, end in self.hours)

    def open_intervals(self, day: date) -> list[tuple[datetime, datetime]]:
        """The day's working ranges as UTC intervals; DST days come out longer or shorter."""
        if day.weekday() not in self.days or day in self.holidays:
            return []
        intervals = []
        for start, end in self.hours:
            begin = datetime.combine(day, start, tzinfo=self.zone).astimezone(UTC)
            if end == time.max:  # "24:00": until the next midnight
                finish = datetime.combine(day + timedelta(days=1), time(0), tzinfo=self.zone)
            else:
                finish = datetime.combine(day, end, tzinfo=self.zone)
            finish = finish.astimezone(UTC)
            if finish > begin:
                intervals.append((begin, finish))
        return intervals

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The moment ``duration`` of business time after ``start`` (a deadline)."""
        remaining = duration
        day = start.astimezone(self.zone).date() - timedelta(days=1)
        for _ in range(MAX_DAYS):
            for begin, finish in self.open_intervals(day):
                if finish <= start:
                    continue
                begin = max(begin, start)
                if finish - begin >= remaining:
                    return begin + remaining
                remaining -= finish - begin
            day += timedelta(days=1)
        raise ValueError("the calendar has no working time in the next ten years")

    def add_days(self, start: datetime, days: int) -> datetime:
        """The same local time ``days`` working days after ``start`` (weekends and
        holidays skipped): "pending for 3 business days"."""
        local = start.astimezone(self.zone)
        day = local.date()
        counted = 0
        for _ in range(MAX_DAYS):
            if counted == days:
                break
            day += timedelta(days=1)
            if day.weekday() in self.days and day not in self.holidays:
                counted += 1
        moment = datetime.combine(day, local.timetz().replace(tzinfo=None), self.zone)
        return moment.astimezone(start.tzinfo)

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Business time from ``start`` to ``end`` (zero if end is earlier)."""
        total = timedelta(0)
        if end <= start:
            return total
        day = start.astimezone(self.zone).date() - timedelta(days=1)
        last = end.astimezone(self.zone).date() + timedelta(days=1)
        while day <= last:
            for begin, finish in self.open_intervals(day):
                overlap = min(finish, end) - max(begin, start)
                if overlap > timedelta(0):
                    total += overlap
            day += timedelta(days=1)
        return total


MAX_DAYS = 3660


class AlwaysOpen:
    """24/7 policies: every hour counts."""

    def add(self, start: datetime, duration: timedelta) -> datetime:
        return start + duration

    def between(self, start: datetime, end: datetime) -> timedelta:
        return max(end - start, timedelta(0))

    def add_days(self, start: datetime, days: int) -> datetime:
        return start + timedelta(days=days)
