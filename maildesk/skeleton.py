"""Large mail parsed without its big base64 blocks: memory that does not grow with the mail.

The stdlib parser turns a 25 MB mail into a 25 MB str and a list of its
340,000 lines (about 190 MB at the peak). Most of a large mail is one or two
base64 attachments, so before parsing each long run of whole base64 lines is
cut out of the bytes and a one-line token put in its place; the parser sees
a mail of a few KB. parts.Body decodes a part whose payload holds a token
straight from the raw bytes (a memoryview, no copy).
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from dataclasses import dataclass, field

LARGE = 256 * 1024  # mail below this is parsed whole: nothing to gain
# A line of whole base64 quads (decodable alone); a run of at least MIN_LINES of them
# (about 19 KB) is cut out. One line at a time: a regex for the whole run would
# keep a backtracking stack as large as the mail.
_LINE = re.compile(rb"^(?:[A-Za-z0-9+/]{4}){10,249}\r?\n", re.MULTILINE)
MIN_LINES = 256


def _runs(raw: bytes) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    start = end = lines = 0
    for found in _LINE.finditer(raw):
        if found.start() != end or not lines:
            if lines >= MIN_LINES:
                runs.append((start, end))
            start, lines = found.start(), 0
        end = found.end()
        lines += 1
    if lines >= MIN_LINES:
        runs.append((start, end))
    return runs


@dataclass
class Blocks:
    """Token -> the base64 lines it stands for, in the raw mail."""

    raw: bytes = b""
    spans: dict[str, tuple[int, int]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.spans)

    def holds(self, payload: str) -> bool:
        return any(token in payload for token in self.spans)

    def decode(self, payload: str) -> bytes | None:
        """A base64 payload with tokens in it, decoded; None if it holds none."""
        if not self.holds(payload):
            return None
        view = memoryview(self.raw)
        out: list[bytes] = []
        for line in payload.splitlines():
            span = self.spans.get(line.strip())
            try:
                if span is not None:
                    out.append(binascii.a2b_base64(view[span[0] : span[1]]))
                elif line.strip():
                    out.append(binascii.a2b_base64(line.encode("ascii", "replace")))
            except binascii.Error:
                continue  # as the stdlib would: a broken line is dropped, not fatal
        return b"".join(out)

    def restore(self, data: bytes) -> bytes:
        """Bytes flattened from a skeleton part (an attached message) with the lines back."""
        for token, (start, end) in self.spans.items():
            if token.encode() in data:
                data = data.replace(token.encode(), self.raw[start:end].rstrip(b"\r\n"))
        return data


def skeleton(raw: bytes) -> tuple[bytes, Blocks]:
    """The mail with each long base64 run replaced by a token line, and the runs."""
    if len(raw) < LARGE:
        return raw, Blocks()
    blocks = Blocks(raw)
    nonce = base64.b32encode(os.urandom(5)).decode().lower()  # 8 characters
    pieces: list[bytes] = []
    last = 0
    for start, end in _runs(raw)[:9999]:
        token = f"mdsk{nonce}{len(blocks.spans):04d}"  # 16 characters: 4 whole quads
        blocks.spans[token] = (start, end)
        newline = b"\r\n" if raw[end - 2 : end] == b"\r\n" else b"\n"
        pieces += [raw[last:start], token.encode(), newline]
        last = end
    if not blocks:
        return raw, blocks
    pieces.append(raw[last:])
    return b"".join(pieces), blocks
