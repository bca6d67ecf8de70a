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


# word -> the languages it is a common word of; one dict lookup per word.
_LANGUAGES_OF: dict[str, tuple[str, ...]] = {}
for _lang, _words in STOPWORDS.items():
    for _word in _words:
        _LANGUAGES_OF[_word] = (*_LANGUAGES_OF.get(_word, ()), _lang)

_SCRIPTS = {
    "cyrillic": re.compile(r"[\u0400-\u04ff]"),
    "cjk": re.compile(r"[\u4e00-\u9fff]"),
    "kana": re.compile(r"[\u3040-\u30ff]"),
    "hangul": re.compile(r"[\uac00-\ud7af]"),
}
_UKRAINIAN = re.compile(r"[іїєґІЇЄҐ]")


_PUNCTUATION = ".,;:!?()[]{}<>\"'«»„“”‘’-–—*/\\|#@&%$^+=~`_0123456789"


def detect_language(text: str) -> str | None:
    sample = text[:300]
    if not sample.strip():
        return None
    if not sample.isascii():
        chars = len(sample) - sample.count(" ") - sample.count("\n")
        scripts = {name: pattern.subn("", sample)[1] for name, pattern in _SCRIPTS.items()}
        if scripts["kana"] > chars * 0.05:
            return "ja"
        if scripts["hangul"] > chars * 0.3:
            return "ko"
        if scripts["cjk"] > chars * 0.3:
            return "zh"
        cyrillic = scripts["cyrillic"] > chars * 0.4
    else:
        cyrillic = False
    scores = dict.fromkeys(STOPWORDS, 0)
    for word in sample.lower().split():
        for lang in _LANGUAGES_OF.get(word.strip(_PUNCTUATION), ()):
            scores[lang] += 1
    if cyrillic:
        return "uk" if _UKRAINIAN.search(sample) or scores["uk"] > scores["ru"] else "ru"
    latin = {lang: score for lang, score in scores.items() if lang not in ("ru", "uk")}
    best = max(latin, key=lambda lang: latin[lang])
    return best if latin[best] > 0 else None
