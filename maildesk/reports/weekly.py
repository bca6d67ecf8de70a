"""The weekly report by mail: last week's report page to the leads, once a week.

At ``report.weekly`` ("mon 08:00", the calendar's zone) the report of the
seven days before that day goes to every tier lead and ``report.to``, one
mail each. The page is the HTML part (charts as inline SVG: nothing is
loaded from anywhere) and an attachment, for mail clients that drop SVG
(Gmail, Outlook); the text part has the tiles, agents, backlog and rising
problems.

Once a week across daemons and crashes: the week's row (report_mailings)
and its mails are committed in one transaction, so a daemon killed while
writing them leaves neither and the next look writes both; a second daemon
finds the row, or loses the race on its unique key. A daemon down at the
hour sends the report when it looks next, the same week.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from maildesk.config.model import Settings
from maildesk.config.semantics import parse_weekly
from maildesk.mail import Fired, Letter
from maildesk.outbox.mails import Mailer
from maildesk.reports import tables
from maildesk.reports.data import ReportData, collect
from maildesk.reports.page import render
from maildesk.sla.calendar import BusinessCalendar
from maildesk.store.db import transaction
from maildesk.store.events import add_event
from maildesk.store.models import ReportMailing


@dataclass(frozen=True)
class Due:
    week: str  # the ISO week of the period's first day: the mailing's key
    first: date  # the period, in the calendar's zone: first and last day included
    last: date
    since: datetime
    until: datetime


@dataclass
class WeeklyReport:
    settings: Settings
    sessions: sessionmaker[Session]
    mailer: Mailer
    calendar: Callable[[], BusinessCalendar]  # the calendar in force now

    def due(self, now: datetime) -> Due | None:
        """The week whose report is due by now (the last scheduled moment passed)."""
        parsed = parse_weekly(self.settings.report.weekly or "")
        if parsed is None:
            return None
        weekday, at = parsed
        zone = self.calendar().zone
        local = now.astimezone(zone)
        day = local.date() - timedelta(days=(local.weekday() - weekday) % 7)
        if datetime.combine(day, at, tzinfo=zone) > local:
            day -= timedelta(days=7)
        first = day - timedelta(days=7)
        year, week, _ = first.isocalendar()
        return Due(
            week=f"{year}-W{week:02d}",
            first=first,
            last=day - timedelta(days=1),
            since=datetime.combine(first, datetime.min.time(), tzinfo=zone).astimezone(UTC),
            until=datetime.combine(day, datetime.min.time(), tzinfo=zone).astimezone(UTC),
        )

    def recipients(self) -> list[str]:
        leads = [t.lead for t in self.settings.tiers if t.lead]
        return list(dict.fromkeys(a.lower() for a in (*leads, *self.settings.report.to)))

    def send(self, now: datetime) -> list[Fired]:
        due = self.due(now)
        if due is None or self._sent(due.week):
            return []
        to = self.recipients()
        try:
            with transaction(self.sessions) as session:
                session.add(ReportMailing(week=due.week, sent_at=now, recipients=len(to)))
                session.flush()  # the week's key first: a second daemon stops here
                self._queue(session, due, to, now)
        except IntegrityError:  # another daemon sent this week's report just now
            return []
        return [Fired("weekly_report", due.week, "", None, tuple(to), f"{len(to)} mails")]

    def _sent(self, week: str) -> bool:
        with self.sessions() as session:
            found = session.scalar(select(ReportMailing.id).where(ReportMailing.week == week))
            return found is not None

    def _queue(self, session: Session, due: Due, to: list[str], now: datetime) -> None:
        calendar = self.calendar()
        data = collect(session, self.settings, calendar, due.since, due.until, now)
        title = f"{self.settings.helpdesk.name}: support report {due.week}"
        page = render(data, title, script=False)
        file = f"report-{due.week}.html"
        context = {
            "helpdesk": {"name": self.settings.helpdesk.name, "address": self.mailer.address},
            "report": summary(data, due, file),
        }
        wanted: tuple[str | None, ...] = (self.settings.helpdesk.default_language, "en")
        for address in to:
            letter = Letter(
                "weekly_report",
                "weekly_report",
                (address,),
                wanted,
                context,
                html=page,
                attachments=((file, "text/html", page.encode()),),
            )
            self.mailer.send(session, None, letter, now)
        detail = {"week": due.week, "to": to, "tickets": data.tickets}
        add_event(session, None, "maildesk", "weekly_report", detail, now)


def summary(data: ReportData, due: Due, file: str) -> dict[str, Any]:
    """What the text part says, already worded (templates only lay it out)."""
    return {
        "first_day": due.first.isoformat(),
        "last_day": due.last.isoformat(),
        "timezone": data.timezone,
        "tickets": data.tickets,
        "file": file,
        "tiles": [
            {
                "label": t["label"],
                "shown": tables.shown(t),
                "change_shown": tables.change_shown(t),
            }
            for t in data.tiles
        ],
        "agents": [
            {
                "agent": a["agent"],
                "first_responses": a["first_responses"],
                "first_response_median": tables.duration(a["first_response_median_minutes"]),
                "resolved": a["resolved"],
                "resolution_median": tables.duration(a["resolution_median_minutes"]),
                "sla_breaches": a["sla_breaches"],
            }
            for a in data.agents
        ],
        "backlog": [
            {
                "tier": b["tier"],
                "open": b["open"],
                "oldest_days": b["oldest"][0]["age_days"] if b["oldest"] else 0,
            }
            for b in data.backlog
        ],
        "rising": data.rising_problems,
    }
