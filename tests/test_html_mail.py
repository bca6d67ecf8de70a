"""Outgoing HTML (outbox/htmlbody.py, render.py's layout, compose.py's parts): one text
template, two parts; customer text inert in both; nothing loaded from the web."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from maildesk.feedback.replies import survey_score
from maildesk.feedback.surveys import answer_buttons
from maildesk.mail import Outgoing
from maildesk.outbox.compose import compose
from maildesk.outbox.htmlbody import text_to_html
from maildesk.render import TemplateSet, render_event, sample_context

SHIPPED = Path(__file__).resolve().parent.parent / "templates"
REMOTE = re.compile(r"""(src|href)\s*=\s*["']?\s*(https?:)?//|url\(|@import|<link|<script""", re.I)


def context(**changes: Any) -> dict[str, Any]:
    values = sample_context()
    for key, value in changes.items():
        values[key] = {**values[key], **value}
    values.pop("buttons")
    return values


def loads_nothing(html: str) -> bool:
    """No resource from elsewhere: links are fine (a click), loads are not."""
    loads = [m for m in REMOTE.finditer(html) if not m.group(0).lower().startswith("href")]
    return not loads


def test_every_shipped_template_has_an_html_part_from_the_same_text() -> None:
    templates = TemplateSet(SHIPPED)
    events = sorted({n.split(".")[0] for n in templates.sources if n.endswith(".en.txt")})
    assert len(events) >= 20
    for event in events:
        rendered = render_event(templates, event, ["en"], sample_context(), layout=True)
        assert rendered.html is not None, event
        assert rendered.html.startswith("<!DOCTYPE html>")
        assert 'name="color-scheme" content="light dark"' in rendered.html
        assert loads_nothing(rendered.html), event
        # Every line the text says, the HTML says too (escaped, maybe reflowed).
        flat = re.sub(r"<[^>]+>", " ", rendered.html)
        for line in rendered.text.splitlines():
            for word in re.findall(r"\w{4,}", line):
                assert word in flat, (event, word)


def test_without_the_layout_there_is_only_text() -> None:
    rendered = render_event(TemplateSet(SHIPPED), "acknowledgement", ["en"], context())
    assert rendered.html is None


@pytest.mark.parametrize(
    "hostile",
    [
        "<script>alert(1)</script>",
        "</style><script>alert(1)</script>",
        '"><img src=x onerror=alert(1)>',
        "</td></tr></table><iframe src=https://evil.example/>",
        "&lt;script&gt;alert(1)&lt;/script&gt;",
        "{{ 7*7 }}{% raw %}",
        "javascript:alert(1)",
        "\ue002deadbeefdeadbeef0\ue003",
    ],
)
def test_customer_text_is_inert_in_the_html(hostile: str) -> None:
    values = context(
        customer={"name": hostile},
        ticket={"subject": hostile},
        message={"visible_text": f"Help!\n{hostile}\nThanks"},
    )
    templates = TemplateSet(SHIPPED)
    for event in ("acknowledgement", "notification", "customer_reply"):
        rendered = render_event(templates, event, ["en"], values, layout=True)
        assert rendered.html is not None
        body = rendered.html.split("<body", 1)[1]
        assert "<script" not in body and "<iframe" not in body and "<img" not in body
        assert not re.search(r"<[^>]*onerror", body)
        assert "49" not in body  # no template code ran
        assert 'href="javascript' not in body
        if event != "acknowledgement":  # a forged slot token is just text
            assert "Help!" in body and "Thanks" in body


def test_an_agents_html_goes_in_where_the_template_says_reply_text() -> None:
    values = context(reply={"text": "Please restart it.", "html": "<b>Please</b> restart it."})
    rendered = render_event(TemplateSet(SHIPPED), "reply", ["en"], values, layout=True)
    assert rendered.html is not None and "<div><b>Please</b> restart it.</div>" in rendered.html
    assert rendered.text.startswith("Please restart it.")
    # Without HTML the agent's text keeps its line breaks, escaped.
    values = context(reply={"text": "Line one <x>\nLine two", "html": None})
    rendered = render_event(TemplateSet(SHIPPED), "reply", ["en"], values, layout=True)
    assert rendered.html is not None
    assert (
        "Line one &lt;x&gt;\nLine two" in rendered.html and "white-space:pre-wrap" in rendered.html
    )


def test_an_admins_filter_that_breaks_a_slot_leaves_the_text(tmp_path: Path) -> None:
    (tmp_path / "reply.en.txt").write_text("{{ reply.text | upper }}\n")
    values = context(reply={"text": "Please restart it.", "html": "<b>Please</b>"})
    rendered = render_event(TemplateSet(tmp_path), "reply", ["en"], values, layout=True)
    assert rendered.html is not None and "PLEASE RESTART IT." in rendered.html
    assert "<b>Please</b>" not in rendered.html and "\ue002" not in rendered.html


def test_an_admins_own_html_template_wins(tmp_path: Path) -> None:
    (tmp_path / "reply.en.txt").write_text("{{ reply.text }}\n")
    (tmp_path / "reply.en.html").write_text("<p>{{ reply.text }}</p>\n")
    values = context(reply={"text": "<i>hi</i>", "html": None})
    rendered = render_event(TemplateSet(tmp_path), "reply", ["en"], values, layout=True)
    assert rendered.html == "<p>&lt;i&gt;hi&lt;/i&gt;</p>\n"


def test_text_becomes_paragraphs_lists_quotes_links_and_a_footer() -> None:
    html = text_to_html(
        "Hello Alice,\n\nSee:\n  - Reset it\n    https://help.example.com/a?b=1&c=2.\n"
        "\n> quoted <b>\n\nBye\n--\nSupport, Example\n"
    )
    assert "<p " in html and "Hello Alice,</p>" in html
    assert (
        '<li style="margin:0 0 6px 0;">Reset it<br><a href="https://help.example.com/a?b=1&amp;c=2"'
        in html
    )
    assert "</a>.</li>" in html  # the full stop is no part of the address
    assert "<blockquote" in html and "quoted &lt;b&gt;" in html
    assert 'class="md-muted"' in html and "Support, Example" in html


def test_long_template_lines_reflow_short_ones_stay() -> None:
    wrapped = "thank you for writing to Example Support. Your request has been\nregistered."
    assert "been\nregistered." in text_to_html(wrapped) and "<br>" not in text_to_html(wrapped)
    assert "tier L1)<br>\nfrom Alice" in text_to_html("New ticket (tier L1)\nfrom Alice")


def test_survey_buttons_are_answers_by_mail() -> None:
    buttons = answer_buttons("support+7@example.com", "Re: [#7] Printer on fire — ещё")
    assert [b["label"][0] for b in buttons] == ["1", "2", "3", "4", "5"]
    for score, button in enumerate(buttons, start=1):
        url = urlsplit(button["href"])
        query = parse_qs(url.query)
        assert url.scheme == "mailto" and unquote(url.path) == "support+7@example.com"
        assert query["subject"] == ["Re: [#7] Printer on fire — ещё"]
        # The mail the button writes is read as the score it says.
        assert survey_score(query["body"][0]) == (score, "")
    values = sample_context()
    values["buttons"] = buttons
    rendered = render_event(TemplateSet(SHIPPED), "survey", ["en"], values, layout=True)
    assert rendered.html is not None and rendered.html.count('class="md-button"') == 5
    assert "&amp;body=5" in rendered.html


def parse(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]


def sent(outgoing: Outgoing) -> bytes:
    return compose(
        outgoing,
        message_id="<m@example.com>",
        sender="support@example.com",
        reply_to="support@example.com",
        loop_token="support@example.com",
        date=datetime(2026, 12, 3, tzinfo=UTC),
    )


def test_mail_with_images_and_attachments_is_mixed_related_alternative() -> None:
    raw = sent(
        Outgoing(
            kind="reply",
            to=("alice@example.org",),
            subject="Re: [#7] Printer",
            text="Restart it — like this:\n",
            html='<p>Restart it — like this: <img src="cid:md.1@example.com"></p>',
            attachments=(("log.txt", "text/plain", b"log"),),
            inline=(("md.1@example.com", "shot.png", "image/png", b"\x89PNG\r\n"),),
        )
    )
    message = parse(raw)
    tree = [p.get_content_type() for p in message.walk()]
    assert tree == [
        "multipart/mixed",
        "multipart/alternative",
        "text/plain",
        "multipart/related",
        "text/html",
        "image/png",
        "text/plain",
    ]
    image = next(p for p in message.walk() if p.get_content_type() == "image/png")
    assert image["Content-ID"] == "<md.1@example.com>" and image.get_content() == b"\x89PNG\r\n"
    # Never 8bit: a relay without 8BITMIME takes it as it is.
    assert b"Content-Transfer-Encoding: 8bit" not in raw
    assert all(b < 128 for b in raw)


def test_html_alone_is_alternative_with_the_text_first() -> None:
    raw = sent(
        Outgoing(
            kind="acknowledgement",
            to=("a@example.org",),
            subject="S",
            text="Hello\n",
            html="<p>Hello</p>",
        )
    )
    message = parse(raw)
    assert message.get_content_type() == "multipart/alternative"
    plain, html = message.iter_parts()
    assert plain.get_content_type() == "text/plain" and html.get_content_type() == "text/html"


def test_the_text_is_the_same_with_or_without_html() -> None:
    """One rendering with slot tokens stands in for two: the text must not change."""
    templates = TemplateSet(SHIPPED)
    values = context(
        reply={"text": "Restart it.\n\nThen wait.", "html": "<b>Restart</b> it."},
        message={"visible_text": "It burns.\n> not a quote"},
    )
    for name in sorted(templates.sources):
        if not name.endswith(".txt") or "/" in name:
            continue
        event, language, _ = name.split(".")
        plain = render_event(templates, event, [language], values)
        both = render_event(templates, event, [language], values, layout=True)
        assert (both.subject, both.text) == (plain.subject, plain.text), name


def test_a_template_that_tests_a_slot_sees_the_real_value(tmp_path: Path) -> None:
    (tmp_path / "reply.en.txt").write_text(
        "{% if reply.text|length > 30 %}long{% else %}short{% endif %}: {{ reply.text }}\n"
    )
    values = context(reply={"text": "Fine.", "html": "<i>Fine.</i>"})
    rendered = render_event(TemplateSet(tmp_path), "reply", ["en"], values, layout=True)
    assert rendered.text == "short: Fine.\n"
    assert rendered.html is not None and "short: <div><i>Fine.</i></div>" in rendered.html
