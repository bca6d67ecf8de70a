"""A seeded mutator: real mail, broken the ways mail gets broken.

Byte-level damage (truncation, cut or doubled ranges, NUL and 0xFF bytes,
lone CR or LF) and structure-aware damage (headers without colon, folded or
doubled headers, a very long line, wrong charsets and transfer encodings,
broken MIME boundaries, deep nesting, bad encoded-words, garbage base64).
The same seed gives the same cases, so a failure names a reproducible case.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator

Mutation = Callable[[random.Random, bytes], bytes]


def _split(raw: bytes) -> tuple[bytes, bytes, bytes]:
    """(headers, separator, body); no separator if the mail has none."""
    match = re.search(rb"\r?\n\r?\n", raw)
    if match is None:
        return raw, b"", b""
    return raw[: match.start()], raw[match.start() : match.end()], raw[match.end() :]


def _spot(rng: random.Random, raw: bytes) -> int:
    return rng.randrange(len(raw) + 1)


def truncate(rng: random.Random, raw: bytes) -> bytes:
    return raw[: _spot(rng, raw)]


def cut_range(rng: random.Random, raw: bytes) -> bytes:
    start = _spot(rng, raw)
    return raw[:start] + raw[start + rng.randrange(1, 400) :]


def double_range(rng: random.Random, raw: bytes) -> bytes:
    start = _spot(rng, raw)
    piece = raw[start : start + rng.randrange(1, 2000)]
    return raw[:start] + piece * rng.randrange(2, 6) + raw[start:]


def odd_bytes(rng: random.Random, raw: bytes) -> bytes:
    data = bytearray(raw)
    for _ in range(rng.randrange(1, 30)):
        data.insert(_spot(rng, bytes(data)), rng.choice(b'\x00\xff\r\n\x1b\x7f\xfe\xc3\x80:<>"='))
    return bytes(data)


def flip_bytes(rng: random.Random, raw: bytes) -> bytes:
    data = bytearray(raw)
    for _ in range(rng.randrange(1, 50)):
        if data:
            data[rng.randrange(len(data))] = rng.randrange(256)
    return bytes(data)


def line_endings(rng: random.Random, raw: bytes) -> bytes:
    return rng.choice(
        [raw.replace(b"\r\n", b"\n"), raw.replace(b"\r\n", b"\r"), raw.replace(b"\n", b"\r\n")]
    )


def header_without_colon(rng: random.Random, raw: bytes) -> bytes:
    head, sep, body = _split(raw)
    lines = head.split(b"\n")
    n = rng.randrange(len(lines))
    lines[n] = lines[n].replace(b":", b"", 1)
    return b"\n".join(lines) + sep + body


def doubled_headers(rng: random.Random, raw: bytes) -> bytes:
    head, sep, body = _split(raw)
    extra = rng.choice(
        [
            b"From: <>",
            b"From: a@b.example, c@d.example",
            b"Message-ID: <x@y>",
            b"Subject:",
            b"Content-Type: multipart/mixed",
            b"Date: yesterday",
            b"To: undisclosed-recipients:;",
            b"Message-ID:",
            b"In-Reply-To: <<<>>>",
            b"References: " + b"<a@b> " * 2000,
        ]
    )
    return head + b"\r\n" + extra + sep + body


def long_line(rng: random.Random, raw: bytes) -> bytes:
    head, sep, body = _split(raw)
    line = bytes(rng.choice(b"abcdefgh \t=<>") for _ in range(64)) * rng.randrange(100, 3200)
    if rng.random() < 0.5:
        return head + b"\r\nX-Long: " + line + sep + body
    return head + sep + line + b"\r\n" + body


def bad_charset(rng: random.Random, raw: bytes) -> bytes:
    charset = rng.choice(
        [b"x-unknown", b"utf-7", b"koi8-r", b'""', b"utf-8\x00", b"ISO-2022-JP", b"utf-16"]
    )
    replaced = re.sub(rb"(?i)charset=\"?[^\s;\"]+\"?", b"charset=" + charset, raw, count=1)
    return (
        replaced
        if replaced != raw
        else raw.replace(b"\n\n", b"\nContent-Type: text/plain; charset=" + charset + b"\n\n", 1)
    )


def bad_transfer_encoding(rng: random.Random, raw: bytes) -> bytes:
    head, sep, body = _split(raw)
    encoding = rng.choice(
        [b"base64", b"quoted-printable", b"x-uuencode", b"7bit", b"binary", b"bogus"]
    )
    return head + b"\r\nContent-Transfer-Encoding: " + encoding + sep + body


def broken_boundary(rng: random.Random, raw: bytes) -> bytes:
    match = re.search(rb"(?i)boundary=\"?([^\s;\"]+)", raw)
    if match is None:
        head, sep, body = _split(raw)
        return head + b'\r\nContent-Type: multipart/mixed; boundary="zz"' + sep + b"--zz\r\n" + body
    boundary = match.group(1)
    choice = rng.randrange(3)
    if choice == 0:
        return raw.replace(b"--" + boundary + b"--", b"")  # never closed
    if choice == 1:
        return raw.replace(b"--" + boundary, b"--" + boundary[:-1], 1)
    return raw.replace(boundary, b"", 1)


def deep_nesting(rng: random.Random, raw: bytes) -> bytes:
    depth = rng.randrange(50, 400)
    opening = b"".join(
        b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i)
        for i in range(depth)
    )
    return (
        b"From: deep@example.org\r\nSubject: deep\r\nMIME-Version: 1.0\r\n"
        + opening
        + b"\r\ntext\r\n"
    )


def bad_encoded_words(rng: random.Random, raw: bytes) -> bytes:
    word = rng.choice(
        [
            b"=?utf-8?B?////?=",
            b"=?x-bogus?Q?abc?=",
            b"=?utf-8?Q?=FF=FE=00?=",
            b"=?utf-8?B?" + b"QUFB" * 5000 + b"?=",
            b"=??B?QQ==?=",
            b"=?utf-8?X?abc?=",
            b"=?koi8-r?B?8fLz9A?=",
        ]
    )
    header = rng.choice([b"Subject: ", b"From: ", b"To: "])
    return raw.replace(b"\n", b"\n" + header + word + b"\r\n", 1)


def garbage_base64(rng: random.Random, raw: bytes) -> bytes:
    head, sep, body = _split(raw)
    junk = bytes(rng.choice(b"ABCxyz019+/=!@#\r\n ") for _ in range(rng.randrange(10, 5000)))
    return (
        head
        + b"\r\nContent-Type: application/pdf; name=x.pdf\r\nContent-Transfer-Encoding: base64"
        + sep
        + junk
        + body
    )


MUTATIONS: list[Mutation] = [
    truncate,
    cut_range,
    double_range,
    odd_bytes,
    flip_bytes,
    line_endings,
    header_without_colon,
    doubled_headers,
    long_line,
    bad_charset,
    bad_transfer_encoding,
    broken_boundary,
    deep_nesting,
    bad_encoded_words,
    garbage_base64,
]


def mutants(seeds: list[bytes], count: int, seed: int) -> Iterator[tuple[str, bytes]]:
    """``count`` cases: (what was done, the bytes); one to three mutations each."""
    rng = random.Random(seed)
    for n in range(count):
        raw = rng.choice(seeds)
        done = []
        for _ in range(rng.choice((1, 1, 2, 3))):
            mutation = rng.choice(MUTATIONS)
            raw = mutation(rng, raw)
            done.append(mutation.__name__)
        yield f"case {n}: {'+'.join(done)}", raw
