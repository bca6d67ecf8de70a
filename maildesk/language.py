"""Which language a customer wrote in: by script, then by common short words.

Good enough to pick a template language and to route ("language: ru");
not a general-purpose detector. Returns None when the text gives no clue.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
STOPWORDS: dict[str, frozenset[str]] = {
    "en": frozenset(
        "the and is are to of in it for you not have this that with please can "
        "my we do what i on be was".split()
    ),
    "de": frozenset(
        "der die das und ist nicht ich sie es mit zu ein eine bitte haben wir "
        "auf für den von".split()
    ),
    "fr": frozenset(
        "le la les et est pas je vous il elle une un des pour avec que ne bonjour "
        "merci nous sur".split()
    ),
    "es": frozenset(
        "el la los las y es no yo usted una un por para con que gracias hola nosotros está".split()
    ),
    "it": frozenset(
        "il lo la gli le e è non io lei una un per con che grazie ciao sono della".split()
    ),
    "nl": frozenset("de het een en is niet ik u je wij met voor dank van op zijn".split()),
    "pt": frozenset("o a os as e é não eu você uma um para com que obrigado olá está".split()),
    "pl": frozenset("i w nie jest na się to że z do dziękuję proszę jak".split()),
    "ru": frozenset(
        "и в не на я что он она мы вы с это как по но здравствуйте спасибо "
        "пожалуйста у меня".split()
    ),
    "uk": frozenset("і в не на я що він вона ми ви з це як але дякую будь ласка є".split()),
}


def detect_language(text: str) -> str | None:
    sample = text[:4000]
    letters = [c for c in sample if c.isalpha()]
    if not letters:
        return None
    counts = {
        "cyrillic": sum(1 for c in letters if "\u0400" <= c <= "\u04ff"),
        "cjk": sum(1 for c in letters if "\u4e00" <= c <= "\u9fff"),
        "kana": sum(1 for c in letters if "\u3040" <= c <= "\u30ff"),
        "hangul": sum(1 for c in letters if "\uac00" <= c <= "\ud7af"),
    }
    total = len(letters)
    if counts["kana"] > total * 0.05:
        return "ja"
    if counts["hangul"] > total * 0.3:
        return "ko"
    if counts["cjk"] > total * 0.3:
        return "zh"
    words = [w.lower() for w in _WORD.findall(sample)]
    if counts["cyrillic"] > total * 0.5:
        ukrainian = sum(1 for c in letters if c in "іїєґІЇЄҐ")
        ru_hits = sum(1 for w in words if w in STOPWORDS["ru"])
        uk_hits = sum(1 for w in words if w in STOPWORDS["uk"])
        return "uk" if ukrainian or uk_hits > ru_hits else "ru"
    scores = {
        lang: sum(1 for w in words if w in stops)
        for lang, stops in STOPWORDS.items()
        if lang not in ("ru", "uk")
    }
    best = max(scores, key=lambda lang: scores[lang])
    return best if scores[best] > 0 else None
