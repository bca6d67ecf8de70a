"""The HTML mails as a mail client shows them: opened in headless Chromium, with no
console error, no network request, the pasted screenshot drawn, hostile text inert."""

from __future__ import annotations

import base64
import email
import email.policy
import re
import shutil
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select

from maildesk.clock import FixedClock
from maildesk.intake import Intake
from maildesk.starter import starter_dir
from maildesk.store.db import make_engine, session_factory
from maildesk.store.models import OutboxMessage
from maildesk.store.schema import upgrade
from tests.support.browser import open_page, png_size
from tests.support.htmlmail import outlook_reply
from tests.support.mailout import settings_for
from tests.support.pipeline import T0, mail

# The test's own probe, put before the mail: counts the images drawn, and notes any
# script of the mail's that ran (alert, or an onerror handler calling it).
PROBE = (
    "<script>window.alert = () => { document.documentElement.dataset.alerted = 'yes'; };"
    "addEventListener('load', () => { document.documentElement.dataset.drawn ="
    " [...document.images].filter(i => i.complete && i.naturalWidth > 0).length; });"
    "</script>"
)


def mails(
    tmp_path: Path, customer: str, subject: str = "Printer on fire", *, kb: bool = False
) -> dict[str, EmailMessage]:
    """An acknowledgement and a relayed Outlook reply, as the desk queued them; ``kb``:
    with the shipped knowledge base (the acknowledgement suggests articles)."""
    if kb:
        shutil.copytree(starter_dir("kb"), tmp_path / "kb")
    engine = make_engine(f"sqlite:///{tmp_path / 'maildesk.db'}")
    upgrade(engine)
    settings = settings_for(tmp_path, str(engine.url), {"host": "127.0.0.1", "port": 25})
    tier = settings.tiers[0].model_copy(update={"agents": ("bob@example.com",)})
    settings = settings.model_copy(update={"tiers": (tier,)})
    intake = Intake(settings, session_factory(engine), FixedClock(T0))
    body = "My printer is on fire: it does not print and shows an error." if kb else "It burns."
    n = intake.ingest(mail(sender=customer, subject=subject, body=body), "test").ticket_id
    assert n is not None
    intake.ingest(outlook_reply(n), "test")
    with session_factory(engine)() as session:
        rows = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        found = {
            row.kind: email.message_from_bytes(row.raw, policy=email.policy.default)
            for row in rows
            if row.kind in ("acknowledgement", "reply")
        }
    engine.dispose()
    return found  # type: ignore[return-value]


def as_page(message: EmailMessage, path: Path) -> Path:
    """The HTML part with its cid: images as data: URLs, as a mail client shows it."""
    html = message.get_body(("html",))
    assert html is not None
    markup = str(html.get_content())
    for part in message.walk():
        cid = part["Content-ID"]
        if cid:
            data = base64.b64encode(part.get_payload(decode=True)).decode()
            uri = f"data:{part.get_content_type()};base64,{data}"
            markup = markup.replace(f"cid:{cid.strip('<>')}", uri)
    path.write_text(markup.replace("<head>", "<head>" + PROBE, 1), encoding="utf-8")
    return path


def clean_run(opened_stderr: str) -> None:
    assert "Uncaught" not in opened_stderr and "CONSOLE" not in opened_stderr


def test_acknowledgement_and_relayed_reply_render_clean(tmp_path: Path) -> None:
    found = mails(tmp_path, "Alice Example <alice@example.org>")
    ack = open_page(
        as_page(found["acknowledgement"], tmp_path / "ack.html"),
        tmp_path / "p1",
        shot=tmp_path / "ack.png",
        size="700,640",
    )
    assert ack.requests == ()
    clean_run(ack.stderr)
    assert "Hello Alice Example," in ack.dom and 'data-drawn="0"' in ack.dom
    assert png_size(tmp_path / "ack.png") == (700, 640)
    assert (tmp_path / "ack.png").stat().st_size > 15_000  # text and a card, not a blank page

    reply = open_page(
        as_page(found["reply"], tmp_path / "reply.html"),
        tmp_path / "p2",
        shot=tmp_path / "reply.png",
        size="700,640",
    )
    assert reply.requests == ()
    clean_run(reply.stderr)
    assert 'data-drawn="1"' in reply.dom  # Bob's screenshot, drawn
    assert "with the blue button" in reply.dom and "It burns" not in reply.dom
    assert png_size(tmp_path / "reply.png") == (700, 640)


@pytest.mark.parametrize(
    ("name", "subject"),
    [
        ("<script>alert(1)</script>", "</style><img src=x onerror=alert(2)>"),
        ('"><svg onload=alert(3)>', "</title><script>alert(4)</script>"),
        ("&lt;b&gt;Eve", "{{ 7*7 }} <iframe src=http://evil.example/>"),
    ],
)
def test_hostile_names_and_subjects_do_nothing_in_the_browser(
    tmp_path: Path, name: str, subject: str
) -> None:
    found = mails(tmp_path, f'"{name}" <eve@example.org>', subject)
    opened = open_page(as_page(found["acknowledgement"], tmp_path / "ack.html"), tmp_path / "p")
    assert opened.requests == ()
    assert "data-alerted" not in opened.dom
    assert 'data-drawn="0"' in opened.dom
    body = opened.dom.split("<body", 1)[1]
    assert not re.search(r"<(script|iframe|svg|img)\b", body)


def test_the_proxy_sees_a_page_that_loads_from_the_web(tmp_path: Path) -> None:
    """The control: without it, "no requests" could mean a proxy that sees nothing."""
    page = tmp_path / "remote.html"
    page.write_text('<html><body><img src="http://remote.example/pixel.gif"></body></html>')
    opened = open_page(page, tmp_path / "p")
    assert any("remote.example" in line for line in opened.requests), opened.requests
