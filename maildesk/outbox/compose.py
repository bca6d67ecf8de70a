"""Outgoing mail as bytes: headers that thread, identify us, and cannot be injected.

Every value that reaches a header goes through ``one_line``: customer text
(a subject, a display name) with CR/LF in it can never add a header.
"""

from __future__ import annotations

import contextlib
import uuid
from datetime import datetime
from email import quoprimime
from email.header import Header
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr

from maildesk.charsets import one_line
from maildesk.mail import Outgoing


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
    """Headers and a text (and HTML) body are written here; the email package builds
    only a body with attachments (its header registry cost more than all of the rest
    of an acknowledgement)."""
    parts = mail.attachments or (mail.inline and mail.html)
    body = _with_parts(mail) if parts else _text_body(mail.text, mail.html)
    headers = [
        ("From", formataddr((_text(mail.from_name), one_line(sender)), charset="utf-8")),
        ("To", _addresses(mail.to)),
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
    lines = [
        f"{name}: {value}\r\n" if name == "To" else _header(name, value) for name, value in headers
    ]
    return "".join(lines).encode() + body


def _addresses(addresses: tuple[str, ...]) -> str:
    """Bare addresses, folded one a line when long: a non-ASCII domain as IDNA; a
    non-ASCII local part stays UTF-8 (RFC 6532; it only goes over SMTPUTF8). Never
    an encoded word: that is not an address to any client."""
    written = []
    for address in addresses:
        address = one_line(address).replace(",", "").replace(" ", "")
        local, _, domain = address.rpartition("@")
        if not domain.isascii():
            with contextlib.suppress(UnicodeError):  # left as it is: SMTPUTF8 may take it
                domain = domain.encode("idna").decode("ascii")
        written.append(f"{local}@{domain}" if local else address)
    joined = ", ".join(written)
    return joined if len(joined) <= 70 else ",\r\n ".join(written)


def _with_parts(mail: Outgoing) -> bytes:
    """multipart/mixed around the text and HTML (multipart/related with the images
    the HTML shows), then the attachments."""
    body = EmailMessage(policy=SMTP)
    body.set_content(mail.text, charset="utf-8", cte=_cte(mail.text))
    if mail.html:
        markup = _ascii(mail.html)
        body.add_alternative(markup, subtype="html", charset="utf-8", cte=_cte(markup))
        html = next(p for p in body.iter_parts() if p.get_content_type() == "text/html")
        assert isinstance(html, EmailMessage)
        for cid, filename, content_type, content in mail.inline:
            maintype, _, subtype = content_type.partition("/")
            html.add_related(
                content,
                maintype=maintype,
                subtype=subtype,
                cid=f"<{one_line(cid)}>",
                filename=_text(filename),
                disposition="inline",
            )
    for filename, content_type, content in mail.attachments:
        maintype, _, subtype = content_type.partition("/")
        if content_type == "message/rfc822" or not subtype:
            maintype, subtype = "application", "octet-stream"
        body.add_attachment(content, maintype=maintype, subtype=subtype, filename=_text(filename))
    return body.as_bytes()


def _ascii(html: str) -> str:
    """HTML with its non-ASCII letters as character references (&#1055;): 7bit, not
    quoted-printable, which cost more than rendering the whole mail."""
    return html if html.isascii() else html.encode("ascii", "xmlcharrefreplace").decode()


def _cte(content: str) -> str:
    """Never 8bit (not every relay speaks 8BITMIME), as _text_part."""
    lines = content.splitlines()
    plain = content.isascii() and all(len(line) <= 998 for line in lines)
    return "7bit" if plain else "quoted-printable"


def _text_body(text: str, html: str | None) -> bytes:
    """MIME-Version on: text/plain, or multipart/alternative with the HTML."""
    if not html:
        return b"MIME-Version: 1.0\r\n" + _text_part("plain", text)
    boundary = f"=_md_{uuid.uuid4().hex}"
    return b"".join(
        [
            b"MIME-Version: 1.0\r\n",
            f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n'.encode(),
            f"--{boundary}\r\n".encode(),
            _text_part("plain", text),
            # The line break before a boundary belongs to the boundary, not to the part.
            f"\r\n--{boundary}\r\n".encode(),
            _text_part("html", _ascii(html)),
            f"\r\n--{boundary}--\r\n".encode(),
        ]
    )


def _text_part(subtype: str, content: str) -> bytes:
    """A UTF-8 text part that any relay takes: 7bit when it is plain ASCII in short
    lines, else quoted-printable (never 8bit: not every relay speaks 8BITMIME)."""
    lines = content.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if content.isascii() and all(len(line) <= 998 for line in lines):
        encoding, data = "7bit", "".join(f"{line}\r\n" for line in lines)
    else:
        raw = "".join(f"{line}\n" for line in lines).encode("utf-8").decode("latin-1")
        encoding, data = "quoted-printable", quoprimime.body_encode(raw, eol="\r\n")
        if not data.endswith("\r\n"):
            data += "\r\n"
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
        f"Content-Transfer-Encoding: {encoding}\r\n\r\n{data}"
    ).encode("ascii")


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
