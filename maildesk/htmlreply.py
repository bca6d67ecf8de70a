"""The new part of an HTML reply: its quoted history, signature and commands cut off.

Two passes, like the peers that do this well (talon, Discourse):

1. the clients' own marks: Gmail's ``gmail_quote``, Outlook's ``divRplyFwdMsg``,
   ``appendonsend`` and border-top separator, Apple Mail's and Sparrow's
   ``blockquote type="cite"``, Thunderbird's ``moz-cite-prefix``, Yahoo's
   ``yahoo_quoted``, Zimbra's ``zwchr``; everything from the first one on goes;
2. the text rules of visible.py ("On … wrote:", "-----Original Message-----",
   "From:/Sent:" blocks, "> " lines, "-- " signatures), run on the HTML's text
   with each line traced back to the node it starts with.

The result must say what the text path says (the reply's visible text with its
commands taken out), word for word, links and images aside; when it does not
(interleaved quotes, a macro's text, a client we do not know), there is no HTML
and the reply goes out from its text. Nothing is relayed that the text part
would not relay.
"""

from __future__ import annotations

import re
import uuid

import nh3

from maildesk import htmltree
from maildesk.htmltext import STYLE_PROPERTIES, TextMaker, no_remote_loads, sanitize_html
from maildesk.htmltree import Element, Node, Text
from maildesk.mail import ParsedMail, Part
from maildesk.visible import history_start

_QUOTE_CLASSES = (
    "gmail_quote",
    "gmail_quote_container",
    "yahoo_quoted",
    "moz-cite-prefix",
    "protonmail_quote",
    "zmail_extra",
    "outlookmessageheader",
    "ms-outlook-mobile-reference-message",
)
_QUOTE_IDS = (
    "divrplyfwdmsg",
    "appendonsend",
    "mail-editor-reference-message-container",
    "zwchr",
    "stopspelling",
    "isforwardcontent",
)
# Outlook's separator above the quoted header block: a div with a thin top border.
_OUTLOOK_RULE = re.compile(r"border-top:\s*solid\s+#(e1e1e1|b5c4df)", re.IGNORECASE)
_MARK = re.compile("\ue000(\\d+)\ue001")
_URL = re.compile(r"(https?|mailto|cid):[^\s<>\"')\]]*|<[^<>\s]*@[^<>\s]*>", re.IGNORECASE)
_IMAGE = re.compile(r"\[(cid:[^\]]{0,300}|image:[^\]]{0,300}|[^\s\[\]]{1,300})\]", re.IGNORECASE)
_WORD = re.compile(r"\w+")
_EMPTY = frozenset({"br", "p", "div", "span", "font", "b", "i", "u", "strong", "em", "pre"})


Shown = tuple[str | None, tuple[tuple[str, str, str, bytes], ...]]
# Cutting costs about 0.3 ms a KB (the stdlib parser): past this a mail's HTML is not
# relayed or shown to the agents, its text is (a newsletter's 2 MB would cost seconds).
MAX_HTML = 256_000
_CID_PLACEHOLDER = re.compile(r"\[cid:([^\]@\s]{1,200})@[^\]\s]{0,200}\]")


def new_html(mail: ParsedMail, text: str, domain: str, *, signatures: bool = True) -> Shown:
    """The new part of the mail's HTML that says ``text``, with the images it shows;
    (None, ()) for a text mail, or HTML that says more or less than ``text`` (a
    macro's text, interleaved quotes): that mail goes out from its text."""
    if not mail.html or len(mail.html) > MAX_HTML:
        return None, ()
    markup = reply_html(mail.html, text, signatures=signatures, sanitized=True)
    if markup is None:
        return None, ()
    return with_images(markup, mail.parts, domain)


def name_images(text: str) -> str:
    """Outlook's text part names a pasted image by its Content-ID: "[image001.png]"."""
    return _CID_PLACEHOLDER.sub(r"[\1]", text)


def reply_html(
    html: str, own_text: str, *, signatures: bool = True, sanitized: bool = False
) -> str | None:
    """The part of an HTML mail that says ``own_text`` (the visible text the text path
    found, commands left out), sanitized; None when the HTML says more or less.
    ``sanitized``: ``html`` is sanitize_html's already (ParsedMail.html is)."""
    want = words(own_text)
    if not want:
        return None
    tree = htmltree.parse(html if sanitized else sanitize_html(html))
    mark = _first_quote_mark(tree)
    if mark is not None:
        htmltree.cut_from(mark)
    lines, nodes = _lines(tree)
    end = history_start(lines, signatures=signatures)
    start = _node_at(nodes, end)
    if start is not None:
        htmltree.cut_from(start)
    lines, nodes = lines[:end], nodes[:end]
    for first in range(len(lines)):
        if words("\n".join(lines[first:])) == want:
            node = _node_at(nodes, first)
            if node is not None and first:
                htmltree.cut_before(node)
            break
        if lines[first].strip() and not lines[first].lstrip().startswith("#"):
            return None  # not a command line: the HTML says something the text does not
    else:
        return None
    _trim(tree)
    return relayable(htmltree.serialize(tree))


def relayable(html: str) -> str:
    """Sanitized for sending on: formatting kept, the sender's quote marks, classes
    and ids gone."""
    return nh3.clean(
        html,
        tags={*nh3.ALLOWED_TAGS, "font"},
        attributes=_RELAY_ATTRIBUTES,
        link_rel="noopener noreferrer nofollow",
        url_schemes={"http", "https", "mailto", "cid", "tel"},
        attribute_filter=no_remote_loads,
        filter_style_properties=STYLE_PROPERTIES,
    )


_RELAY_ATTRIBUTES = {tag: set(names) for tag, names in nh3.ALLOWED_ATTRIBUTES.items()}
_RELAY_ATTRIBUTES["*"] = {"style", "dir"}
_RELAY_ATTRIBUTES["font"] = {"color", "face", "size"}
_RELAY_ATTRIBUTES["td"] = {*_RELAY_ATTRIBUTES["td"], "valign", "width"}
_RELAY_ATTRIBUTES["table"] = {*_RELAY_ATTRIBUTES["table"], "width", "cellpadding", "border"}


def words(text: str) -> list[str]:
    """What two renderings of one reply share: its words in order, without links,
    image placeholders ("[cid:image001.png@…]") and punctuation."""
    return _WORD.findall(_URL.sub(" ", _IMAGE.sub(" ", text)).casefold())


def _first_quote_mark(tree: Element) -> Node | None:
    for node in htmltree.walk(tree):
        if isinstance(node, Element) and _is_quote_mark(node):
            return node
    return None


def _is_quote_mark(element: Element) -> bool:
    classes = element.attr("class").lower().split()
    if any(c in _QUOTE_CLASSES for c in classes):
        return True
    if element.attr("id").lower() in _QUOTE_IDS:
        return True
    if element.tag == "blockquote" and element.attr("type").lower() == "cite":
        return True
    return element.tag == "div" and bool(_OUTLOOK_RULE.search(element.attr("style")))


def _lines(tree: Element) -> tuple[list[str], list[Node | None]]:
    """The tree's text as visible.py reads it (htmltext's rules, fed from the tree, not
    parsed again), and for each line the node it starts with (None for a blank line,
    or one that goes on a node from above). An image's alt is no line of it."""
    maker = TextMaker()
    texts: list[Text] = []

    def feed(element: Element) -> None:
        for child in element.children:
            if isinstance(child, Text):
                data = child.data
                if data.strip():
                    lead = len(data) - len(data.lstrip())
                    data = f"{data[:lead]}\ue000{len(texts)}\ue001{data[lead:]}"
                    texts.append(child)
                maker.handle_data(data)
            elif child.tag != "img":
                maker.handle_starttag(child.tag, child.attrs)
                if child.tag not in htmltree.VOID:
                    feed(child)
                    maker.handle_endtag(child.tag)

    feed(tree)
    lines: list[str] = []
    starts: list[Node | None] = []
    for line in maker.text().split("\n"):
        found = _MARK.search(line)
        opens = found is not None and not _MARK.sub("", line[: found.start()]).strip(" >-")
        starts.append(texts[int(found.group(1))] if found and opens else None)
        lines.append(_MARK.sub("", line))
    return lines, starts


def _node_at(starts: list[Node | None], index: int) -> Node | None:
    """The first node that starts a line at or after ``index``."""
    return next((node for node in starts[index:] if node is not None), None)


def _trim(tree: Element) -> None:
    """No empty paragraphs or line breaks left at the end of what was cut."""
    for edge in (-1, 0):
        node: Element = tree
        while node.children:
            child = node.children[edge]
            if isinstance(child, Text):
                if child.data.strip():
                    break
                htmltree.remove(child)
            elif child.tag in _EMPTY and not _has_content(child):
                htmltree.remove(child)
            elif child.tag in htmltree.VOID:
                break
            else:
                node = child


def _has_content(element: Element) -> bool:
    return any(
        (isinstance(n, Text) and n.data.strip()) or (isinstance(n, Element) and n.tag == "img")
        for n in htmltree.walk(element)
    )


_CID_SRC = re.compile(r'src="cid:([^"]*)"', re.IGNORECASE)
_IMG = re.compile(r"<img\b[^>]*>", re.IGNORECASE)


def with_images(
    markup: str, parts: tuple[Part, ...], domain: str
) -> tuple[str, tuple[tuple[str, str, str, bytes], ...]]:
    """The images ``markup`` shows, under Content-IDs of ours (the sender's may name
    their machine), as (Content-ID, file name, type, bytes); an image whose part is
    missing or too large to keep is left out, its alt text in its place."""
    by_cid = {
        p.content_id.strip("<>").lower(): p
        for p in parts
        if p.content_id and p.content is not None and p.content_type.startswith("image/")
    }
    found: dict[str, tuple[str, str, str, bytes]] = {}

    def image(tag: re.Match[str]) -> str:
        src = _CID_SRC.search(tag.group(0))
        part = by_cid.get(src.group(1).strip("<>").lower()) if src else None
        if src is None or part is None or part.content is None:
            alt = re.search(r'alt="([^"]*)"', tag.group(0))
            return f"[{alt.group(1)}]" if alt and alt.group(1) else ""
        key = src.group(1).lower()
        if key not in found:
            cid = f"md.{uuid.uuid4().hex}@{domain}"
            found[key] = (cid, part.filename, part.content_type, part.content)
        return tag.group(0).replace(src.group(0), f'src="cid:{found[key][0]}"')

    return _IMG.sub(image, markup), tuple(found.values())


def shown_images(
    parts: tuple[Part, ...], inline: tuple[tuple[str, str, str, bytes], ...]
) -> set[int]:
    """The indices of ``parts`` that ``with_images`` put in the HTML (not to attach twice)."""
    shown = {(name, content) for _, name, _, content in inline}
    return {i for i, p in enumerate(parts) if (p.filename, p.content) in shown}
