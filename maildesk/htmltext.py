"""HTML in mail: turned into plain text for reading, sanitized for keeping.

HTML from customers is never trusted: what is stored is what nh3 (the
Ammonia sanitizer) lets through, and the visible text is made from it with
the stdlib parser. Blockquotes become "> " lines so that visible.py can
strip quoted history the same way as in plain-text mail.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import nh3

_BLOCK = {
    "p",
    "div",
    "br",
    "tr",
    "li",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "table",
    "ul",
    "ol",
    "pre",
    "hr",
    "section",
    "article",
    "header",
    "footer",
    "address",
    "dl",
    "dt",
    "dd",
}
_SKIP = {"script", "style", "head", "title", "template", "noscript"}


_SCHEMES = {*nh3.ALLOWED_URL_SCHEMES, "cid"}

# What a mail's formatting may keep: an agent's colours and fonts, a customer's
# table. Nothing that positions, hides or loads: no url(), no display, no position.
STYLE_PROPERTIES = frozenset(
    {
        "color",
        "background-color",
        "font-family",
        "font-size",
        "font-weight",
        "font-style",
        "font-variant",
        "text-decoration",
        "text-align",
        "text-indent",
        "text-transform",
        "line-height",
        "letter-spacing",
        "vertical-align",
        "white-space",
        "direction",
        "list-style-type",
        "border-collapse",
        "border-spacing",
        "width",
        "max-width",
        "min-width",
        "height",
        *(
            f"{box}{side}"
            for box in ("margin", "padding", "border")
            for side in ("", "-top", "-right", "-bottom", "-left")
        ),
        *(f"border-{part}" for part in ("color", "style", "width", "radius")),
    }
)
_ATTRIBUTES = {tag: set(names) for tag, names in nh3.ALLOWED_ATTRIBUTES.items()}
# class, id and blockquote type: where a client marks its quoted history
# (gmail_quote, divRplyFwdMsg, type="cite"); htmlreply.py cuts there.
_ATTRIBUTES["*"] = {"class", "id", "style", "dir", "lang"}
_ATTRIBUTES["blockquote"] = {*_ATTRIBUTES.get("blockquote", set()), "type"}
_ATTRIBUTES["td"] = {*_ATTRIBUTES["td"], "valign", "width", "bgcolor"}
_ATTRIBUTES["table"] = {*_ATTRIBUTES["table"], "width", "cellpadding", "cellspacing", "border"}
_ATTRIBUTES["font"] = {"color", "face", "size"}
_TAGS = {*nh3.ALLOWED_TAGS, "font"}
_NO_CONTENT = {"script", "style", "title", "template", "noscript"}
_UNSAFE_STYLE = ("url(", "expression(", "@import", "\\", "javascript:")


def no_remote_loads(tag: str, attribute: str, value: str) -> str | None:
    """An image is kept only when it is part of the mail (cid:): a remote one is a
    tracking pixel that tells the sender when an agent opened the ticket. A style
    that could load or run anything goes whole."""
    if attribute == "src" and not value.strip().lower().startswith("cid:"):
        return None
    if attribute == "style" and any(bad in value.lower() for bad in _UNSAFE_STYLE):
        return None
    return value


def sanitize_html(html: str) -> str:
    """Keep formatting, links and the clients' quote marks; drop scripts, styles,
    event handlers and anything that loads from elsewhere (remote images)."""
    return nh3.clean(
        html,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        clean_content_tags=_NO_CONTENT,
        link_rel="noopener noreferrer nofollow",
        url_schemes=_SCHEMES,
        attribute_filter=no_remote_loads,
        filter_style_properties=STYLE_PROPERTIES,
    )


class TextMaker(HTMLParser):
    """HTML to lines; fed by the parser, or by htmlreply.py straight from its tree."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = [""]
        self.quote = 0
        self.skip = 0
        self.pre = 0
        self.href: str | None = None

    def _newline(self) -> None:
        self.lines.append("")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self.skip += 1
        elif tag == "blockquote":
            self._newline()
            self.quote += 1
        elif tag in _BLOCK:
            self._newline()
            if tag == "li":
                self._write("- ")
            if tag == "pre":
                self.pre += 1
        elif tag == "a":
            self.href = dict(attrs).get("href")
        elif tag == "img":
            alt = dict(attrs).get("alt")
            if alt:
                self._write(f"[{alt}]")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skip = max(0, self.skip - 1)
        elif tag == "blockquote":
            self.quote = max(0, self.quote - 1)
            self._newline()
        elif tag in _BLOCK:
            if tag == "pre":
                self.pre = max(0, self.pre - 1)
            self._newline()
        elif tag == "a":
            self.href = None

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        if self.pre:
            parts = data.split("\n")
            self._write(parts[0])
            for part in parts[1:]:
                self._newline()
                self._write(part)
            return
        self._write(re.sub(r"\s+", " ", data))

    def _write(self, text: str) -> None:
        if not text:
            return
        if not self.lines[-1]:
            text = text.lstrip() if not self.pre else text
            if not text:
                return
            if self.quote:
                text = "> " * self.quote + text
        self.lines[-1] += text

    def text(self) -> str:
        lines = [line.rstrip() for line in self.lines]
        text = "\n".join(lines)
        return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def html_to_text(html: str) -> str:
    maker = TextMaker()
    try:
        maker.feed(html)
        maker.close()
    except Exception:  # a parser bug must not cost us the message; fall back to tag stripping
        return re.sub(r"<[^>]*>", " ", html)
    return maker.text()
