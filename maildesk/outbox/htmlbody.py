"""A mail's HTML part from its text template: one source, two parts.

The text template is rendered as always; its text is then escaped whole and
given structure (paragraphs, lists, quotes, links, the "--" footer). Customer
and agent text reach the HTML only as escaped text, or as HTML that nh3 has
sanitized (an agent's formatted reply, a customer's HTML mail), put in where
the template names ``reply.text`` or ``message.visible_text``: slots, marked
while rendering by a token no sender can guess.
"""

from __future__ import annotations

import html
import itertools
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# (value, key of its text, key of its HTML): where a template's text may be HTML.
SLOTS = (("reply", "text", "html"), ("message", "visible_text", "html"))
_FLOWING = 60  # a template line this long was wrapped by its author: HTML reflows it
_URL = re.compile(r"\bhttps?://[^\s<>\"']+", re.IGNORECASE)
_BULLET = re.compile(r"^(\s*)[-*•]\s+(.*)$")
_P = 'style="margin:0 0 14px 0;"'
_MUTED = "margin:0 0 6px 0;font-size:13px;color:#57606a;"


@dataclass(frozen=True)
class Slots:
    """A context with each slot's text replaced by a token: ``values``; what each token
    stands for in the text (``text``) and, as (text, sanitized HTML or None), in the
    HTML (``given``)."""

    values: dict[str, Any]
    text: dict[str, str]
    given: dict[str, tuple[str, str | None]]

    def unmark(self, rendered: str) -> str | None:
        """The text as the template renders it with the real values; None when a token
        was taken apart (a filter on the value)."""
        for token, text in self.text.items():
            rendered = rendered.replace(token, text)
        return None if "\ue002" in rendered or "\ue003" in rendered else rendered

    def html(self, source: str) -> dict[str, str]:
        """The HTML of each token ``source`` holds: the sanitized HTML given, else the
        text kept line by line."""
        return {
            token: f"<div>{markup}</div>" if markup else _kept_lines(plain)
            for token, (plain, markup) in self.given.items()
            if token in source
        }


# Per process, unguessable to a sender; a counter keeps each mail's tokens its own.
_NONCE = secrets.token_hex(8)
_MAILS = itertools.count()


def with_slots(context: Mapping[str, Any]) -> Slots:
    """Each slot's text (when it has any) as a token no sender can guess."""
    nonce = f"{_NONCE}{next(_MAILS):x}."
    values = dict(context)
    text: dict[str, str] = {}
    given: dict[str, tuple[str, str | None]] = {}
    for number, (name, text_key, html_key) in enumerate(SLOTS):
        value = values.get(name)
        if not isinstance(value, Mapping) or not isinstance(value.get(text_key), str):
            continue
        plain, markup = value[text_key], value.get(html_key)
        if not plain.strip():
            continue
        token = f"\ue002{nonce}{number}\ue003"
        text[token] = plain
        given[token] = (plain, markup if isinstance(markup, str) and markup else None)
        values[name] = {**value, text_key: token}
    return Slots(values, text, given)


def uses_slots(source: str) -> bool:
    return any(f"{name}.{key}" in source for name, key, _ in SLOTS)


def plain_slots(source: str) -> bool:
    """Whether a template prints the slot values only as they are (``{{ reply.text }}``):
    then one rendering with tokens gives the text too (``Slots.unmark``); a test or a
    filter on them (``{% if reply.text|length > 9 %}``) needs its own rendering."""
    uses = sum(source.count(f"{name}.{key}") for name, key, _ in SLOTS)
    return uses == len(_PLAIN_SLOT.findall(source))


_PLAIN_SLOT = re.compile(
    r"\{\{-?\s*(?:" + "|".join(rf"{n}\.{k}" for n, k, _ in SLOTS) + r")\s*-?\}\}"
)


def text_to_html(text: str, fragments: Mapping[str, str] | None = None) -> str:
    """Rendered text as HTML blocks; ``fragments``' tokens become their HTML."""
    fragments = fragments or {}
    lines = text.replace("\r\n", "\n").strip("\n").split("\n")
    footer: list[str] = []
    cut = next((i for i, line in enumerate(lines) if line.rstrip() == "--"), None)
    if cut is not None:
        lines, footer = lines[:cut], lines[cut + 1 :]
    blocks = [_block(para) for para in _paragraphs(lines)]
    if any(line.strip() for line in footer):
        rows = "".join(f'<p style="{_MUTED}">{_inline(ln)}</p>' for ln in footer if ln.strip())
        blocks.append(
            f'<div class="md-muted" style="border-top:1px solid #d0d7de;margin-top:18px;'
            f'padding-top:10px;color:#57606a;">{rows}</div>'
        )
    markup = "\n".join(b for b in blocks if b)
    for token, fragment in fragments.items():
        markup = markup.replace(f"<p {_P}>{token}</p>", fragment).replace(token, fragment)
    return markup


def _paragraphs(lines: list[str]) -> list[list[str]]:
    paragraphs: list[list[str]] = [[]]
    for line in lines:
        if line.strip():
            paragraphs[-1].append(line)
        elif paragraphs[-1]:
            paragraphs.append([])
    return [p for p in paragraphs if p]


def _block(lines: list[str]) -> str:
    if all(line.lstrip().startswith(">") for line in lines):
        inner = [re.sub(r"^\s*>\s?", "", line) for line in lines]
        return (
            '<blockquote style="margin:0 0 14px 0;padding:0 0 0 12px;'
            'border-left:3px solid #d0d7de;color:#57606a;">'
            f"{text_to_html(chr(10).join(inner))}</blockquote>"
        )
    bullet = next((i for i, line in enumerate(lines) if _BULLET.match(line)), None)
    if bullet == 0:
        return _list(lines)
    if bullet is not None:  # "See:" and its list
        return _block(lines[:bullet]) + _list(lines[bullet:])
    joined = ""
    for index, line in enumerate(lines):
        if index:
            joined += "\n" if len(lines[index - 1].rstrip()) >= _FLOWING else "<br>\n"
        joined += _inline(line.strip())
    return f"<p {_P}>{joined}</p>"


def _list(lines: list[str]) -> str:
    """ "- item" lines, a deeper-indented line going on the item above."""
    items: list[list[str]] = []
    for line in lines:
        bullet = _BULLET.match(line)
        if bullet or not items:
            items.append([bullet.group(2) if bullet else line.strip()])
        else:
            items[-1].append(line.strip())
    rows = "".join(
        f'<li style="margin:0 0 6px 0;">{"<br>".join(_inline(x) for x in item)}</li>'
        for item in items
    )
    return f'<ul style="margin:0 0 14px 0;padding-left:22px;">{rows}</ul>'


def _inline(line: str) -> str:
    """One line of text: escaped, its web addresses made links."""
    if "://" not in line:
        return html.escape(line, quote=True)
    out, at = [], 0
    for found in _URL.finditer(line):
        url = found.group(0).rstrip(".,;:!?)")
        out.append(html.escape(line[at : found.start()], quote=True))
        href = html.escape(url, quote=True)
        out.append(f'<a href="{href}" style="color:#0969da;">{href}</a>')
        at = found.start() + len(url)
    out.append(html.escape(line[at:], quote=True))
    return "".join(out)


def _kept_lines(text: str) -> str:
    """Customer or agent text as they wrote it: escaped, line breaks kept."""
    lines = text.strip("\n").split("\n")
    return (
        '<div style="white-space:pre-wrap;margin:0 0 14px 0;">'
        + "\n".join(_inline(line) for line in lines)
        + "</div>"
    )
