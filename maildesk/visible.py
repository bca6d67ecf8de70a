"""The new text of a reply: quoted history, quote headers and signatures removed.

The full text is always stored as well; this is what agents and customers
are shown and what gets relayed. It works line by line, looking for the
first line where quoted history begins:

- a separator such as "-----Original Message-----" (many languages);
- a header block: "From: …" followed by "Sent:/Date:/To:/Subject:" lines
  (Outlook and friends, many languages, optionally *bold*);
- an attribution line such as "On … wrote:", "Am … schrieb …:",
  "Le … a écrit :", "… написал:", possibly wrapped over up to three lines;
- "> " quoting, wherever it stands (bottom posts keep their own text).

Then trailing signatures go: a "-- " line and everything below it, and
"Sent from my iPhone"-style lines.
"""

from __future__ import annotations

import hashlib
import re

_MAX_LINE = 4000  # longer lines are never headers; keeps the regexes linear

# "-----Original Message-----", "---------- Forwarded message ---------", …
_SEPARATOR = re.compile(
    r"^\s*[-_=*]{2,}\s*("
    r"original message|original|forwarded message|weitergeleitete nachricht|"
    r"ursprüngliche nachricht|mensaje original|message d'origine|message original|"
    r"messaggio originale|oorspronkelijk bericht|oprindelig besked|opprinnelig melding|"
    r"ursprungligt meddelande|alkuperäinen viesti|mensagem original|wiadomość oryginalna|"
    r"исходное сообщение|пересылаемое сообщение|перенаправленное сообщение|"
    r"пересланное сообщение|переслане повідомлення|оригінальне повідомлення|"
    r"メッセージを転送|原始邮件|原始郵件|転送されたメッセージ"
    r")\s*[-_=*]{2,}\s*$",
    re.IGNORECASE,
)
_RULE = re.compile(r"^\s*[_]{8,}\s*$|^\s*[-=]{20,}\s*$")

_FROM_WORDS = (
    "from|von|de|da|van|fra|från|från|od|от|від|mittente|lähettäjä|feladó|kimden|"
    "expéditeur|remitente|afzender|avsändare|відправник|отправитель|送信元|发件人|寄件者"
)
_OTHER_WORDS = (
    "sent|date|to|cc|subject|gesendet|datum|an|betreff|envoyé|envoyé le|date d'envoi|à|a|"
    "objet|sujet|enviado|fecha|para|asunto|inviato|data|oggetto|verzonden|aan|onderwerp|"
    "sendt|dato|til|emne|skickat|till|ämne|wysłano|do|temat|отправлено|дата|кому|тема|"
    "копия|надіслано|кому|тема|lähetetty|vastaanottaja|aihe|enviada|assunto|"
    "日付|件名|送信先|发送时间|收件人|主题|copie à|message du"
)
_FROM_LINE = re.compile(rf"^\s*\*?\s*({_FROM_WORDS})\s*\*?\s*[:：]", re.IGNORECASE)
_OTHER_LINE = re.compile(rf"^\s*\*?\s*({_OTHER_WORDS})\s*\*?\s*[:：]", re.IGNORECASE)

# Attribution lines ("On … wrote:") in the languages our customers write.
_ATTRIBUTION = re.compile(
    r"("
    r"^-*\s*on\b.{4,}\b(wrote|writes)\s*-*\s*:?\s*-*$|"  # en, incl. Zoho "---- On … wrote ----"
    r"\bwrote\s*:$|"
    r"^am\b.+\bschrieb\b.*:$|^.+\bschrieb\b.*:$|"  # de
    r"^le\b.+\bé?crit\s*:$|a écrit\s*:$|"  # fr
    r"^el\b.+\bescribió\s*:$|escribió\s*:$|"  # es
    r"^il\b.+\bscritto\s*:$|ha scritto\s*:$|"  # it
    r"^op\b.+\bschreef\b.*:$|"  # nl
    r"^em\b.+\bescreveu\s*:$|escreveu\s*:$|"  # pt
    r"napisał(\(a\)|a)?\s*:$|"  # pl
    r"\bskrev\b.*:$|"  # da, no, sv
    r"kirjoitti\s*:$|"  # fi
    r"(написал|написала|написал\(а\)|пишет|писал|написав|написала|пише)\s*:$|"  # ru, uk
    r"写道\s*[:：]$|寫道\s*[:：]$|"  # zh
    r"<[^<>\s]+@[^<>\s]+>\s*[:：]$"  # "<date>, Name <addr>:" (Gmail in ru, ja, de…)
    r")",
    re.IGNORECASE,
)
# An attribution's first line has a date, an address or a lead word ("On", "Am", …).
_LEAD = re.compile(r"\d|@|^(on|am|le|el|il|op|em|w dniu|dnia|den|---)\b", re.IGNORECASE)
_QUOTED = re.compile(r"^\s*>")
# Gmail sometimes wraps "… <addr" / ">:" so that the last line looks quoted.
_CLOSING = re.compile(r"^\s*>\s*[:：]\s*$")
_HEADERISH = re.compile(r"^\s*([-_=*]{3,}\s*$|message du\s*:)", re.IGNORECASE)
_SIG_DASHES = re.compile(r"^--\s*$")
_DEVICE_SIGNATURE = re.compile(
    r"^\s*[(<]*\s*("
    r"sent (from|via|with|using) .{1,80}|get outlook for .{1,40}|get \[outlook for .{1,60}|"
    r"from my (iphone|ipad|android|mobile|phone|samsung|galaxy|blackberry|cell).{0,30}|"
    r"envoyé (depuis|de|à partir de) .{1,80}|von meinem .{1,80}|gesendet von .{1,80}|"
    r"enviado (desde|de) .{1,80}|inviato da .{1,80}|verzonden (met|vanaf|van) .{1,80}|"
    r"sendt fra .{1,80}|skickat från .{1,80}|wysłane z .{1,80}|"
    r"отправлено (с|из) .{1,80}|надіслано з .{1,80}|"
    r"diese nachricht wurde von meinem .{1,80}|someone from mobile|"
    r"從我的 .{1,40}傳送|从我的.{1,40}发送|sent by .{1,40}"
    r")\s*[)>]*\s*$",
    re.IGNORECASE,
)


def visible_text(text: str, *, signatures: bool = True) -> str:
    """The reply's own words; "" when the message adds nothing to what it quotes.
    ``signatures``: cut the signature too (``[outbox] agent_signatures = "keep"``
    keeps an agent's)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").removeprefix("\ufeff").split("\n")
    own = _drop_quotes(lines)
    kept = _strip_signatures(own) if signatures else own
    result = "\n".join(kept).strip("\n")
    # Only quoted text (a quote-only reply): nothing new. Callers show the full text then.
    return result.rstrip() + "\n" if result.strip() else ""


def history_start(lines: list[str], *, signatures: bool = True) -> int:
    """Where the reply's own lines end: the index of the first line after the last one
    ``visible_text`` keeps (quoted history, a trailing quote, with ``signatures`` the
    signature); 0 when it keeps none. htmlreply.py cuts an HTML reply there."""
    kept = _kept(lines)
    own = [lines[i] for i in kept]
    count = len(_strip_signatures(own)) if signatures else len(own)
    return kept[count - 1] + 1 if count else 0


def _drop_quotes(lines: list[str]) -> list[str]:
    return [lines[i] for i in _kept(lines)]


def _kept(lines: list[str]) -> list[int]:
    """The indices of the lines that are the reply's own, up to where history begins."""
    kept: list[int] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        if len(line) > _MAX_LINE:
            kept.append(index)
            index += 1
            continue
        if _header_block(lines, index):
            # "====" or "Message du : …" just above the From: line belong to the block.
            while kept and (
                _HEADERISH.match(lines[kept[-1]]) or _OTHER_LINE.match(lines[kept[-1]])
            ):
                kept.pop()
                kept = _trim_blank_indices(lines, kept)
            break
        if _SEPARATOR.match(line) or _rule_then_header(lines, index):
            break
        span = _attribution(lines, index)
        if span:
            after = index + span
            while after < len(lines) and not lines[after].strip():
                after += 1
            if after < len(lines) and _QUOTED.match(lines[after]):
                index = after  # quoted block follows: drop the attribution, keep scanning
                continue
            break  # unquoted history follows the attribution (Outlook style)
        if _QUOTED.match(line):
            index += 1
            # A client that wraps long quoted lines leaves the tail unquoted.
            while index < len(lines) and _wrapped_tail(lines, index):
                index += 1
            continue
        kept.append(index)
        index += 1
    return _trim_blank_indices(lines, kept)


def _trim_blank_indices(lines: list[str], kept: list[int]) -> list[int]:
    while kept and not lines[kept[-1]].strip():
        kept = kept[:-1]
    return kept


def _wrapped_tail(lines: list[str], index: int) -> bool:
    """An unquoted line glued between quoted ones is the wrapped end of a quoted line."""
    line = lines[index]
    if not line.strip() or _QUOTED.match(line):
        return False
    nxt = lines[index + 1] if index + 1 < len(lines) else ""
    return bool(_QUOTED.match(nxt))


def _header_block(lines: list[str], index: int) -> bool:
    """ "From: …" with at least one more header line within the next four lines."""
    if not _FROM_LINE.match(lines[index]):
        return False
    following = [ln for ln in lines[index + 1 : index + 6] if ln.strip()][:4]
    return sum(1 for ln in following if _OTHER_LINE.match(ln)) >= 1


def _rule_then_header(lines: list[str], index: int) -> bool:
    """A line of underscores or dashes right above a header block."""
    if not _RULE.match(lines[index]):
        return False
    following = [i for i in range(index + 1, min(index + 4, len(lines))) if lines[i].strip()]
    return bool(following) and (
        _header_block(lines, following[0]) or bool(_OTHER_LINE.match(lines[following[0]]))
    )


def _attribution(lines: list[str], index: int) -> int:
    """How many lines (1-3) an attribution starting here spans; 0 if none."""
    first = lines[index].strip()
    if not first or _QUOTED.match(lines[index]) or len(first) > 300:
        return 0
    if not _LEAD.search(first):
        return 0
    joined = first
    for span in range(1, 4):
        if span > 1:
            if index + span - 1 >= len(lines):
                return 0
            nxt = lines[index + span - 1].strip()
            if not nxt or (_QUOTED.match(nxt) and not _CLOSING.match(nxt)):
                return 0
            joined = f"{joined} {nxt}"
        if _ATTRIBUTION.search(joined) and _plausible_attribution(joined):
            return span
    return 0


def _plausible_attribution(joined: str) -> bool:
    """An attribution names a date or an address, not just any sentence ending in ':'."""
    return bool(re.search(r"\d|@", joined)) and len(joined) < 400


def _strip_signatures(lines: list[str]) -> list[str]:
    """Cut at "-- " or at a "Sent from my iPhone" line, once the reply has said something."""
    said = False
    for index, line in enumerate(lines):
        if said and (_SIG_DASHES.match(line) or _DEVICE_SIGNATURE.match(line)):
            return _trim_trailing_blank(lines[:index])
        said = said or bool(line.strip())
    return _trim_trailing_blank(lines)


def _trim_trailing_blank(lines: list[str]) -> list[str]:
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    return lines


def text_hash(text: str) -> str | None:
    """A fingerprint of a mail's new text, spacing and case aside; None for no text.

    The same text arriving again and again within the hour is a robot talking
    (see the pipeline's loop check); a fingerprint is cheaper to count than the text.
    """
    words = " ".join(text.lower().split())
    if not words:
        return None
    return hashlib.sha256(words.encode("utf-8", "replace")).hexdigest()[:32]
