"""Words to search terms: lower case, stop words out, stemmed by script (English, Russian).

Stop words include what every support mail says ("not working", "problem",
"не работает"): they name no topic.

The Snowball stemmers make "passwords", "resetting" and "паролем" meet
"password", "reset" and "пароль"; a Cyrillic word is stemmed as Russian, a
Latin one as English, so mixed text ("не работает VPN") needs no language
guess.
"""

from __future__ import annotations

import re
from functools import lru_cache

import snowballstemmer

WORD = re.compile(r"[^\W_]+", re.UNICODE)
CYRILLIC = re.compile(r"[а-яё]")

STOP_EN = frozenset(
    """a about above after again all am an and any are as at be because been before being
    below between both but by can cannot could did do does doing don down during each few for
    from further get got had has have having he her here hers him his how i if in into is it
    its itself just let me more most my no nor not now of off on once only or other our ours
    out over own please same she should so some such than thank thanks that the their them
    then there these they this those through to too under until up very was we were what when
    where which while who whom why will with would you your yours hello hi dear regards best
    also still need want help try tried trying one two us yes ok okay again work works
    working worked problem problems issue issues question""".split()
)
STOP_RU = frozenset(
    """а без более бы был была были было быть в вам вас весь во вот все всё всего вы где да
    даже для до его ее её если есть еще ещё же за здесь и из или им их к как какой когда
    который ли либо мне меня мы на над не него нее неё нет ни них но ну о об однако он она
    они оно от очень по под после при с со так также такой там те тем то того тоже той только
    том ты у уже хотя чего чей чем что чтобы чье чья эта эти это я здравствуйте добрый день
    спасибо пожалуйста подскажите помогите можно нужно надо мой моя мои моё опять снова
    работает работают работать проблема проблемы вопрос""".split()
)

_EN = snowballstemmer.stemmer("english")
_RU = snowballstemmer.stemmer("russian")


MAX_WORD = 40


def words(text: str) -> list[str]:
    """Lower-case words, ё as е; stop words, one-letter words and runs of letters
    longer than any word (base64, hashes; they also cost typo matching dearly) dropped."""
    found = []
    for word in WORD.findall(text.lower().replace("ё", "е")):
        if len(word) < 2 or len(word) > MAX_WORD or word in STOP_EN or word in STOP_RU:
            continue
        found.append(word)
    return found


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    if word.isdigit():
        return word
    stemmer = _RU if CYRILLIC.search(word) else _EN
    return str(stemmer.stemWord(word))


def problem_key(subject: str) -> str | None:
    """A subject's stemmed words, sorted, without numbers: "Printer not printing" and
    "printers not printing!" share one key (frequent problems, the problem alert)."""
    stems = sorted({stem(w) for w in words(subject) if not w.isdigit()})
    return " ".join(stems)[:200] or None
