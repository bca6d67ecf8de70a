"""Templates: a sandboxed Jinja2 where an unknown variable is an error, not a blank.

The sandbox matters because template authors are admins, but the values
(subject, name, body) come from customers: they are data, never code.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import BaseLoader, Environment, StrictUndefined, TemplateNotFound, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment

from maildesk.errors import Problem, UserError

TEMPLATE_SUFFIXES = (".txt", ".html")


def template_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in TEMPLATE_SUFFIXES)


class _Snapshot(BaseLoader):
    """Templates from memory, named by their file (so errors say which file and line)."""

    def __init__(self, folder: Path, sources: Mapping[str, str]) -> None:
        self.folder = folder
        self.sources = sources

    def get_source(self, environment: Environment, template: str) -> tuple[str, str, Any]:
        if template not in self.sources:
            raise TemplateNotFound(template)
        return self.sources[template], str(self.folder / template), lambda: True


class TemplateSet:
    """A templates folder as read at one moment, kept in memory.

    The daemon renders from a set that passed ``problems()``; an edit on disk
    takes effect only when the daemon has read and checked the folder again,
    so a broken edit leaves the last good set in force (daemon.py).
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.sources: dict[str, str] = {}
        self.unreadable: dict[str, UnicodeDecodeError] = {}
        for path in template_files(folder) if folder.is_dir() else []:
            name = path.relative_to(folder).as_posix()
            data = path.read_bytes()
            try:
                self.sources[name] = data.decode("utf-8")
            except UnicodeDecodeError as exc:
                self.unreadable[name] = exc
        self.env = SandboxedEnvironment(
            loader=_Snapshot(folder, self.sources),
            undefined=StrictUndefined,
            autoescape=lambda name: bool(name and name.endswith(".html")),
            keep_trailing_newline=True,
        )

    def has(self, name: str) -> bool:
        return name in self.sources

    def problems(self) -> list[Problem]:
        """Every template that does not compile or render with sample data, as
        ``file:line: problem``."""
        if not self.folder.is_dir():
            return [Problem(str(self.folder), "templates folder not found")]
        problems = [
            Problem(str(self.folder / name), f"not UTF-8 (byte {exc.start})")
            for name, exc in self.unreadable.items()
        ]
        context = sample_context()
        for name in self.sources:
            path = self.folder / name
            try:
                self.env.get_template(name).render(**context)
            except TemplateSyntaxError as exc:
                problems.append(Problem(f"{path}:{exc.lineno}", exc.message or "syntax error"))
            except Exception as exc:  # undefined variables, sandbox refusals: the admin's to fix
                problems.append(
                    Problem(f"{path}:{_template_line(exc, name)}", f"with sample data: {exc}")
                )
        return sorted(problems, key=str)

    def check(self, default_language: str) -> list[Problem]:
        """What start-up, a reload and `maildesk check` refuse: templates that do not
        render, and required ones missing."""
        return self.problems() + missing_templates(self, default_language)


def template_problems(folder: Path) -> list[Problem]:
    """Every template of the folder that does not compile, as ``file:line: problem``."""
    return TemplateSet(folder).problems()


def _template_line(exc: BaseException, name: str) -> int:
    """The line in the template where rendering failed, from the traceback."""
    line = 0
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.endswith(name):
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str | None
    language: str


def _language_in(templates: TemplateSet, event: str, wanted: Sequence[str | None]) -> str | None:
    """The first language in ``wanted`` that has a text template for the event."""
    return next((w for w in wanted if w and templates.has(f"{event}.{w}.txt")), None)


@functools.cache
def _shipped_templates(folder: Path) -> TemplateSet:
    return TemplateSet(folder)


def render_event(
    templates: TemplateSet,
    event: str,
    wanted: Sequence[str | None],
    context: Mapping[str, Any],
) -> Rendered:
    """Render EVENT.LANG.txt (and .html if present). The text's first line may be
    "Subject: ..."; the subject is made one line whatever the values contain."""
    language = _language_in(templates, event, wanted)
    if language is None and event in SHIPPED_EVENTS:
        from maildesk.starter import starter_dir

        shipped = _shipped_templates(starter_dir("templates"))
        if shipped.folder != templates.folder and _language_in(shipped, event, wanted):
            return render_event(shipped, event, wanted, context)
    if language is None:
        raise UserError(
            [
                Problem(
                    str(templates.folder / f"{event}.*.txt"),
                    f"no template for {event!r} in {', '.join(w for w in wanted if w)}",
                )
            ]
        )
    text = templates.env.get_template(f"{event}.{language}.txt").render(**context)
    subject = ""
    first, _, rest = text.partition("\n")
    if first.lower().startswith("subject:"):
        subject, text = first.split(":", 1)[1].strip(), rest.lstrip("\n")
    html = None
    if templates.has(f"{event}.{language}.html"):
        html = templates.env.get_template(f"{event}.{language}.html").render(**context)
    return Rendered(" ".join(subject.split()), text, html, language)


def sample_context() -> dict[str, Any]:
    """Values shaped like the real ones, to try every template in `maildesk check`."""
    return {
        "helpdesk": {"name": "Example Support", "address": "support@example.com"},
        "ticket": {
            "id": 1042,
            "token": "[#1042]",
            "subject": "Printer on fire",
            "status": "new",
            "status_name": "new",
            "priority": "normal",
            "tier": "L1",
            "tags": ["printer"],
            "assignee": None,
            "language": "en",
            "quiet": None,
        },
        "customer": {
            "name": "Alice Example",
            "address": "alice@example.org",
            "organization": None,
            "category": None,
        },
        "message": {
            "visible_text": "The printer is on fire.",
            "subject": "Printer on fire",
            "from": "alice@example.org",
            "attachments": [],
        },
        "sla": {
            "policy": "normal",
            "first_response": "2 hours",
            "resolution": "4 hours",
            "first_response_within": "within 2 hours",
            "resolution_within": "within 4 hours",
        },
        "articles": [
            {"title": "Reset a forgotten password", "url": "https://help.example.com/reset"}
        ],
        "agent": {"name": "Bob Agent", "address": "bob@example.com"},
        "reply": {
            "text": "Please restart the printer.",
            "problems": ["#stauts: unknown command"],
            "help": "Commands: ...",
        },
        "timer": {
            "target": "first_response",
            "target_name": "first response",
            "kind": "reminder",
            "percent": 75,
            "due": "Mon 23 Nov 2026 11:00 CET",
            "left": "30 minutes",
            "overdue": "",
        },
        "survey": {"score": 2, "comment": "It took three days."},
        "waiting": {"closes": "Thu 26 Nov 2026 09:00 CET"},
        "merged": {"id": 1043, "token": "[#1043]", "subject": "Printer still on fire"},
        "problem": {
            "id": 1040,
            "token": "[#1040]",
            "subject": "Printers on floor 3 down",
            "tickets": [{"token": "[#1042]", "subject": "Printer on fire", "status": "new"}],
            "within": "1h",
            "command": "#problem 1043 1044",
        },
        "tickets": [
            {
                "token": "[#1042]",
                "subject": "Printer on fire",
                "status": "open",
                "tier": "L1",
                "due": "Mon 23 Nov 2026 11:00 CET",
            }
        ],
        "alert": {
            "why": "20 mails about ticket #1042 this hour already",
            "per_ticket": 20,
            "per_address": 10,
            "same_text": 5,
        },
        "held": {
            "id": 7,
            "sender": "mallory@elsewhere.example",
            "sender_name": "Mallory",
            "subject": "Re: [#1042] Printer on fire",
            "reason": "ticket #1042, but mallory@elsewhere.example is not on ticket #1042",
            "text": "Send me the invoice too.",
            "attachments": [],
        },
        "escalation": {
            "from_tier": "L1",
            "to_tier": "L2",
            "from_priority": "normal",
            "to_priority": "high",
            "breached": ["first response"],
        },
        "digest": {
            "tier": "L1",
            "description": "Basic",
            "day": "2026-11-23",
            "open": [_SAMPLE_LINE],
            "at_risk": [_SAMPLE_LINE],
            "breached": [],
        },
    }


_SAMPLE_LINE = {
    "id": 1042,
    "token": "[#1042]",
    "subject": "Printer on fire",
    "status": "open",
    "priority": "normal",
    "assignee": None,
    "age": "3 hours",
    "due": "Mon 23 Nov 2026 11:00 CET",
    "overdue": "",
}


# Events added after desks were made: a desk's folder without them uses the shipped ones
# (render_event's fallback), so an upgrade never leaves a desk unable to send them.
SHIPPED_EVENTS = (
    "held",
    "forged_agent",
    "loop_alert",
    "merged",
    "status_list",
    "incident_resolved",
    "problem_alert",
    "pending_reminder",
    "pending_closed",
)
REQUIRED_EVENTS = (
    "acknowledgement",
    "notification",
    "reply",
    "status",
    "customer_reply",
    "command_error",
    "agent_copy",
    "sla_reminder",
    "sla_breach",
    "sla_digest",
    "survey",
    "survey_low",
)


def missing_templates(templates: TemplateSet, default_language: str) -> list[Problem]:
    """Events every desk sends need a text template in the default language (or English)."""
    return (
        [
            Problem(
                str(templates.folder / f"{event}.{default_language}.txt"),
                f"template missing (the {event} mail cannot be written)",
            )
            for event in REQUIRED_EVENTS
            if _language_in(templates, event, [default_language, "en"]) is None
        ]
        if templates.folder.is_dir()
        else []
    )


_NAME = re.compile(
    r"(?P<event>[a-z0-9_]+)\.(?P<language>[a-z]{2,3}(?:[-_][A-Za-z]{2,4})?)\.(?:txt|html)"
)


def stray_templates(templates: TemplateSet, used: Sequence[str] = ()) -> list[Problem]:
    """Template files no mail will ever use: a misspelled event (acknowledgment.en.txt)
    or a name not of the form EVENT.LANGUAGE.txt. ``used``: events rules name."""
    known = {*REQUIRED_EVENTS, *SHIPPED_EVENTS, *used}
    found = []
    for name in sorted({*templates.sources, *templates.unreadable}):
        path = templates.folder / name
        if name.startswith("macros/"):
            match = _NAME.fullmatch(name.removeprefix("macros/"))
            if match is None:
                found.append(Problem(str(path), "not named NAME.LANGUAGE.txt: no #macro finds it"))
            continue
        match = _NAME.fullmatch(name)
        if match is None:
            found.append(Problem(str(path), "not named EVENT.LANGUAGE.txt (or .html): never used"))
        elif match["event"] not in known:
            close = difflib.get_close_matches(match["event"], sorted(known), n=1)
            hint = f' (did you mean "{close[0]}"?)' if close else ""
            found.append(Problem(str(path), f'no mail is called "{match["event"]}"{hint}'))
    return found
