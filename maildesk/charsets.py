"""Text from bytes in any charset: declared, mislabelled, or not declared at all.

Mail arrives in koi8-r, windows-1251, ISO-2022-JP with Windows extensions,
raw 8-bit headers and labels Python does not know. Decoding never fails:
a wrong label falls back to a better guess, and latin-1 keeps every byte.
Codecs that are not charsets (unicode_escape, punycode, rot13, zlib...) are
never used: a label naming one is treated as no label. What comes out is
always storable: no NUL, no lone surrogate (see ``storable``).
"""

from __future__ import annotations

import codecs
import re
from email.header import Header, decode_header


def decode_bytes(data: bytes, charset: str | None, fallback: str | None = None) -> str:
    """Bytes in a declared charset; a wrong or unknown label falls back instead of failing."""
    return storable(_decode(data, charset, fallback))


def _decode(data: bytes, charset: str | None, fallback: str | None) -> str:
    tried: list[str] = []
    for candidate in (charset, fallback):
        for name in _variants(codec_name(candidate)):
            if name in tried:
                continue
            tried.append(name)
            try:
                return data.decode(name)
            except (UnicodeError, LookupError):  # punycode raises a bare UnicodeError
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


# Text codecs in Python's sense that no mail charset names: they turn "\\x00" or
# "\\ud800" in plain ASCII into characters no database takes, or are not charsets.
NOT_CHARSETS = frozenset(
    {
        "unicode-escape",
        "raw-unicode-escape",
        "punycode",
        "idna",
        "undefined",
        "charmap",
        "palmos",
        "unicode-internal",
        "mbcs",
        "oem",
    }
)


def codec_name(charset: str | None) -> str | None:
    """Python's codec for a mail charset label; None for no label, an unknown one,
    or one that names a codec that is not a charset (see NOT_CHARSETS)."""
    if not charset:
        return None
    label = charset.strip().strip('"').lower()
    if label in _ALIASES:
        label = _ALIASES[label] or ""
    if not label:
        return None
    try:
        info = codecs.lookup(label)
    except (LookupError, ValueError):  # ValueError: a NUL byte in the label
        return None
    if not getattr(info, "_is_text_encoding", True) or info.name in NOT_CHARSETS:
        return None
    return info.name


def decode_header_value(value: object, fallback: str | None = None) -> str:
    """RFC 2047 words, raw 8-bit bytes and folded lines -> one storable str; never raises."""
    return storable(_decode_header(value, fallback))


def _decode_header(value: object, fallback: str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, Header):
        # compat32 wraps raw 8-bit header bytes in a Header; str() would turn them into U+FFFD.
        try:
            return one_line(
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


_SURROGATE = re.compile("[\ud800-\udfff]")


def storable(text: str) -> str:
    """Text every database takes alike: NUL dropped (PostgreSQL refuses it in text,
    SQLite keeps it), a lone surrogate as U+FFFD (no encoder takes it). The raw
    bytes of the mail keep both."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    return _SURROGATE.sub("\ufffd", text) if _SURROGATE.search(text) else text


def one_line(text: str) -> str:
    """Runs of whitespace (CR and LF too) as one space; a lone surrogate (an
    undecodable byte the email package kept) as U+FFFD, since no encoder takes it."""
    return storable(" ".join(text.split()))
