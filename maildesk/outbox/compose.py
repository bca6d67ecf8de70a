"""Outgoing mail as bytes: headers that thread, identify us, and cannot be injected.

Every value that reaches a header goes through ``one_line``: customer text
(a subject, a display name) with CR/LF in it can never add a header.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address as HeaderAddress
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

from maildesk.charsets import one_line


@dataclass(frozen=True)
class Outgoing:
    """What to send; ``compose`` turns it into a message."""

    kind: str  # acknowledgement | notification | ...
    to: tuple[str, ...]
    subject: str
    text: str
    html: str | None = None
    from_name: str = ""
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    automatic: bool = True  # Auto-Submitted: auto-replied and our X-Loop
    attachments: tuple[tuple[str, str, bytes], ...] = ()  # (file name, content type, bytes)


def new_message_id(domain: str, ticket_id: int | None) -> str:
    """Ours, on our domain, fixed when the outbox row is written."""
    prefix = f"md.{ticket_id}." if ticket_id is not None else "md."
    return f"<{prefix}{uuid.uuid4().hex}@{domain}>"


def compose(
    mail: Outgoing,
    *,
    message_id: str,
    sender: str,
    reply_to: str,
    loop_token: str,
    date: datetime,
) -> bytes:
    message = EmailMessage(policy=SMTP)
    local, _, domain = sender.partition("@")
    message["From"] = HeaderAddress(
        display_name=_text(mail.from_name), username=local, domain=domain
    )
    message["To"] = ", ".join(one_line(a) for a in mail.to)
    message["Subject"] = _text(mail.subject)
    message["Date"] = format_datetime(date)
    message["Message-ID"] = message_id
    message["Reply-To"] = one_line(reply_to)
    if mail.in_reply_to:
        message["In-Reply-To"] = one_line(mail.in_reply_to)
    if mail.references:
        message["References"] = " ".join(one_line(r) for r in mail.references[-20:])
    if mail.automatic:
        message["Auto-Submitted"] = "auto-replied"
        message["X-Loop"] = one_line(loop_token)
        # Ask Exchange and friends not to answer our automatic mail with theirs.
        message["X-Auto-Response-Suppress"] = "All"
        message["Precedence"] = "auto_reply"
    message.set_content(mail.text, charset="utf-8")
    if mail.html:
        message.add_alternative(mail.html, subtype="html", charset="utf-8")
    for filename, content_type, content in mail.attachments:
        maintype, _, subtype = content_type.partition("/")
        if content_type == "message/rfc822" or not subtype:
            maintype, subtype = "application", "octet-stream"
        message.add_attachment(
            content, maintype=maintype, subtype=subtype, filename=_text(filename)
        )
    return message.as_bytes()


def _text(value: str) -> str:
    """Free text for a header: one line, and no "=?" that the email package would take
    for the start of an encoded word and decode again (a customer's subject with a
    broken one would make the acknowledgement impossible to write)."""
    return one_line(value).replace("=?", "= ?")
