"""Checks that span several keys: each returns ``key: problem`` lines.

Types and unknown keys are pydantic's job (model.py); these are the mistakes
a well-typed file can still make: two mailboxes with one name, a tier that
escalates to a tier that does not exist, a relay with no password.
"""

from __future__ import annotations

import functools
import re
import string
import zoneinfo
from collections.abc import Iterator
from datetime import date, time, timedelta

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from maildesk.config.model import Credentials, Settings
from maildesk.sla.ics import IcsError, read_holidays

SUPPORTED_DATABASES = ("sqlite", "postgresql")


def semantic_problems(settings: Settings) -> list[str]:
    return [
        *_helpdesk(settings),
        *_trust(settings),
        *_database(settings),
        *_mailboxes(settings),
        *_smtp(settings),
        *_inbound(settings),
        *_tiers(settings),
        *_calendar(settings),
        *_sla_policies(settings),
        *_sla(settings),
        *_report(settings),
        *_outbox(settings),
    ]


def _helpdesk(settings: Settings) -> Iterator[str]:
    fmt = settings.helpdesk.token_format
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(fmt) if f is not None]
    except ValueError as exc:
        yield f"helpdesk.token_format: {exc}"
        return
    if fields != ["id"]:
        yield (
            'helpdesk.token_format: must contain "{id}" exactly once and no other {fields}, '
            f'got "{fmt}"'
        )
    elif fmt.strip() == "{id}":
        yield 'helpdesk.token_format: needs text around "{id}" (e.g. "[#{id}]") to be found'
    try:
        zoneinfo.ZoneInfo(settings.helpdesk.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        yield (
            f'helpdesk.timezone: unknown time zone "{settings.helpdesk.timezone}" '
            '(use an IANA name such as "Europe/Berlin")'
        )


_DOMAIN = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$")
_AUTHSERV = re.compile(r"^[^\s;()\"=]+$")


def _trust(settings: Settings) -> Iterator[str]:
    for index, value in enumerate(settings.trust.authserv_id):
        if not _AUTHSERV.match(value):
            yield (
                f"trust.authserv_id[{index}]: expected the host name your MTA writes first in "
                f'Authentication-Results (e.g. "mx.example.com"), got "{value}"'
            )
    for index, value in enumerate(settings.helpdesk.freemail_domains):
        if not _DOMAIN.match(value.lower()):
            yield f'helpdesk.freemail_domains[{index}]: expected a domain name, got "{value}"'
    if settings.helpdesk.trust_agents == "authenticated" and not settings.trust.authserv_id:
        yield (
            'helpdesk.trust_agents: "authenticated" needs trust.authserv_id, the id your '
            "receiving MTA writes in Authentication-Results (without it anyone can write one)"
        )


def trust_warnings(settings: Settings) -> list[str]:
    """Valid but risky trust settings, for `maildesk check` (never a reason to refuse)."""
    found: list[str] = []
    if not settings.trust.authserv_id:
        found.append(
            "trust.authserv_id: not set, so no Authentication-Results is believed: a forged "
            "From cannot be told from a real one, and agents are recognized by their From "
            "address alone"
        )
    elif settings.helpdesk.trust_agents == "sender":
        found.append(
            'helpdesk.trust_agents: "sender" believes any mail with an agent\'s From address, '
            "although your MTA's Authentication-Results could tell a forged one "
            '(leave it unset or say "authenticated")'
        )
    if settings.helpdesk.join == "anyone":
        found.append(
            'helpdesk.join: "anyone" lets whoever knows a ticket token or a Message-ID of a '
            "ticket join it and receive the agents' replies"
        )
    return found


def _database(settings: Settings) -> Iterator[str]:
    try:
        url = make_url(settings.database.url)
    except ArgumentError:
        yield (
            f'database.url: not a database URL: "{settings.database.url}" '
            '(e.g. "sqlite:///maildesk.db" or "postgresql+psycopg://user@host/db")'
        )
        return
    if url.get_backend_name() not in SUPPORTED_DATABASES:
        yield (
            f'database.url: unsupported database "{url.get_backend_name()}" '
            "(use sqlite or postgresql)"
        )


def _credentials(key: str, creds: Credentials, *, required: bool) -> Iterator[str]:
    sources = creds.password_sources()
    if len(sources) > 1:
        yield f"{key}: give only one of {', '.join(sources)}"
    if required and not sources:
        yield f"{key}: give one of password, password_env or password_file"
    if sources and creds.username is None:
        yield f"{key}.username: required key is missing (a password is given)"


def _mailboxes(settings: Settings) -> Iterator[str]:
    seen: dict[str, int] = {}
    for index, box in enumerate(settings.mailboxes):
        key = f"mailboxes[{index}]"
        if box.name in seen:
            yield f'{key}.name: "{box.name}" is already used by mailboxes[{seen[box.name]}]'
        seen.setdefault(box.name, index)
        if box.auth == "xoauth2":
            tokens = [
                k
                for k in ("oauth2_token_command", "oauth2_token_file")
                if getattr(box, k) is not None
            ]
            if len(tokens) != 1:
                yield (
                    f'{key}: auth = "xoauth2" needs exactly one of oauth2_token_command '
                    "or oauth2_token_file"
                )
            if box.password_sources():
                yield f'{key}: auth = "xoauth2" takes a token, not a password'
        else:
            yield from _credentials(key, box, required=True)
            for token_key in ("oauth2_token_command", "oauth2_token_file"):
                if getattr(box, token_key) is not None:
                    yield f'{key}.{token_key}: only used with auth = "xoauth2"'

        if box.processed_folder and box.processed_folder == box.folder:
            yield f'{key}.processed_folder: must differ from folder (or be "")'
        if box.quarantine_folder and box.quarantine_folder == box.folder:
            yield f"{key}.quarantine_folder: must differ from folder"


def _smtp(settings: Settings) -> Iterator[str]:
    smtp = settings.smtp
    if smtp.host is None and smtp.spool_dir is None:
        yield (
            "smtp: set host (a relay to send through) or spool_dir "
            "(a folder to write outgoing .eml files to)"
        )
    if smtp.host is not None and smtp.spool_dir is not None:
        yield "smtp: set either host or spool_dir, not both"
    yield from _credentials("smtp", smtp, required=False)


def _inbound(settings: Settings) -> Iterator[str]:
    for key, section, example in (
        ("inbound", settings.inbound, "127.0.0.1:8025"),
        ("http", settings.http, "127.0.0.1:9310"),
    ):
        if section is None:
            continue
        listen = section.listen
        host, colon, port = listen.rpartition(":")
        if not colon or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
            yield f'{key}.listen: expected "HOST:PORT" such as "{example}", got "{listen}"'


def _tiers(settings: Settings) -> Iterator[str]:
    names: dict[str, int] = {}
    for index, tier in enumerate(settings.tiers):
        if tier.name in names:
            yield f'tiers[{index}].name: "{tier.name}" is already used by tiers[{names[tier.name]}]'
        names.setdefault(tier.name, index)
    for index, tier in enumerate(settings.tiers):
        target = tier.escalates_to
        if target is not None and target not in names:
            known = ", ".join(names) or "none defined"
            yield f'tiers[{index}].escalates_to: unknown tier "{target}" (tiers: {known})'
    yield from _escalation_cycles(settings)
    everyone = settings.agent_addresses
    for index, tier in enumerate(settings.tiers):
        if tier.on_call is not None and tier.on_call not in everyone:
            yield (
                f"tiers[{index}].on_call: {tier.on_call} is no agent or lead of any tier "
                "(their answers would not be believed)"
            )
        if tier.assign != "manual" and not tier.agents:
            yield f'tiers[{index}].assign: "{tier.assign}" needs agents in the tier'
    for index, agent in enumerate(settings.agents):
        if agent.address not in everyone:
            yield f"agents[{index}].address: {agent.address} is no agent of any tier"
        for n, text in enumerate(agent.hours or ()):
            if parse_hours(text) is None:
                yield (
                    f'agents[{index}].hours[{n}]: expected "HH:MM-HH:MM" such as "09:00-13:00", '
                    f'got "{text}"'
                )


def _escalation_cycles(settings: Settings) -> Iterator[str]:
    """A ring of escalations would bounce a breached ticket around forever."""
    step = {t.name: t.escalates_to for t in settings.tiers}
    reported: set[str] = set()
    for index, tier in enumerate(settings.tiers):
        path = [tier.name]
        current = step.get(tier.name)
        while current is not None and current in step and current not in path:
            path.append(current)
            current = step[current]
        if current == tier.name and tier.name not in reported:
            reported.update(path)
            ring = " -> ".join([*path, tier.name])
            yield f"tiers[{index}].escalates_to: escalation goes in a circle ({ring})"


_DURATION = re.compile(r"^\s*(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m(?:in)?)?\s*$")


@functools.lru_cache(maxsize=256)  # the same few config values, asked per mail
def parse_duration(text: str) -> timedelta | None:
    """ "15m", "2h", "1d", "1h30m" -> timedelta; None if it is not one of those."""
    match = _DURATION.match(text.lower())
    if not match or not any(match.groups()):
        return None
    days, hours, minutes = (int(g) if g else 0 for g in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes)


def parse_hours(text: str) -> tuple[time, time] | None:
    """ "09:00-18:00" -> (09:00, 18:00); None if malformed or empty."""
    match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", text)
    if not match:
        return None
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2) or (h2, m2) <= (h1, m1):
        return None
    return time(h1, m1), (time(23, 59, 59, 999999) if h2 == 24 else time(h2, m2))


def _calendar(settings: Settings) -> Iterator[str]:
    cal = settings.calendar
    if cal.timezone is not None:
        try:
            zoneinfo.ZoneInfo(cal.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            yield f'calendar.timezone: unknown time zone "{cal.timezone}"'
    for index, hours in enumerate(cal.hours):
        if parse_hours(hours) is None:
            yield (
                f'calendar.hours[{index}]: expected "HH:MM-HH:MM" such as "09:00-18:00", '
                f'got "{hours}"'
            )
    for index, day in enumerate(cal.holidays):
        try:
            date.fromisoformat(day)
        except ValueError:
            yield f'calendar.holidays[{index}]: expected a date like "2026-12-25", got "{day}"'
    if cal.holidays_file is not None:
        try:
            read_holidays(cal.holidays_file)
        except IcsError as exc:
            yield f"calendar.holidays_file: {exc}"


def _sla_policies(settings: Settings) -> Iterator[str]:
    seen: dict[str, int] = {}
    for index, policy in enumerate(settings.sla_policies):
        if policy.name in seen:
            yield (
                f'sla_policies[{index}].name: "{policy.name}" is already used by '
                f"sla_policies[{seen[policy.name]}]"
            )
        seen.setdefault(policy.name, index)
        for key in ("first_response", "next_response", "resolution"):
            value = getattr(policy, key)
            if value is not None and parse_duration(value) is None:
                yield (
                    f'sla_policies[{index}].{key}: expected a duration like "15m", "2h" '
                    f'or "1d", got "{value}"'
                )


def _sla(settings: Settings) -> Iterator[str]:
    sla = settings.sla
    names = {p.name for p in settings.sla_policies}
    for priority, name in sla.by_priority.items():
        if name not in names:
            known = ", ".join(sorted(names)) or "none defined"
            yield f'sla.by_priority.{priority}: unknown SLA policy "{name}" (known: {known})'
    if sla.digest_at is not None and parse_clock_time(sla.digest_at) is None:
        yield f'sla.digest_at: expected a time like "08:30", got "{sla.digest_at}"'
    if parse_duration(settings.survey.delay) is None:
        yield (
            f'survey.delay: expected a duration like "0m", "1h" or "1d", '
            f'got "{settings.survey.delay}"'
        )
    if parse_duration(sla.at_risk_within) is None:
        yield (
            f'sla.at_risk_within: expected a duration like "4h" or "1d", got "{sla.at_risk_within}"'
        )
    if parse_duration(settings.problems.within) is None:
        yield (
            f'problems.within: expected a duration like "30m" or "1h", '
            f'got "{settings.problems.within}"'
        )


DAYS = {
    name: index
    for index, names in enumerate(
        (
            ("mon", "monday"),
            ("tue", "tuesday"),
            ("wed", "wednesday"),
            ("thu", "thursday"),
            ("fri", "friday"),
            ("sat", "saturday"),
            ("sun", "sunday"),
        )
    )
    for name in names
}


def parse_weekly(text: str) -> tuple[int, time] | None:
    """ "mon 08:00" -> (0, 08:00): a weekday (Monday is 0) and a time; None if malformed."""
    day, _, clock = text.strip().lower().partition(" ")
    at = parse_clock_time(clock)
    if day not in DAYS or at is None:
        return None
    return DAYS[day], at


def _report(settings: Settings) -> Iterator[str]:
    weekly = settings.report.weekly
    if weekly is not None and parse_weekly(weekly) is None:
        yield f'report.weekly: expected a weekday and a time like "mon 08:00", got "{weekly}"'
    if weekly is not None and not settings.report.to and not any(t.lead for t in settings.tiers):
        yield "report.weekly: nobody would get it: give a tier a lead, or set report.to"


def parse_clock_time(text: str) -> time | None:
    """ "08:30" -> 08:30; None if malformed."""
    match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*", text)
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        return None
    return time(int(match[1]), int(match[2]))


def _outbox(settings: Settings) -> Iterator[str]:
    for key in ("retry_first", "retry_max", "give_up_after"):
        value = getattr(settings.outbox, key)
        if parse_duration(value) is None:
            yield f'outbox.{key}: expected a duration like "1m", "1h" or "2d", got "{value}"'
