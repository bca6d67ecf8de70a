"""The spam filter's word on a mail: SpamAssassin, rspamd, Microsoft 365 (EOP).

A spam header only ever silences the desk (no automatic reply), so a sender
who adds one to their own mail gains nothing; a header that says "not spam"
is never read as a pass.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

# Microsoft's spam confidence level: 5 and 6 are spam, 7 to 9 high-confidence spam.
SCL_SPAM = 5
_NUMBER = r"(-?\d+(?:\.\d+)?)"
_SA_STATUS = re.compile(r"^\s*(yes|no)\b.*?\bscore=" + _NUMBER, re.IGNORECASE | re.DOTALL)
_SA_STATUS_FLAG = re.compile(r"^\s*yes\b", re.IGNORECASE)
_RSPAMD_RESULT = re.compile(
    r"^\s*default\s*:\s*(true|false)\s*\[\s*" + _NUMBER + r"\s*/", re.IGNORECASE
)
_FOREFRONT_SCL = re.compile(r"(?:^|;)\s*SCL\s*:\s*(-?\d+)", re.IGNORECASE)
_NAMES = frozenset(
    {
        "x-spam-flag",
        "x-spam",
        "x-spam-status",
        "x-spam-score",
        "x-rspamd-score",
        "x-spamd-result",
        "x-rspamd-action",
        "x-ms-exchange-organization-scl",
        "x-forefront-antispam-report",
    }
)
_SPAM_ACTIONS = {"add header", "rewrite subject", "reject", "soft reject", "quarantine"}


@dataclass(frozen=True)
class SpamVerdict:
    spam: bool = False
    score: float | None = None  # SpamAssassin or rspamd points, the highest seen
    reasons: tuple[str, ...] = ()


def judge_spam(headers: Sequence[tuple[str, str]], threshold: float) -> SpamVerdict:
    """Spam when any filter says so, or a score reaches ``threshold``."""
    reasons: list[str] = []
    scores: list[float] = []
    for name, value in headers:
        if name not in _NAMES:
            continue
        value = " ".join(value[:2000].split())
        if name in ("x-spam-flag", "x-spam") and value.lower().startswith("yes"):
            reasons.append(f"{_title(name)}: {value[:40]}")
        elif name == "x-spam-status":
            match = _SA_STATUS.match(value)
            if match:
                scores.append(float(match.group(2)))
            if _SA_STATUS_FLAG.match(value):
                reasons.append(f"X-Spam-Status: {value[:60]}")
        elif name in ("x-spam-score", "x-rspamd-score"):
            number = _float(value)
            if number is not None:
                scores.append(number)
        elif name == "x-spamd-result":
            match = _RSPAMD_RESULT.match(value)
            if match:
                scores.append(float(match.group(2)))
                if match.group(1).lower() == "true":
                    reasons.append(f"X-Spamd-Result: {value[:60]}")
        elif name == "x-rspamd-action" and value.lower() in _SPAM_ACTIONS:
            reasons.append(f"X-Rspamd-Action: {value}")
        elif name in ("x-ms-exchange-organization-scl", "x-forefront-antispam-report"):
            scl = _scl(name, value)
            if scl is not None and scl >= SCL_SPAM:
                reasons.append(f"spam confidence level {scl} ({_title(name)})")
    score = max(scores) if scores else None
    if score is not None and score >= threshold and not reasons:
        reasons.append(f"spam score {score:g} reaches {threshold:g}")
    return SpamVerdict(bool(reasons), score, tuple(dict.fromkeys(reasons)))


def _scl(name: str, value: str) -> int | None:
    if name == "x-ms-exchange-organization-scl":
        number = _float(value)
        return int(number) if number is not None else None
    match = _FOREFRONT_SCL.search(value)
    return int(match.group(1)) if match else None


def _float(value: str) -> float | None:
    match = re.match(r"^\s*" + _NUMBER, value)
    return float(match.group(1)) if match else None


def _title(name: str) -> str:
    return "-".join(
        part.upper() if part in ("ms", "scl") else part.capitalize() for part in name.split("-")
    )
