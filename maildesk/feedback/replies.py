"""Reading a customer's short reply: "solved", or a satisfaction score.

Both read only the reply's new text (quoted history removed) and are
deliberately strict: closing a ticket the customer still needs, or filing
"1 more thing: ..." as a score of 1, is worse than missing a thumbs-up.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_NON_WORD = re.compile(r"[^\w]+", re.UNICODE)
# "not solved", "не помогло", "no longer..." - any negation and it is no thumbs-up.
NEGATIONS = frozenset({"not", "no", "nope", "isn", "didn", "doesn", "don", "never", "не", "нет"})

SCORE_WORDS = {
    "excellent": 5,
    "great": 5,
    "good": 5,
    "ok": 3,
    "okay": 3,
    "bad": 1,
    "poor": 1,
    "terrible": 1,
    "отлично": 5,
    "хорошо": 5,
    "нормально": 3,
    "плохо": 1,
    "ужасно": 1,
}
MAX_SCORE_LINE_WORDS = 12


def normalized(text: str) -> list[str]:
    """Lower-case words, ё as е, punctuation gone."""
    return [w for w in _NON_WORD.split(text.lower().replace("ё", "е")) if w]


def self_served_phrase(text: str, phrases: Sequence[str], max_words: int) -> str | None:
    """The configured phrase the reply starts with, if it is a short, unnegated thumbs-up."""
    found = normalized(text)
    if not found or len(found) > max_words:
        return None
    first_line = next((line for line in text.splitlines() if line.strip()), "")
    if "?" in first_line or NEGATIONS & set(normalized(first_line)):
        return None
    for phrase in sorted(phrases, key=len, reverse=True):
        words = normalized(phrase)
        if words and found[: len(words)] == words:
            return phrase
    return None


def survey_score(text: str) -> tuple[int, str] | None:
    """(score 1-5, the comment after it) if the first line starts with a score.

    "5", "4/5", "4 of 5", "5 - great", "5 great", "good", "плохо, долго"
    are scores; "1 more thing: ..." and "12 printers" are not.
    """
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return None
    words = normalized(lines[0])
    if not words or len(words) > MAX_SCORE_LINE_WORDS:
        return None
    digit = _DIGIT_SCORE.match(lines[0])
    if digit is not None:
        following = words[1:2] if not digit.group(2) else []
        if following and following[0] not in SCORE_WORDS and digit.group(3) is None:
            return None
        score = int(digit.group(1))
    elif words[0] in SCORE_WORDS:
        score = SCORE_WORDS[words[0]]
    else:
        return None
    comment_lines = [_after_score(lines[0]), *lines[1:]]
    return score, "\n".join(line for line in comment_lines if line).strip()


# A digit 1-5 alone, or "of 5" / "/5" / "из 5" after it (group 2), or punctuation (group 3).
_DIGIT_SCORE = re.compile(
    r"^\s*([1-5])(?!\d)(?![.,]\d)(\s*(?:/|of|из)\s*5)?\s*([-–—:.,!)]|$)?", re.IGNORECASE
)


def _after_score(line: str) -> str:
    """The first line without its score: "5 - great service" -> "great service"."""
    stripped = re.sub(r"^\s*([1-5](\s*(/|of|из)\s*5)?|\w+)\s*[-–—:.,!]*\s*", "", line, count=1)
    return stripped.strip()
