"""`maildesk kb`: what the knowledge base would suggest, and why."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from maildesk.cli import output
from maildesk.cli.context import Desk, pass_desk
from maildesk.errors import Problem, Quarantined, UserError
from maildesk.kb.articles import load_articles
from maildesk.kb.index import KnowledgeBase
from maildesk.language import detect_language
from maildesk.parse import parse_mail
from maildesk.visible import visible_text


@click.group()
def kb() -> None:
    """Knowledge-base articles suggested in acknowledgements."""


@kb.command("test")
@click.argument("query")
@click.option("--language", help="The customer's language [default: detected from the text].")
@click.option("--all", "show_all", is_flag=True, help="Also list articles below the threshold.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@pass_desk
def kb_test(desk: Desk, query: str, language: str | None, show_all: bool, as_json: bool) -> None:
    """Rank the articles for QUERY: some text, or a file NAME.eml.

    Text is read as a mail whose first line is the subject (which counts
    twice) and the rest its body. A file is read like incoming mail, quoted
    history left out. Suggested articles are those a customer would see
    (at most 3).
    """
    articles, problems = load_articles(desk.settings.paths.kb)
    if problems:
        raise UserError(problems)
    subject, text = _query(query)
    language = language or detect_language(f"{subject}\n{text}")
    ranking = KnowledgeBase(articles).rank(subject, text, language)
    shown = [s for s in ranking if s.relevant][:3]
    rows = ranking if show_all else shown
    data: list[dict[str, Any]] = [
        {
            "article": s.article.slug,
            "title": s.article.title,
            "url": s.article.url,
            "score": s.score,
            "matched": list(s.matched),
            "suggested": s in shown,
        }
        for s in rows
    ]
    if as_json:
        output.print_json({"language": language, "articles": data})
        return
    output.print_table(
        ["ARTICLE", "SCORE", "SUGGESTED", "MATCHED", "TITLE"],
        (
            [
                d["article"],
                f"{d['score']:.2f}",
                "yes" if d["suggested"] else "no",
                ", ".join(d["matched"]),
                d["title"],
            ]
            for d in data
        ),
        empty=f"no article is relevant enough ({len(articles)} article(s) searched)",
    )


def _query(query: str) -> tuple[str, str]:
    """(subject, text): from a mail file, or the text itself."""
    path = Path(query)
    if not query.endswith(".eml"):
        subject, _, text = query.partition("\n")
        return subject, text
    if not path.is_file():
        raise UserError([Problem(query, "no such file")])
    try:
        mail = parse_mail(path.read_bytes())
    except Quarantined as exc:
        raise UserError([Problem(str(path), exc.reason)]) from None
    return mail.subject, visible_text(mail.text)
