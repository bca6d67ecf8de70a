"""The MIME tree of one message: its text, its HTML and its attachments.

Only the outermost level counts as the body; an attached message
(message/rfc822) is an attachment, not more text. Names of attachments are
made safe to write anywhere.
"""

from __future__ import annotations

import email.policy
import email.utils
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email.header import Header, decode_header
from email.message import Message

from maildesk.charsets import codec_name, decode_bytes, decode_header_value, guess_codec
from maildesk.htmltext import html_to_text
from maildesk.mail import Part
from maildesk.skeleton import Blocks

MAX_DEPTH = 50  # MIME levels walked as a tree; deeper text is still collected
MAX_PARTS = 10_000  # parts looked at below that depth


@dataclass(frozen=True)
class Limits:
    max_attachment_size: int = 25 * 1024 * 1024


def body_charset(message: Message) -> str | None:
    """The charset the message declares first; else one guessed from raw 8-bit headers."""
    for part in _safe_walk(message):
        charset = part.get_content_charset()
        if charset and codec_name(charset):
            return codec_name(charset)
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


class Body:
    """Collects the text, HTML and attachments of one message, outermost level only."""

    def __init__(self, limits: Limits, fallback: str | None, blocks: Blocks | None = None) -> None:
        self.limits = limits
        self.fallback = fallback
        self.blocks = blocks or Blocks()
        self.texts: list[str] = []
        self.htmls: list[str] = []
        self.parts: list[Part] = []
        self.notes: list[str] = []

    def walk(self, part: Message, depth: int = 0, alternative: bool = False) -> None:
        if depth > MAX_DEPTH:
            self.notes.append(f"MIME nesting deeper than {MAX_DEPTH} levels; inner text kept")
            self._deep_texts(part)
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
            inner = Body(self.limits, self.fallback, self.blocks)
            inner.walk(sub, depth + 1)
            self.htmls.extend(inner.htmls)
            self.parts.extend(inner.parts)
            self.notes.extend(inner.notes)
            if len(self.texts) == before:
                self.texts.extend(inner.texts)

    def _deep_texts(self, top: Message) -> None:
        """The text parts below the depth limit, found without recursion."""
        stack, seen = [top], 0
        while stack and seen < MAX_PARTS:
            part = stack.pop()
            seen += 1
            if part.is_multipart():  # only then: a leaf's get_payload() decodes (raw_payload)
                payload = part.get_payload()
                if isinstance(payload, list):
                    stack.extend(p for p in reversed(payload) if isinstance(p, Message))
            elif self._is_body(part, part.get_content_type()):
                text = self._text(part)
                (self.texts if part.get_content_type() == "text/plain" else self.htmls).append(text)

    @staticmethod
    def _is_body(part: Message, ctype: str) -> bool:
        return ctype in ("text/plain", "text/html") and not _is_attachment(part)

    def _decoded(self, part: Message) -> bytes | None:
        """The part's bytes, transfer encoding undone; from the raw mail where
        skeleton.py cut its base64 lines out."""
        if self.blocks:
            payload = raw_payload(part)
            if payload is not None:
                encoding = _get(part, "Content-Transfer-Encoding").strip().lower()
                if encoding == "base64":
                    found = self.blocks.decode(payload)
                    if found is not None:
                        return found
                elif self.blocks.holds(payload):
                    back = self.blocks.restore(payload.encode("utf-8", "surrogateescape"))
                    part.set_payload(back.decode("utf-8", "surrogateescape"))
        try:
            data = part.get_payload(decode=True)
        except Exception:
            return None
        return data if isinstance(data, bytes) else None

    def _text(self, part: Message) -> str:
        data = self._decoded(part)
        if not isinstance(data, bytes):
            payload = raw_payload(part)
            data = payload.encode("utf-8", "surrogateescape") if payload is not None else b""
        return decode_bytes(data, part.get_content_charset(), self.fallback).replace("\r\n", "\n")

    def _attach(self, part: Message, ctype: str) -> None:
        data = self._decoded(part) or b""
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
                content_id=_first_id(cid) if cid else None,
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
            data = self.blocks.restore(data) if self.blocks else data
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


_MIME_LINE = re.compile(r"(?im)^(--\S+|content-[\w-]+:.*|mime-version:.*)\r?$\n?")


def raw_payload(part: Message) -> str | None:
    """A leaf part's payload as the parser left it. Message.get_payload() would
    decode raw 8-bit bytes with whatever charset the part names (unicode_escape
    too): the one codec choice that must stay with charsets.py."""
    payload = getattr(part, "_payload", None)
    return payload if isinstance(payload, str) else None


def flat_text(payload: str, fallback: str | None) -> str:
    """The body of a mail whose MIME tree could not be parsed, boundary and part
    header lines removed: what a person reading the raw mail would read."""
    data = payload.encode("utf-8", "surrogateescape")
    text = decode_bytes(data, None, fallback).replace("\r\n", "\n")
    return re.sub(r"\n{3,}", "\n\n", _MIME_LINE.sub("", text)).strip() + "\n"


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
            return _filename_param(clean)
        return _filename_param(part)
    except Exception:
        return None


def _filename_param(part: Message) -> str | None:
    """Message.get_filename, but an RFC 2231 value (filename*=charset''...) is
    decoded by codec_name's rules: the stdlib would use any codec it names."""
    for name, header in (("filename", "content-disposition"), ("name", "content-type")):
        value = part.get_param(name, None, header)
        if value is None:
            continue
        if isinstance(value, tuple):
            charset, _language, text = value
            return decode_bytes(str(text).encode("raw-unicode-escape"), charset or None)
        return email.utils.unquote(str(value)).strip()
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


def _first_id(value: str) -> str | None:
    found = re.search(r"<[^<>\s]+>", value)
    return found.group(0) if found else None
