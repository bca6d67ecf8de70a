"""A small tree of sanitized HTML, for cutting a reply where its quoted history starts.

The input is nh3's output (balanced, no scripts, no comments), so a tolerant
stack of open elements is enough; the stdlib parser reads it. Cutting works in
document order: "everything from this node on" (the quoted history below a
reply) and "everything before this node" (commands above it).
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser

VOID = frozenset({"br", "img", "hr", "wbr", "col", "area", "source", "track", "input"})


@dataclass(eq=False)
class Element:
    tag: str
    attrs: list[tuple[str, str | None]] = field(default_factory=list)
    children: list[Element | Text] = field(default_factory=list)
    parent: Element | None = None

    def attr(self, name: str) -> str:
        return next((v or "" for k, v in self.attrs if k == name), "")

    def set_attr(self, name: str, value: str) -> None:
        self.attrs = [(k, v) for k, v in self.attrs if k != name] + [(name, value)]


@dataclass(eq=False)
class Text:
    data: str
    parent: Element | None = None


Node = Element | Text


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#root")
        self.open = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, attrs, parent=self.open[-1])
        self.open[-1].children.append(element)
        if tag not in VOID:
            self.open.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, attrs, parent=self.open[-1])
        self.open[-1].children.append(element)

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.open) - 1, 0, -1):
            if self.open[depth].tag == tag:
                del self.open[depth:]
                return

    def handle_data(self, data: str) -> None:
        self.open[-1].children.append(Text(data, self.open[-1]))


def parse(markup: str) -> Element:
    builder = _Builder()
    builder.feed(markup)
    builder.close()
    return builder.root


def walk(node: Element) -> Iterator[Node]:
    """Every node under ``node`` in document order (``node`` itself not included)."""
    for child in node.children:
        yield child
        if isinstance(child, Element):
            yield from walk(child)


def serialize(node: Element) -> str:
    out: list[str] = []
    _write(node, out)
    return "".join(out)


def _write(node: Element, out: list[str]) -> None:
    for child in node.children:
        if isinstance(child, Text):
            out.append(html.escape(child.data, quote=False))
            continue
        attrs = "".join(
            f' {k}="{html.escape(v, quote=True)}"' if v is not None else f" {k}"
            for k, v in child.attrs
        )
        out.append(f"<{child.tag}{attrs}>")
        if child.tag not in VOID:
            _write(child, out)
            out.append(f"</{child.tag}>")


def cut_from(node: Node) -> None:
    """Remove ``node`` and everything after it in document order."""
    current: Node = node
    while current.parent is not None:
        siblings = current.parent.children
        index = next(i for i, child in enumerate(siblings) if child is current)
        del siblings[index + (0 if current is node else 1) :]
        current = current.parent


def cut_before(node: Node) -> None:
    """Remove everything before ``node`` in document order (its ancestors stay)."""
    current: Node = node
    while current.parent is not None:
        siblings = current.parent.children
        index = next(i for i, child in enumerate(siblings) if child is current)
        del siblings[:index]
        current = current.parent


def remove(node: Node) -> None:
    if node.parent is not None:
        node.parent.children = [c for c in node.parent.children if c is not node]
