"""Raw bytes -> ParsedMail: decoded headers, bodies and attachments, defects kept as data.

mail-parser does the MIME parsing; where it fails, the stdlib email package
takes over. Decoding is forgiving (unknown charsets, raw 8-bit headers,
broken encodings) because a help desk must read what customers send; what
cannot be read at all raises ``Quarantined`` with the reason.
"""

from __future__ import annotations

import email
import email.parser
import email.policy
import hashlib
import logging
import re
from datetime import UTC, datetime
from email.header import Header
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime

from maildesk.charsets import decode_bytes, decode_header_value, guess_8bit, one_line
from maildesk.errors import Quarantined
from maildesk.htmltext import sanitize_html
from maildesk.mail import Address, ParsedMail, Part
from maildesk.parts import Body, Limits, body_charset, flat_text, raw_payload, safe_filename
from maildesk.skeleton import skeleton

_MSGID = re.compile(r"<[^<>\s]+>")


def parse_mail(raw: bytes, limits: Limits | None = None) -> ParsedMail:
    """Parse one message. Raises ``Quarantined`` for input that is not a mail at all."""
    limits = limits or Limits()
    if not raw.strip():
        raise Quarantined("empty message")
    # A UTF-8 byte-order mark would hide the first header; the raw bytes keep it.
    # A large mail is parsed without its long base64 runs (skeleton.py).
    skeletal, blocks = skeleton(raw.removeprefix(b"\xef\xbb\xbf"))
    message, defects = _message(skeletal)
    if not _looks_like_mail(message):
        raise Quarantined("no mail headers found (not an RFC 5322 message)")
    fallback = body_charset(message)
    headers = tuple(
        (name.lower(), decode_header_value(value, fallback)) for name, value in message.items()
    )
    message_id = first_message_id(message.get("Message-ID"))
    body = Body(limits, fallback, blocks)
    if TOO_DEEP in defects:
        # Only the headers were parsed: the text is the body without its MIME lines.
        body.texts.append(flat_text(raw_payload(message) or "", fallback))
    else:
        body.walk(message)
    text = body.text()
    html = body.html()
    return ParsedMail(
        raw=raw,
        dedupe_key=dedupe_key(raw, message_id, message),
        message_id=message_id,
        subject=_shorten(one_line(decode_header_value(message.get("Subject", ""), fallback))),
        sender=next(iter(addresses(message, "From", fallback)), None),
        to=addresses(message, "To", fallback),
        cc=addresses(message, "Cc", fallback),
        reply_to=addresses(message, "Reply-To", fallback),
        date=_date(message.get("Date")),
        in_reply_to=first_message_id(message.get("In-Reply-To")),
        references=message_ids(message.get("References")),
        headers=headers,
        text=text,
        html=sanitize_html(html) if html else None,
        parts=tuple(body.parts),
        content_type=message.get_content_type(),
        defects=tuple(defects),
        notes=tuple(body.notes),
        report_type=str(message.get_param("report-type") or "").lower()
        if message.get_content_type() == "multipart/report"
        else "",
    )


def _message(raw: bytes) -> tuple[Message, list[str]]:
    """The stdlib parser; mail-parser to name the defects of mail that has any.

    mail-parser's full parse decodes every part (which Body does again) and was a
    tenth of the cost of ingesting a clean mail, for an empty list of defects.
    """
    try:
        message = email.message_from_bytes(raw, policy=email.policy.compat32)
        if not any(part.defects for part in message.walk()):
            return message, []
    except RecursionError:
        # MIME nested hundreds deep: the stdlib parser recurses per level. The
        # headers are enough to thread the mail; parts.Body makes a best-effort text.
        headers = email.parser.BytesParser(policy=email.policy.compat32)
        message = headers.parsebytes(raw, headersonly=True)
        return message, [TOO_DEEP]
    try:
        import mailparser

        # mail-parser logs every part type it does not know; that is not news.
        logging.getLogger("mailparser").setLevel(logging.CRITICAL)
        parsed = mailparser.parse_from_bytes(raw)
        defects = [
            str(d.get("defect", d)) if isinstance(d, dict) else str(d) for d in parsed.defects
        ]
        return parsed.message, [_defect_text(d) for d in defects]
    except Exception as exc:  # mail-parser raises many kinds; the stdlib parser never does
        return message, [f"mail-parser failed ({type(exc).__name__}); parsed with the stdlib"]


TOO_DEEP = "MIME nesting too deep to parse; the text is a best effort"
MAX_SUBJECT = 998  # RFC 5322's line limit; our replies fold it into their Subject


def _shorten(subject: str) -> str:
    """A subject of 200 KB (broken mail) would cost every reply seconds of header folding."""
    return subject if len(subject) <= MAX_SUBJECT else subject[: MAX_SUBJECT - 1] + "…"


def _defect_text(defect: str) -> str:
    return defect.strip()[:200]


def _looks_like_mail(message: Message) -> bool:
    keys = {k.lower() for k in message}
    return bool(
        keys
        & {
            "from",
            "to",
            "subject",
            "message-id",
            "date",
            "received",
            "sender",
            "content-type",
            "mime-version",
        }
    )


def addresses(message: Message, name: str, fallback: str | None) -> tuple[Address, ...]:
    values = message.get_all(name) or []
    found = []
    try:
        # Raw 8-bit values come as Header objects; decode them before splitting.
        pairs = getaddresses(
            [decode_header_value(v, fallback) if isinstance(v, Header) else str(v) for v in values]
        )
    except Exception:
        return ()
    for display, written in pairs:
        address = plain_address(written)
        if address is None:
            continue
        found.append(
            Address(
                address=address.lower(),
                name=one_line(decode_header_value(display, fallback)).strip('"').strip(),
            )
        )
    return tuple(found)


# One local part, one domain; none of the characters that separate, quote or
# comment addresses, no whitespace or control characters. Unicode is allowed (SMTPUTF8).
_ATOMS = r'[^\s@<>()\[\],;:\\"\x00-\x1f\x7f\ufffd]+'
_ADDRESS = re.compile(f"{_ATOMS}@{_ATOMS}")


def plain_address(value: str) -> str | None:
    """An addr-spec as written, or None. Encoded words are never decoded here:
    RFC 2047 forbids them in an address, and "=?utf-8?q?a=40b=2Cc=40d?=" would
    become two recipients of every reply."""
    value = value.strip().strip("<>")
    if any("\udc80" <= ch <= "\udcff" for ch in value):
        # Raw 8-bit bytes (SMTPUTF8 mail) kept by compat32 as surrogate escapes.
        try:
            value = value.encode("ascii", "surrogateescape").decode("utf-8")
        except UnicodeError:
            return None
    return value if _ADDRESS.fullmatch(value) else None


def first_message_id(value: object) -> str | None:
    ids = message_ids(value)
    return ids[0] if ids else None


def message_ids(value: object) -> tuple[str, ...]:
    """Every <id> in a References-like header, in order, without repeats."""
    if value is None:
        return ()
    text = decode_header_value(value)
    seen: dict[str, None] = {}
    for token in _MSGID.findall(text):
        if len(token) <= 998:
            seen.setdefault(token, None)
    if not seen and text.strip() and " " not in text.strip():
        # Some clients write the id without angle brackets.
        seen.setdefault(f"<{text.strip()}>", None)
    return tuple(seen)


def _date(value: object) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = parsedate_to_datetime(decode_header_value(value))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def dedupe_key(raw: bytes, message_id: str | None, message: Message) -> str:
    """The Message-ID; without one, a hash of what stays the same across deliveries.

    Received, Delivered-To and Return-Path differ between two mailboxes that
    got the same mail, so they are left out of the hash.
    """
    if message_id and len(message_id) <= 200:
        return message_id
    if message_id:
        return "mid-sha256:" + hashlib.sha256(message_id.encode("utf-8", "replace")).hexdigest()
    digest = hashlib.sha256()
    for name in ("From", "To", "Cc", "Subject", "Date"):
        digest.update(f"{name}:{message.get(name, '')}\n".encode("utf-8", "surrogateescape"))
    head_end = raw.find(b"\r\n\r\n")
    head_end = raw.find(b"\n\n") if head_end < 0 else head_end
    digest.update(raw[head_end:] if head_end >= 0 else raw)
    return "sha256:" + digest.hexdigest()


def content_hash(raw: bytes) -> str:
    """What two deliveries of one mail share: its body, whatever trace headers
    (Received, Delivered-To, X-Spam-*) each mailbox added. Line ends and trailing
    blanks are normalised: one MTA's CRLF is another's LF."""
    text = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    head_end = text.find(b"\n\n")
    body = text[head_end:] if head_end >= 0 else text
    lines = body.rstrip().split(b"\n")
    return hashlib.sha256(b"\n".join(line.rstrip() for line in lines)).hexdigest()


def reused_key(dedupe_key: str, digest: str) -> str:
    """The key of a different mail (its content_hash) that reuses a stored mail's
    Message-ID."""
    return f"{dedupe_key[:200]}~{digest[:32]}"


__all__ = [
    "Address",
    "Limits",
    "ParsedMail",
    "Part",
    "decode_bytes",
    "guess_8bit",
    "parse_mail",
    "safe_filename",
]
