"""Outgoing mail as bytes: headers that thread, identify us, and cannot be injected.

Every value that reaches a header goes through ``one_line``: customer text
(a subject, a display name) with CR/LF in it can never add a header.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from email.header import Header
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr

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
    """The top-level headers are written here; the email package builds only the MIME
    body (its header registry cost more than all of the rest of an acknowledgement)."""
    body = EmailMessage(policy=SMTP)
    body.set_content(mail.text, charset="utf-8")
    if mail.html:
        body.add_alternative(mail.html, subtype="html", charset="utf-8")
    for filename, content_type, content in mail.attachments:
        maintype, _, subtype = content_type.partition("/")
        if content_type == "message/rfc822" or not subtype:
            maintype, subtype = "application", "octet-stream"
        body.add_attachment(content, maintype=maintype, subtype=subtype, filename=_text(filename))
    headers = [
        ("From", formataddr((_text(mail.from_name), one_line(sender)), charset="utf-8")),
        ("To", ", ".join(one_line(a) for a in mail.to)),
        ("Subject", _text(mail.subject)),
        ("Date", format_datetime(date)),
        ("Message-ID", one_line(message_id)),
        ("Reply-To", one_line(reply_to)),
    ]
    if mail.in_reply_to:
        headers.append(("In-Reply-To", one_line(mail.in_reply_to)))
    if mail.references:
        headers.append(("References", " ".join(one_line(r) for r in mail.references[-20:])))
    if mail.automatic:
        headers += [
            ("Auto-Submitted", "auto-replied"),
            ("X-Loop", one_line(loop_token)),
            # Ask Exchange and friends not to answer our automatic mail with theirs.
            ("X-Auto-Response-Suppress", "All"),
            ("Precedence", "auto_reply"),
        ]
    return "".join(_header(name, value) for name, value in headers).encode() + body.as_bytes()


def _header(name: str, value: str) -> str:
    """One header line, folded at 78 characters, non-ASCII as RFC 2047 encoded words."""
    if value.isascii() and len(name) + len(value) <= 76:
        return f"{name}: {value}\r\n"
    charset = "us-ascii" if value.isascii() else "utf-8"
    folded = Header(value, charset, header_name=name).encode(linesep="\r\n")
    return f"{name}: {folded}\r\n"


def _text(value: str) -> str:
    """Free text for a header: one line, and no "=?" that a mail client would take for
    the start of an encoded word (a customer's subject with a broken one)."""
    return one_line(value).replace("=?", "= ?")
