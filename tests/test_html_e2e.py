"""HTML mail end to end, real servers: an agent's Outlook reply with a pasted screenshot
reaches the customer with the screenshot and none of the history (Dovecot in, SMTP out);
a customer's HTML-only mail reaches the agents sanitized, with its photo and sizes."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import Engine

from maildesk.clock import FixedClock
from maildesk.intake import Intake
from maildesk.outbox.sender import Sender
from maildesk.store.db import session_factory
from tests.support.htmlmail import html_only_customer_mail, outlook_reply, png
from tests.support.mailout import settings_for
from tests.support.pipeline import T0, mail
from tests.support.sinkdesk import imap_daemon
from tests.support.smtpsink import Sink


def parsed(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]


def html_of(message: EmailMessage) -> str:
    part = message.get_body(("html",))
    assert part is not None, "no HTML part"
    return str(part.get_content())


def text_of(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None, "no text part"
    return str(part.get_content())


def images_of(message: EmailMessage) -> dict[str, bytes]:
    return {
        str(p["Content-ID"]).strip("<>"): bytes(p.get_content())
        for p in message.walk()
        if p.get_content_type().startswith("image/")
    }


def check_relayed(relayed: EmailMessage) -> None:
    """The customer's copy of Bob's Outlook reply: his words and formatting, his
    screenshot under a Content-ID of ours, no history, no Outlook internals."""
    html = html_of(relayed)
    assert "<b>with the blue button</b>" in html
    assert 'href="https://help.example.com/printer"' in html
    for gone in ("It burns", "From:", "Sent:", "border-top:solid #E1E1E1", "WordSection1"):
        assert gone not in html, gone
    [(cid, content)] = images_of(relayed).items()  # the screenshot; the quoted logo stays behind
    assert content == png() and cid.endswith("@example.com") and "01DB4A2C" not in cid
    assert f'src="cid:{cid}"' in html
    text = text_of(relayed)
    assert text.startswith("Hello Alice,") and "blue button" in text and "It burns" not in text
    assert "01DB4A2C" not in relayed.as_string()
    related = next(p for p in relayed.walk() if p.get_content_type() == "multipart/related")
    assert [p.get_content_type() for p in related.iter_parts()] == ["text/html", "image/png"]


@pytest.fixture
def desk(engine: Engine, db_url: str, tmp_path: Path, smtp_sink: Sink):  # type: ignore[no-untyped-def]
    settings = settings_for(
        tmp_path, db_url, {"host": "127.0.0.1", "port": smtp_sink.port, "security": "none"}
    )
    tier = settings.tiers[0].model_copy(update={"agents": ("bob@example.com", "carol@example.com")})
    settings = settings.model_copy(update={"tiers": (tier,)})
    clock = FixedClock(T0)
    return Intake(settings, session_factory(engine), clock), Sender(
        settings, session_factory(engine), clock
    )


def taken(sink: Sink, to: str) -> list[EmailMessage]:
    found = [parsed(m.data) for m in sink.messages if to in m.rcpt_tos]
    sink.messages[:] = [m for m in sink.messages if to not in m.rcpt_tos]
    return found


def test_an_outlook_reply_with_a_screenshot_reaches_the_customer(desk, smtp_sink: Sink) -> None:  # type: ignore[no-untyped-def]
    intake, sender = desk
    n = intake.ingest(mail(sender="Alice <alice@example.org>"), "test").ticket_id
    sender.deliver_due()
    smtp_sink.messages.clear()
    intake.ingest(outlook_reply(n, commands="#status pending\n"), "test")
    sender.deliver_due()
    [relayed] = taken(smtp_sink, "alice@example.org")
    check_relayed(relayed)
    assert "#status" not in html_of(relayed) and "#status" not in text_of(relayed)
    # The colleague's copy shows the same formatted answer.
    [copy] = taken(smtp_sink, "carol@example.com")
    assert "<b>with the blue button</b>" in html_of(copy) and len(images_of(copy)) == 1


def test_a_customers_html_mail_reaches_the_agents_sanitized(desk, smtp_sink: Sink) -> None:  # type: ignore[no-untyped-def]
    intake, sender = desk
    outcome = intake.ingest(html_only_customer_mail(), "test")
    assert outcome.new_ticket
    sender.deliver_due()
    [note] = taken(smtp_sink, "bob@example.com")
    html = html_of(note)
    assert "<b>is on fire</b>" in html
    assert "<script" not in html and "tracker.example" not in html
    [(cid, content)] = images_of(note).items()
    assert content == png(60, 40, (240, 140, 0)) and f'src="cid:{cid}"' in html
    text = text_of(note)
    assert "the printer is on fire:" in text and "invoice.pdf (24 KB)" in text
    assert "invoice.pdf (24 KB)" in html
    # The customer's acknowledgement: text and HTML from the same template.
    [ack] = taken(smtp_sink, "alice@example.org")
    assert ack.get_content_type() == "multipart/alternative"
    assert "registered as ticket" in text_of(ack) and "registered as ticket" in html_of(ack)


def test_text_only_desks_send_text(
    engine: Engine, db_url: str, tmp_path: Path, smtp_sink: Sink
) -> None:
    settings = settings_for(
        tmp_path, db_url, {"host": "127.0.0.1", "port": smtp_sink.port, "security": "none"}
    )
    outbox = settings.outbox.model_copy(update={"html": False})
    tier = settings.tiers[0].model_copy(update={"agents": ("bob@example.com",)})
    settings = settings.model_copy(update={"outbox": outbox, "tiers": (tier,)})
    clock = FixedClock(T0)
    intake = Intake(settings, session_factory(engine), clock)
    sender = Sender(settings, session_factory(engine), clock)
    n = intake.ingest(mail(sender="Alice <alice@example.org>"), "test").ticket_id
    intake.ingest(outlook_reply(n), "test")
    sender.deliver_due()
    sent = [parsed(m.data) for m in smtp_sink.messages]
    assert sent and all(m.get_content_type() == "text/plain" for m in sent)


def test_outlook_screenshot_through_dovecot_and_smtp(
    engine: Engine,
    db_url: str,
    tmp_path: Path,
    smtp_sink: Sink,
    dovecot,  # type: ignore[no-untyped-def]
    imap_account,
) -> None:
    """The issue's own case on real servers: Alice writes in, Bob answers the
    notification from Outlook with a pasted screenshot, Alice gets it."""
    base = settings_for(
        tmp_path, db_url, {"host": "127.0.0.1", "port": smtp_sink.port, "security": "none"}
    )
    tier = base.tiers[0].model_copy(update={"agents": ("bob@example.com",)})
    deliver = imap_daemon(base.model_copy(update={"tiers": (tier,)}), engine, dovecot, imap_account)

    deliver(mail(sender="Alice <alice@example.org>"))
    [ack] = taken(smtp_sink, "alice@example.org")
    n = int(ack["Subject"].split()[0].strip("[#]"))
    [notification] = taken(smtp_sink, "bob@example.com")
    assert "It burns." in html_of(notification)
    reply = outlook_reply(n).replace(
        b"Message-ID:", f"In-Reply-To: {notification['Message-ID']}\r\nMessage-ID:".encode(), 1
    )
    deliver(reply)
    [relayed] = taken(smtp_sink, "alice@example.org")
    check_relayed(relayed)
    assert relayed["In-Reply-To"] == "<m1@example.org>"
