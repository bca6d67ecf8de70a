"""One verdict about a mail's sender: is the From real (pass / fail / none), is it spam.

``fail`` means the From cannot be believed: DMARC (or Microsoft's composite
authentication) failed, or every SPF and DKIM result present failed. ``pass``
means a method vouches for the From's domain: DMARC or compauth passed, a DKIM
signature or the SPF envelope domain aligned with it passed, or our own MTA
authenticated the submitting user as that address. Anything else is ``none``.
Such a sender gets no automatic mail (``reasons``); whether an agent's mail is
believed is ``pipeline.is_agent``'s question.
"""

from __future__ import annotations

from dataclasses import dataclass

from maildesk.mail import ParsedMail, Trust
from maildesk.trust.authres import Result, trusted_results
from maildesk.trust.spam import judge_spam

# Worst first: several headers of our MTA may speak of one method; the worst wins
# (a "pass" a sender wrote under our authserv-id cannot outvote our MTA's "fail").
_RANK = {
    "fail": 0,
    "permerror": 1,
    "softfail": 2,
    "temperror": 3,
    "neutral": 4,
    "policy": 5,
    "none": 6,
    "bestguesspass": 7,
    "softpass": 7,
    "pass": 8,
}
# Two-letter country domains whose registrations sit one level down (example.co.uk).
_SECOND_LEVEL = {"co", "com", "net", "org", "gov", "ac", "edu", "ne", "or", "go"}


@dataclass(frozen=True)
class TrustPolicy:
    """From the config's [trust] table: whose Authentication-Results, which spam score."""

    authserv_ids: tuple[str, ...] = ()
    spam_score: float = 5.0


def assess(mail: ParsedMail, policy: TrustPolicy) -> Trust:
    results, ignored = trusted_results(mail.headers, policy.authserv_ids)
    sender = mail.sender.address if mail.sender else ""
    authentication, why = _from_verdict(results, sender) if results else ("none", "")
    if not why:
        why = (
            "no Authentication-Results from our MTA"
            if policy.authserv_ids
            else "no trusted MTA configured (trust.authserv_id)"
        )
    spam = judge_spam(mail.headers, policy.spam_score)
    reasons = list(spam.reasons)
    if authentication == "fail":
        reasons.insert(0, f"From failed authentication: {why}")
    return Trust(
        authentication=authentication,
        why=why,
        results=_combined(results),
        spam=spam.spam,
        spam_score=spam.score,
        reasons=tuple(reasons),
        ignored=ignored,
    )


def _from_verdict(results: tuple[Result, ...], sender: str) -> tuple[str, str]:
    domain = sender.rpartition("@")[2]
    by: dict[str, list[Result]] = {}
    for result in results:
        by.setdefault(result.method, []).append(result)
    for method in ("dmarc", "compauth"):
        failed = [r for r in by.get(method, ()) if r.result == "fail"]
        if failed:
            return "fail", str(failed[0])
    for method in ("dmarc", "compauth"):
        for r in by.get(method, ()):
            claimed = r.property("header.from")
            if r.result == "pass" and (not claimed or aligned(claimed, domain)):
                return "pass", str(r)
    for r in by.get("dkim", ()):
        signer = r.property("header.d") or r.property("header.i").rpartition("@")[2]
        if r.result == "pass" and signer and aligned(signer, domain):
            return "pass", str(r)
    for r in by.get("spf", ()):
        envelope = r.property("smtp.mailfrom").rpartition("@")[2]
        if r.result == "pass" and envelope and aligned(envelope, domain):
            return "pass", str(r)
    for r in by.get("auth", ()):
        user = r.property("smtp.auth").lower()
        if r.result == "pass" and user and user in (sender, sender.partition("@")[0]):
            return "pass", str(r)
    present = [r for m in ("spf", "dkim") for r in by.get(m, ()) if r.result != "none"]
    if present and all(r.result == "fail" for r in present):
        return "fail", "; ".join(str(r) for r in present)
    shown = "; ".join(str(r) for r in results[:3])
    return "none", f"nothing vouches for {domain or 'the From'} ({shown})"


def aligned(one: str, other: str) -> bool:
    """Relaxed alignment (as DMARC's): the same organizational domain."""
    return bool(one) and bool(other) and organization(one) == organization(other)


def organization(domain: str) -> str:
    """The registered domain, approximately: the last two labels, or three under a
    two-letter country domain's second level (example.co.uk)."""
    labels = domain.lower().strip(".").split(".")
    if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in _SECOND_LEVEL:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def _combined(results: tuple[Result, ...]) -> dict[str, str]:
    """Method -> one result for rules: the worst, but for DKIM a passing signature wins
    (a mail may carry a broken third-party signature beside a good one)."""
    combined: dict[str, str] = {}
    for r in results:
        before = combined.get(r.method)
        if before is None:
            combined[r.method] = r.result
        elif r.method == "dkim":
            combined[r.method] = max(before, r.result, key=lambda v: _RANK.get(v, 4))
        else:
            combined[r.method] = min(before, r.result, key=lambda v: _RANK.get(v, 4))
    return combined
