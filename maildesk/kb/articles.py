"""kb/*.md: Markdown articles with a small YAML front matter, checked at load.

    ---
    title: Reset a forgotten password
    tags: [password, login]
    language: en
    url: https://help.example.com/en/reset-password
    ---
    The article's text...

A file with a problem is left out with its file:line; the others load.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from maildesk import yamlsafe
from maildesk.errors import Problem

KEYS = ("title", "tags", "language", "url")


@dataclass(frozen=True)
class Article:
    slug: str  # the file name without .md
    title: str
    tags: tuple[str, ...]
    language: str | None
    url: str
    body: str
    path: Path


def load_articles(folder: Path) -> tuple[list[Article], list[Problem]]:
    if not folder.is_dir():
        return [], []
    articles: list[Article] = []
    problems: list[Problem] = []
    for path in sorted(folder.glob("*.md")):
        if path.name.lower() == "readme.md":
            continue
        try:
            articles.append(read_article(path))
        except ArticleError as exc:
            problems.append(Problem(f"{path}:{exc.line}" if exc.line else str(path), str(exc)))
    return articles, problems


class ArticleError(Exception):
    def __init__(self, message: str, line: int = 0) -> None:
        super().__init__(message)
        self.line = line


def read_article(path: Path) -> Article:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ArticleError("not UTF-8") from None
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        raise ArticleError('expected front matter: a first line "---", then title, url...', 1)
    try:
        end = next(i for i, line in enumerate(lines[1:], start=1) if line.strip() == "---")
    except StopIteration:
        raise ArticleError('front matter is not closed by a "---" line', 1) from None
    try:
        meta = yamlsafe.safe_load("\n".join(lines[1:end])) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark is not None else 1
        raise ArticleError(f"front matter: {getattr(exc, 'problem', exc)}", line) from None
    if not isinstance(meta, dict):
        raise ArticleError("front matter must be keys and values", 2)
    return Article(
        slug=path.stem,
        title=_text(meta, "title", required=True),
        tags=_tags(meta),
        language=_text(meta, "language") or None,
        url=_text(meta, "url", required=True),
        body="\n".join(lines[end + 1 :]).strip(),
        path=path,
    )


def _line_of(meta: dict[str, Any], key: str) -> int:
    return 2 + list(meta).index(key) if key in meta else 1


def _text(meta: dict[str, Any], key: str, *, required: bool = False) -> str:
    unknown = [k for k in meta if k not in KEYS]
    if unknown:
        raise ArticleError(
            f"unknown key {unknown[0]!r} (known: {', '.join(KEYS)})", _line_of(meta, unknown[0])
        )
    value = meta.get(key)
    if value is None:
        if required:
            raise ArticleError(f"{key}: required", 1)
        return ""
    if not isinstance(value, str) or not value.strip() or "\n" in value.strip():
        raise ArticleError(f"{key}: expected one line of text", _line_of(meta, key))
    return value.strip()


def _tags(meta: dict[str, Any]) -> tuple[str, ...]:
    value = meta.get("tags", [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise ArticleError("tags: expected a list of words", _line_of(meta, "tags"))
    return tuple(t.strip() for t in value if t.strip())
