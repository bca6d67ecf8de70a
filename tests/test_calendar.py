"""Business-time arithmetic: weekends, holidays, lunch breaks, and the DST days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from maildesk.config import settings_from_mapping
from maildesk.sla.calendar import AlwaysOpen, BusinessCalendar


def calendar(
    zone: str,
    hours: list[str] | None = None,
    holidays: list[str] | None = None,
    days: list[str] | None = None,
) -> BusinessCalendar:
    cal: dict[str, object] = {
        "timezone": zone,
        "hours": hours or ["09:00-18:00"],
        "holidays": holidays or [],
    }
    if days is not None:
        cal["days"] = days
    settings = settings_from_mapping(
        {"helpdesk": {"address": "s@example.com"}, "smtp": {"spool_dir": "o"}, "calendar": cal},
        name="t",
        base=Path("/tmp"),
    )
    return BusinessCalendar.from_settings(settings)


def at(zone: str, *args: int) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(zone))  # type: ignore[misc]


BERLIN, NEW_YORK, MOSCOW = "Europe/Berlin", "America/New_York", "Europe/Moscow"


def test_friday_evening_waits_for_monday() -> None:
    cal = calendar(BERLIN)
    friday_evening = at(BERLIN, 2026, 11, 20, 19, 30)
    assert cal.add(friday_evening, timedelta(hours=2)) == at(BERLIN, 2026, 11, 23, 11, 0)
    assert cal.add(at(BERLIN, 2026, 11, 20, 17, 0), timedelta(hours=2)) == at(
        BERLIN, 2026, 11, 23, 10, 0
    )
    assert cal.between(friday_evening, at(BERLIN, 2026, 11, 23, 11, 0)) == timedelta(hours=2)


def test_holiday_is_skipped() -> None:
    cal = calendar(BERLIN, holidays=["2026-12-24", "2026-12-25"])
    assert cal.add(at(BERLIN, 2026, 12, 23, 17, 0), timedelta(hours=4)) == at(
        BERLIN, 2026, 12, 28, 12, 0
    )


def test_several_ranges_a_day() -> None:
    cal = calendar(BERLIN, hours=["09:00-13:00", "14:00-18:00"])
    assert cal.add(at(BERLIN, 2026, 11, 23, 12, 0), timedelta(hours=2)) == at(
        BERLIN, 2026, 11, 23, 15, 0
    )
    assert cal.between(
        at(BERLIN, 2026, 11, 23, 8, 0), at(BERLIN, 2026, 11, 23, 20, 0)
    ) == timedelta(hours=8)
    assert cal.add(at(BERLIN, 2026, 11, 23, 13, 30), timedelta(0)) == at(
        BERLIN, 2026, 11, 23, 14, 0
    )  # in the lunch break: the clock starts after it


@pytest.mark.parametrize(
    ("zone", "day", "hours"),
    [
        (BERLIN, (2026, 3, 29), 23),  # spring forward: a 23-hour Sunday
        (BERLIN, (2026, 10, 25), 25),  # fall back: 25 hours
        (NEW_YORK, (2026, 3, 8), 23),
        (NEW_YORK, (2026, 11, 1), 25),
        (MOSCOW, (2026, 3, 29), 24),  # Moscow has no DST
        (MOSCOW, (2026, 10, 25), 24),
    ],
)
def test_dst_days_have_their_real_length(zone: str, day: tuple[int, int, int], hours: int) -> None:
    cal = calendar(
        zone, hours=["00:00-24:00"], days=["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    )
    start = at(zone, *day, 0, 0)
    end = datetime.combine(start.date() + timedelta(days=1), start.timetz())
    assert cal.between(start, end) == timedelta(hours=hours)


@pytest.mark.parametrize(
    ("zone", "day"),
    [
        (BERLIN, (2026, 3, 30)),
        (NEW_YORK, (2026, 3, 9)),
        (BERLIN, (2026, 10, 26)),
        (NEW_YORK, (2026, 11, 2)),
    ],
)
def test_working_hours_stay_at_nine_local_across_dst(zone: str, day: tuple[int, int, int]) -> None:
    cal = calendar(zone)
    friday_before = at(zone, *day, 9, 0) - timedelta(days=3)
    deadline = cal.add(friday_before + timedelta(hours=8, minutes=30), timedelta(hours=1))
    assert deadline.astimezone(ZoneInfo(zone)).replace(tzinfo=None) == datetime(*day, 9, 30)


def test_moscow_office_hours() -> None:
    cal = calendar(MOSCOW)
    start = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)  # 08:00 in Moscow (UTC+3)
    assert cal.add(start, timedelta(hours=2)).astimezone(ZoneInfo(MOSCOW)).hour == 11


def test_always_open() -> None:
    start = at(BERLIN, 2026, 3, 28, 23, 0)
    assert AlwaysOpen().add(start, timedelta(minutes=15)) == start + timedelta(minutes=15)
    assert AlwaysOpen().between(start, start - timedelta(hours=1)) == timedelta(0)


ICS = """BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//Example//Holidays//EN\r
BEGIN:VEVENT\r
UID:1@example.com\r
SUMMARY:Christmas\r
DTSTART;VALUE=DATE:20261224\r
DTEND;VALUE=DATE:20261227\r
RRULE:FREQ=YEARLY\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:2@example.com\r
SUMMARY:Company day, a long\r
 folded line\r
DTSTART:20261130T080000Z\r
END:VEVENT\r
END:VCALENDAR\r
"""


def test_holidays_from_an_ics_file(tmp_path: Path) -> None:
    from datetime import date

    (tmp_path / "holidays.ics").write_text(ICS)
    settings = settings_from_mapping(
        {
            "helpdesk": {"address": "s@example.com"},
            "smtp": {"spool_dir": "o"},
            "calendar": {"holidays": ["2026-12-31"], "holidays_file": "holidays.ics"},
        },
        name="t",
        base=tmp_path,
    )
    cal = BusinessCalendar.from_settings(settings)
    for day in ("2026-11-30", "2026-12-24", "2026-12-25", "2026-12-26", "2027-12-24", "2026-12-31"):
        assert date.fromisoformat(day) in cal.holidays, day
    assert date(2026, 12, 27) not in cal.holidays  # DTEND is exclusive
    # Wednesday 23 December 17:00 + 2 h: Thursday to Sunday off, Monday 28th 10:00.
    start = datetime(2026, 12, 23, 17, tzinfo=UTC)
    assert cal.add(start, timedelta(hours=2)) == datetime(2026, 12, 28, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("hello", "t.ics: not an iCalendar file (no BEGIN:VCALENDAR)"),
        (
            "BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:2026-12-24\nEND:VEVENT\nEND:VCALENDAR\n",
            "t.ics:3: expected a date like 20261225, got '2026-12-24'",
        ),
        (
            "BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:20261224\nRRULE:FREQ=WEEKLY\nEND:VEVENT\n",
            "t.ics:4: only RRULE:FREQ=YEARLY (with COUNT or UNTIL) is supported",
        ),
        (
            "BEGIN:VCALENDAR\nBEGIN:VEVENT\nSUMMARY:x\nEND:VEVENT\n",
            "t.ics:2: event without DTSTART",
        ),
    ],
)
def test_bad_ics_names_the_line(text: str, problem: str) -> None:
    from maildesk.sla.ics import IcsError, parse_holidays

    with pytest.raises(IcsError) as caught:
        parse_holidays(text, "t.ics")
    assert str(caught.value) == problem


def test_yearly_repeats_with_count_and_leap_day() -> None:
    from datetime import date

    from maildesk.sla.ics import parse_holidays

    days = parse_holidays(
        "BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART;VALUE=DATE:20280229\n"
        "RRULE:FREQ=YEARLY;COUNT=2\nEND:VEVENT\nEND:VCALENDAR\n"
    )
    assert days == {date(2028, 2, 29), date(2032, 2, 29)}
