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
from markupsafe import Markup

from maildesk.errors import Problem, UserError
from maildesk.outbox.htmlbody import plain_slots, text_to_html, uses_slots, with_slots
from maildesk.samples import sample_context

TEMPLATE_SUFFIXES = (".txt", ".html")
# The HTML around every mail's text (outbox/htmlbody.py); a desk without one uses ours.
LAYOUT = "layout.html"


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

    @functools.cached_property
    def _slots(self) -> dict[str, tuple[bool, bool]]:
        return {name: (uses_slots(s), plain_slots(s)) for name, s in self.sources.items()}

    def uses_slots(self, name: str) -> bool:
        """The template prints reply.text or message.visible_text."""
        return self._slots.get(name, (True, False))[0]

    def plain_slots(self, name: str) -> bool:
        """The template prints reply.text and message.visible_text only as they are."""
        return self._slots.get(name, (True, False))[1]

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
    *,
    layout: bool = False,
) -> Rendered:
    """Render EVENT.LANG.txt, and its HTML: EVENT.LANG.html if the desk has one, else
    (with ``layout``) the same text made HTML inside layout.html. The text's first
    line may be "Subject: ..."; the subject is made one line whatever the values
    contain."""
    language = _language_in(templates, event, wanted)
    if language is None and event in SHIPPED_EVENTS:
        from maildesk.starter import starter_dir

        shipped = _shipped_templates(starter_dir("templates"))
        if shipped.folder != templates.folder and _language_in(shipped, event, wanted):
            return render_event(shipped, event, wanted, context, layout=layout)
    if language is None:
        raise UserError(
            [
                Problem(
                    str(templates.folder / f"{event}.*.txt"),
                    f"no template for {event!r} in {', '.join(w for w in wanted if w)}",
                )
            ]
        )
    name = f"{event}.{language}.txt"
    template = templates.env.get_template(name)
    own_html = templates.has(f"{event}.{language}.html")
    slotted = layout and not own_html and templates.uses_slots(name)
    slots = with_slots(context) if slotted else None
    marked = intact = full = None
    if slots is not None and slots.text:
        marked = template.render(**slots.values)
        intact = slots.unmark(marked)  # None: a filter took a slot apart
        # Printed only as they are: the same text as rendering with the values.
        full = intact if templates.plain_slots(name) else None
    if full is None:
        full = template.render(**context)
    subject, text = _subject_and_text(full)
    html = None
    if own_html:
        html = templates.env.get_template(f"{event}.{language}.html").render(**context)
    elif layout:
        source, fragments = text, {}
        if slots is not None and marked is not None and intact is not None:
            source = _subject_and_text(marked)[1]
            fragments = slots.html(source)
        html = _layout(templates).render(
            body=Markup(text_to_html(source, fragments)),
            subject=subject,
            language=language,
            helpdesk=context.get("helpdesk", {}),
            ticket=context.get("ticket"),
            buttons=context.get("buttons", []),
        )
    return Rendered(subject, text, html, language)


def _subject_and_text(rendered: str) -> tuple[str, str]:
    subject, text = "", rendered
    first, _, rest = rendered.partition("\n")
    if first.lower().startswith("subject:"):
        subject, text = first.split(":", 1)[1].strip(), rest.lstrip("\n")
    return " ".join(subject.split()), text


def _layout(templates: TemplateSet) -> Any:
    if templates.has(LAYOUT):
        return templates.env.get_template(LAYOUT)
    from maildesk.starter import starter_dir

    return _shipped_templates(starter_dir("templates")).env.get_template(LAYOUT)


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
    "weekly_report",
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
        if name == LAYOUT:
            continue
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
