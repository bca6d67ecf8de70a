"""Raw bytes -> ParsedMail: decoded headers, bodies and attachments, defects kept as data.

mail-parser does the MIME parsing; where it fails, the stdlib email package
takes over. Decoding is forgiving (unknown charsets, raw 8-bit headers,
broken encodings) because a help desk must read what customers send; what
cannot be read at all raises ``Quarantined`` with the reason.
"""

from __future__ import annotations

import codecs
import email
import email.policy
import hashlib
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.header import Header, decode_header
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime

from maildesk.errors import Quarantined
from maildesk.htmltext import html_to_text, sanitize_html

MAX_HEADER_SCAN = 256 * 1024
_MSGID = re.compile(r"<[^<>\s]+>")


@dataclass(frozen=True)
class Address:
    address: str
    name: str = ""

    def __str__(self) -> str:
        return f"{self.name} <{self.address}>" if self.name else self.address


@dataclass(frozen=True)
class Part:
    """An attachment, an inline image or an attached message."""

    filename: str
    content_type: str
    size: int
    content: bytes | None  # None when over the size limit (the raw mail still has it)
    content_id: str | None = None
    inline: bool = False


@dataclass(frozen=True)
class ParsedMail:
    raw: bytes
    dedupe_key: str
    message_id: str | None
    subject: str
    sender: Address | None
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    reply_to: tuple[Address, ...]
    date: datetime | None
    in_reply_to: str | None
    references: tuple[str, ...]
    headers: tuple[tuple[str, str], ...]  # (lower-case name, decoded value), in order
    text: str  # the whole text body (HTML turned into text when there is no text part)
    html: str | None  # sanitized
    parts: tuple[Part, ...]
    content_type: str
    defects: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    message: Message | None = field(default=None, repr=False, compare=False)

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers if k == name), None)

    def header_all(self, name: str) -> list[str]:
        name = name.lower()
        return [v for k, v in self.headers if k == name]


@dataclass(frozen=True)
class Limits:
    max_attachment_size: int = 25 * 1024 * 1024


def parse_mail(raw: bytes, limits: Limits = Limits()) -> ParsedMail:
    """Parse one message. Raises ``Quarantined`` for input that is not a mail at all."""
    if not raw.strip():
        raise Quarantined("empty message")
    # A UTF-8 byte-order mark would hide the first header; the raw bytes keep it.
    message, defects = _message(raw.removeprefix(b"\xef\xbb\xbf"))
    if not _looks_like_mail(message):
        raise Quarantined("no mail headers found (not an RFC 5322 message)")
    fallback = _body_charset(message)
    headers = tuple(
        (name.lower(), decode_header_value(value, fallback)) for name, value in message.items()
    )
    message_id = first_message_id(message.get("Message-ID"))
    body = _Body(limits, fallback)
    body.walk(message)
    text = body.text()
    html = body.html()
    return ParsedMail(
        raw=raw,
        dedupe_key=dedupe_key(raw, message_id, message),
        message_id=message_id,
        subject=_one_line(decode_header_value(message.get("Subject", ""), fallback)),
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
        message=message,
    )


def _message(raw: bytes) -> tuple[Message, list[str]]:
    """mail-parser first; the stdlib parser where mail-parser gives up."""
    try:
        import mailparser

        # mail-parser logs every part type it does not know; that is not news.
        logging.getLogger("mailparser").setLevel(logging.CRITICAL)
        parsed = mailparser.parse_from_bytes(raw)
        message = parsed.message
        defects = [
            str(d.get("defect", d)) if isinstance(d, dict) else str(d) for d in parsed.defects
        ]
        return message, [_defect_text(d) for d in defects]
    except Exception as exc:  # mail-parser raises many kinds; the stdlib parser never does
        message = email.message_from_bytes(raw, policy=email.policy.compat32)
        return message, [f"mail-parser failed ({type(exc).__name__}); parsed with the stdlib"]


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


def _one_line(text: str) -> str:
    return " ".join(text.split())


# --- headers ---------------------------------------------------------------


def decode_bytes(data: bytes, charset: str | None, fallback: str | None = None) -> str:
    """Bytes in a declared charset; a wrong or unknown label falls back instead of failing."""
    tried: list[str] = []
    for candidate in (charset, fallback):
        for name in _variants(_codec(candidate)):
            if name in tried:
                continue
            tried.append(name)
            try:
                return data.decode(name)
            except (UnicodeDecodeError, LookupError):
                continue
        if tried and tried[0] == "iso2022_jp":
            converted = _iso2022jp_as_cp932(data)
            if converted is not None:
                return converted
    return guess_8bit(data)


def _iso2022jp_as_cp932(data: bytes) -> str | None:
    """ISO-2022-JP with Windows (NEC/IBM) characters such as ① or №, via Shift_JIS.

    Outlook labels such text ISO-2022-JP although strict decoders reject it;
    mapping each JIS pair to Shift_JIS and decoding as cp932 recovers it.
    """
    out = bytearray()
    double = False
    i = 0
    while i < len(data):
        if data[i] == 0x1B and i + 2 < len(data):
            double = data[i + 1 : i + 3] in (b"$B", b"$@")
            i += 3
            continue
        if double and i + 1 < len(data):
            j1, j2 = data[i], data[i + 1]
            s1 = (j1 + 1) // 2 + (0x70 if j1 <= 0x5E else 0xB0)
            s2 = j2 + (0x1F if j1 % 2 else 0x7E)
            if s2 >= 0x7F and j1 % 2:
                s2 += 1
            out += bytes((s1 & 0xFF, s2 & 0xFF))
            i += 2
            continue
        out.append(data[i])
        i += 1
    try:
        return bytes(out).decode("cp932")
    except UnicodeDecodeError:
        return None


# A label that fails may be a superset in practice (Japanese mail from Windows).
_SUPERSETS = {
    "iso2022_jp": ("iso2022_jp", "iso2022_jp_2", "iso2022_jp_3", "iso2022_jp_ext"),
    "shift_jis": ("shift_jis", "cp932"),
    "euc_kr": ("euc_kr", "cp949"),
    "gb2312": ("gb18030",),
    "ascii": ("ascii", "utf-8"),
}


def _variants(name: str | None) -> tuple[str, ...]:
    if name is None:
        return ()
    return _SUPERSETS.get(name, (name,))


_WORD = re.compile(r"\w+")


def guess_8bit(data: bytes) -> str:
    codec = guess_codec(data)
    return data.decode(codec, errors="replace")


def guess_codec(data: bytes) -> str:
    """Undeclared 8-bit text: UTF-8 if it is valid, else the likeliest of cp1252, cp1251, koi8-r.

    Accented letters inside ASCII words mean Latin text; whole words of
    8-bit letters mean Cyrillic, and of KOI8-R and cp1251 the one that
    gives mostly lower-case letters is right (their letter cases are swapped).
    """
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    best, best_score = "cp1252", float("-inf")
    for name in ("cp1252", "cp1251", "koi8_r"):
        text = data.decode(name, errors="replace")
        score = 0.0
        for word in _WORD.findall(text):
            high = [c for c in word if ord(c) > 127]
            if not high:
                continue
            cyrillic = all("\u0400" <= c <= "\u04ff" for c in high)
            mixed = any(c.isascii() and c.isalpha() for c in word)
            if mixed:
                score += len(high) if not cyrillic else -len(high)
            elif cyrillic:
                score += sum(1 if c.islower() else -1 for c in word[1:]) + 0.5
            else:
                score -= len(high)
        if score > best_score:
            best, best_score = name, score
    return best


_ALIASES = {
    "unicode-1-1-utf-7": "utf-7",
    "x-unknown": None,
    "unknown-8bit": None,
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "ks_c_5601-1987": "cp949",
    "iso-8859-8-i": "iso-8859-8",
    "x-mac-cyrillic": "mac-cyrillic",
}


def _codec(charset: str | None) -> str | None:
    if not charset:
        return None
    label = charset.strip().strip('"').lower()
    if label in _ALIASES:
        label = _ALIASES[label] or ""
    if not label:
        return None
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def decode_header_value(value: object, fallback: str | None = None) -> str:
    """RFC 2047 words, raw 8-bit bytes and folded lines -> one str; never raises."""
    if value is None:
        return ""
    if isinstance(value, Header):
        # compat32 wraps raw 8-bit header bytes in a Header; str() would turn them into U+FFFD.
        try:
            return _one_line(
                "".join(
                    decode_bytes(data, None if cs in (None, "unknown-8bit") else cs, fallback)
                    if isinstance(data, bytes)
                    else data
                    for data, cs in decode_header(value)
                )
            )
        except Exception:
            value = str(value)
    if not isinstance(value, str):
        value = str(value)
    # compat32 keeps raw 8-bit header bytes as surrogate escapes.
    if any("\udc80" <= ch <= "\udcff" for ch in value):
        value = decode_bytes(value.encode("ascii", "surrogateescape"), "utf-8", fallback)
    value = re.sub(r"\r?\n[ \t]+", " ", value).replace("\r", "").replace("\n", " ")
    try:
        pieces = decode_header(value)
    except Exception:
        return value
    out = []
    for index, (data, charset) in enumerate(pieces):
        if isinstance(data, str):
            out.append(data)
            continue
        text = decode_bytes(data, charset, fallback)
        # decode_header drops the space between an encoded word and plain text.
        if index and charset is None and out and not text.startswith(" ") and pieces[index - 1][1]:
            text = " " + text
        out.append(text)
    return "".join(out)


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
    for display, address in pairs:
        address = decode_header_value(address, fallback).strip().strip("<>")
        if not address or "@" not in address or any(c in address for c in "\r\n "):
            continue
        found.append(
            Address(
                address=address.lower(),
                name=_one_line(decode_header_value(display, fallback)).strip('"').strip(),
            )
        )
    return tuple(found)


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


# --- bodies ----------------------------------------------------------------


def _body_charset(message: Message) -> str | None:
    """The charset the message declares first; else one guessed from raw 8-bit headers."""
    for part in _safe_walk(message):
        charset = part.get_content_charset()
        if charset and _codec(charset):
            return _codec(charset)
    raw = b"".join(
        b
        for value in message.values()
        if isinstance(value, Header)
        for b, cs in decode_header(value)
        if isinstance(b, bytes) and cs == "unknown-8bit"
    )
    return guess_codec(raw) if raw else None


def _safe_walk(message: Message, depth: int = 0) -> Iterator[Message]:
    """Walk parts without recursing forever on absurdly deep nesting."""
    yield message
    if depth > 50 or not message.is_multipart():
        return
    payload = message.get_payload()
    if isinstance(payload, list):
        for sub in payload:
            if isinstance(sub, Message):
                yield from _safe_walk(sub, depth + 1)


class _Body:
    """Collects the text, HTML and attachments of one message, outermost level only."""

    def __init__(self, limits: Limits, fallback: str | None) -> None:
        self.limits = limits
        self.fallback = fallback
        self.texts: list[str] = []
        self.htmls: list[str] = []
        self.parts: list[Part] = []
        self.notes: list[str] = []

    def walk(self, part: Message, depth: int = 0, alternative: bool = False) -> None:
        if depth > 50:
            self.notes.append("MIME nesting deeper than 50 levels; inner parts ignored")
            return
        ctype = part.get_content_type()
        if ctype == "message/rfc822" or ctype == "message/global":
            self._attach_message(part)
            return
        if ctype == "message/delivery-status":
            self._attach_status(part)
            return
        if part.is_multipart():
            payload = part.get_payload()
            if not isinstance(payload, list):
                return
            if ctype == "multipart/alternative":
                self._alternative([p for p in payload if isinstance(p, Message)], depth)
            else:
                for sub in payload:
                    if isinstance(sub, Message):
                        self.walk(sub, depth + 1)
            return
        if self._is_body(part, ctype):
            content = self._text(part)
            (self.texts if ctype == "text/plain" else self.htmls).append(content)
            return
        self._attach(part, ctype)

    def _alternative(self, payload: list[Message], depth: int) -> None:
        """Prefer the plain-text alternative for text; keep the HTML one for HTML."""
        plain = [
            p for p in payload if isinstance(p, Message) and p.get_content_type() == "text/plain"
        ]
        others = [p for p in payload if isinstance(p, Message) and p not in plain]
        before = len(self.texts)
        for sub in plain:
            if not _is_attachment(sub):
                self.texts.append(self._text(sub))
        for sub in others:
            inner = _Body(self.limits, self.fallback)
            inner.walk(sub, depth + 1)
            self.htmls.extend(inner.htmls)
            self.parts.extend(inner.parts)
            self.notes.extend(inner.notes)
            if len(self.texts) == before:
                self.texts.extend(inner.texts)

    @staticmethod
    def _is_body(part: Message, ctype: str) -> bool:
        return ctype in ("text/plain", "text/html") and not _is_attachment(part)

    def _text(self, part: Message) -> str:
        try:
            data = part.get_payload(decode=True)
        except Exception:
            data = None
        if not isinstance(data, bytes):
            payload = part.get_payload()
            data = payload.encode("utf-8", "surrogateescape") if isinstance(payload, str) else b""
        return decode_bytes(data, part.get_content_charset(), self.fallback).replace("\r\n", "\n")

    def _attach(self, part: Message, ctype: str) -> None:
        try:
            data = part.get_payload(decode=True) or b""
        except Exception:
            data = b""
        if not isinstance(data, bytes):
            data = b""
        name = _filename(part)
        filename = safe_filename(
            decode_header_value(name, self.fallback) if name else "", ctype, len(self.parts) + 1
        )
        if ctype == "application/ms-tnef" or filename.lower() == "winmail.dat":
            self.notes.append("winmail.dat (Outlook TNEF) attached: its contents are not unpacked")
        content: bytes | None = data
        if len(data) > self.limits.max_attachment_size:
            content = None
            self.notes.append(
                f"attachment {filename} ({len(data)} bytes) is over the size limit; "
                "kept only in the raw message"
            )
        disposition = _disposition(part)
        cid = _get(part, "Content-ID")
        self.parts.append(
            Part(
                filename=filename,
                content_type=ctype,
                size=len(data),
                content=content,
                content_id=first_message_id(cid) if cid else None,
                inline=disposition == "inline" or (bool(cid) and disposition != "attachment"),
            )
        )

    def _attach_status(self, part: Message) -> None:
        """The stdlib parses a DSN's status fields as header blocks; keep them as text."""
        payload = part.get_payload()
        if isinstance(payload, list):
            blocks = [
                "\n".join(f"{k}: {decode_header_value(v)}" for k, v in block.items())
                for block in payload
                if isinstance(block, Message)
            ]
            data = "\n\n".join(blocks).encode("utf-8")
        else:
            data = payload.encode("utf-8", "surrogateescape") if isinstance(payload, str) else b""
        self.parts.append(
            Part(
                filename="delivery-status.txt",
                content_type="message/delivery-status",
                size=len(data),
                content=data,
            )
        )

    def _attach_message(self, part: Message) -> None:
        payload = part.get_payload()
        inner = payload[0] if isinstance(payload, list) and payload else None
        if isinstance(inner, Message):
            data = inner.as_bytes(policy=email.policy.compat32) if _can_flatten(inner) else b""
            subject = decode_header_value(inner.get("Subject", ""), self.fallback)
        else:
            data = payload.encode("utf-8", "surrogateescape") if isinstance(payload, str) else b""
            subject = ""
        filename = safe_filename(
            f"{subject or 'message'}.eml", "message/rfc822", len(self.parts) + 1
        )
        self.parts.append(
            Part(
                filename=filename,
                content_type="message/rfc822",
                size=len(data),
                content=data if len(data) <= self.limits.max_attachment_size else None,
            )
        )

    def text(self) -> str:
        if self.texts:
            return "\n".join(t.rstrip("\n") for t in self.texts) + "\n"
        if self.htmls:
            return html_to_text("\n".join(self.htmls))
        return ""

    def html(self) -> str | None:
        return "\n".join(self.htmls) if self.htmls else None


def _can_flatten(message: Message) -> bool:
    try:
        message.as_bytes(policy=email.policy.compat32)
        return True
    except Exception:
        return False


def _get(part: Message, name: str) -> str:
    """A header as str: compat32 hands back Header objects for 8-bit values."""
    value = part.get(name)
    return "" if value is None else str(value)


def _disposition(part: Message) -> str:
    return _get(part, "Content-Disposition").split(";")[0].strip().lower()


def _filename(part: Message) -> str | None:
    try:
        raw = [part.get(h) for h in ("Content-Disposition", "Content-Type")]
        if any(isinstance(v, Header) for v in raw):
            # Raw 8-bit parameters (name=ciële.txt): decode the header, then read the param.
            clean = Message()
            for header, value in zip(("Content-Disposition", "Content-Type"), raw, strict=True):
                if value is not None:
                    clean[header] = decode_header_value(value)
            return clean.get_filename()
        return part.get_filename()
    except Exception:
        return None


def _is_attachment(part: Message) -> bool:
    disposition = _disposition(part)
    return disposition == "attachment" or (_filename(part) is not None and disposition != "inline")


_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"|?*]')


def safe_filename(name: str, content_type: str, serial: int) -> str:
    """A name that is safe to write anywhere: no folders, no control characters."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE.sub("_", name).strip().lstrip(".").strip()
    if len(name) > 200:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 200 - len(ext) - 1] + "." + ext) if dot and len(ext) < 16 else name[:200]
    if not name or name in {".", ".."}:
        ext = {
            "message/rfc822": ".eml",
            "text/plain": ".txt",
            "text/html": ".html",
            "image/png": ".png",
            "image/jpeg": ".jpg",
            "image/gif": ".gif",
            "application/pdf": ".pdf",
        }.get(content_type, ".bin")
        name = f"attachment-{serial}{ext}"
    return name
