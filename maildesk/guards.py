"""Guards: is this mail automatic? Each check answers one question with a reason.

A loop suspect is stored like any mail but never gets an automatic reply,
so two robots can never answer each other forever. A bounce (delivery
status notification) is matched to the outgoing mail that bounced.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from maildesk.mail import Bounce, ParsedMail, Verdict
from maildesk.parse import decode_bytes, message_ids

_ROBOT_LOCALS = re.compile(
    r"^(mailer-daemon|postmaster|no-?reply|do-?not-?reply|donotreply|noreply-.*|bounces?|"
    r"bounce-.*|notifications?|auto-?reply|autoresponder)$",
    re.IGNORECASE,
)
_OUT_OF_OFFICE = re.compile(
    r"(out of (the )?office|automatic reply|auto(matic)?[- ]?reply|auto[- ]?respon|"
    r"autoresponse|\(automatic response\)|abwesenheit|automatische antwort|"
    r"réponse automatique|absence|respuesta automática|fuera de la oficina|"
    r"risposta automatica|automatisch antwoord|automatyczna odpowied|автоответ|"
    r"автоматический ответ|вне офиса|vacation|on holiday|on leave)",
    re.IGNORECASE,
)
_BOUNCE_SUBJECT = re.compile(
    r"(undeliver|undelivered mail|delivery status notification|delivery failure|"
    r"mail delivery failed|returned mail|failure notice|delivery has failed|"
    r"non-?delivery|nondeliverable|could not be delivered|mail system error|"
    r"delivery notification|недоставленное сообщение|не доставлено|"
    r"unzustellbar|nicht zustellbar|non remis|no se puede entregar)",
    re.IGNORECASE,
)
_REPORT_TYPES = {
    "delivery-status": "bounce",
    "disposition-notification": "read receipt",
    "feedback-report": "abuse report",
}
_BODY_MESSAGE_ID = re.compile(rb"^\s*Message-Id\s*:\s*(<[^<>\s]+>)", re.IGNORECASE | re.MULTILINE)
_DSN_RECIPIENT = re.compile(r"^\s*Final-Recipient\s*:\s*[^;]*;\s*(\S+@\S+)", re.I | re.M)
_DSN_STATUS = re.compile(r"^\s*Status\s*:\s*([245]\.\d{1,3}\.\d{1,3})", re.I | re.M)


@dataclass(frozen=True)
class Ours:
    """Our own identity: the support address, the mailboxes, our X-Loop value."""

    addresses: frozenset[str]
    loop_token: str
    domain: str = ""  # of our Message-IDs (<md.1042.…@domain>)

    @property
    def quoted_ours(self) -> re.Pattern[str]:
        """Our X-Loop line or one of our Message-IDs inside a mail's text: a robot that
        answers with our whole mail, headers included (people's clients do not)."""
        found = self.__dict__.get("_quoted")
        if found is None:
            loop = re.escape(self.loop_token)
            ids = (
                rf"<md\.(\d+\.)?[0-9a-f]{{32}}@{re.escape(self.domain)}>" if self.domain else "(?!)"
            )
            found = re.compile(rf"(^[>\s]*X-Loop:\s*{loop}\s*$)|{ids}", re.I | re.M)
            object.__setattr__(self, "_quoted", found)
        return found

    def is_ours(self, address: str) -> bool:
        local, _, domain = address.lower().partition("@")
        base = local.split("+", 1)[0]
        return address.lower() in self.addresses or f"{base}@{domain}" in self.addresses


Check = Callable[[ParsedMail, Ours], str | None]


def from_ourselves(mail: ParsedMail, ours: Ours) -> str | None:
    if mail.sender and ours.is_ours(mail.sender.address):
        return f"sent from our own address {mail.sender.address}"
    return None


def our_loop_header(mail: ParsedMail, ours: Ours) -> str | None:
    if any(v.strip().lower() == ours.loop_token.lower() for v in mail.header_all("X-Loop")):
        return "carries our X-Loop header"
    return None


def quotes_our_headers(mail: ParsedMail, ours: Ours) -> str | None:
    match = ours.quoted_ours.search(mail.text)
    if match:
        return f"quotes our own mail with its headers ({match.group(0).strip()[:60]})"
    return None


def auto_submitted(mail: ParsedMail, _ours: Ours) -> str | None:
    value = (mail.header("Auto-Submitted") or "").strip().lower()
    if value and not value.startswith("no"):
        return f"Auto-Submitted: {value}"
    return None


def bulk_precedence(mail: ParsedMail, _ours: Ours) -> str | None:
    value = (mail.header("Precedence") or "").strip().lower()
    if value in {"bulk", "junk", "list", "auto_reply"}:
        return f"Precedence: {value}"
    return None


def mailing_list(mail: ParsedMail, _ours: Ours) -> str | None:
    if mail.header("List-Id") is not None:
        return "mailing list (List-Id)"
    return None


def robot_sender(mail: ParsedMail, _ours: Ours) -> str | None:
    if mail.sender is None:
        return None
    local = mail.sender.address.split("@", 1)[0]
    if _ROBOT_LOCALS.match(local):
        return f"robot sender {mail.sender.address}"
    return None


def null_return_path(mail: ParsedMail, _ours: Ours) -> str | None:
    value = mail.header("Return-Path")
    if value is not None and value.strip() in {"<>", ""}:
        return "null Return-Path (<>)"
    return None


def autoreply_headers(mail: ParsedMail, _ours: Ours) -> str | None:
    for name in ("X-Autoreply", "X-Autorespond", "X-Autoreply-From", "X-Mail-Autoreply"):
        if mail.header(name) is not None:
            return f"{name} header"
    suppress = (mail.header("X-Auto-Response-Suppress") or "").lower()
    if any(token in suppress for token in ("all", "oof", "autoreply")):
        return f"X-Auto-Response-Suppress: {suppress}"
    return None


def out_of_office_subject(mail: ParsedMail, _ours: Ours) -> str | None:
    if _OUT_OF_OFFICE.search(mail.subject):
        return f'out-of-office subject "{mail.subject[:80]}"'
    return None


def report(mail: ParsedMail, _ours: Ours) -> str | None:
    if mail.content_type == "multipart/report":
        kind = mail.report_type
        return f"{_REPORT_TYPES.get(kind, 'report')} (multipart/report)"
    return None


CHECKS: tuple[Check, ...] = (
    from_ourselves,
    our_loop_header,
    quotes_our_headers,
    auto_submitted,
    bulk_precedence,
    mailing_list,
    robot_sender,
    null_return_path,
    autoreply_headers,
    out_of_office_subject,
    report,
)


# The checks that find our own mail coming back: a loop, not just an automatic mail.
LOOP_CHECKS = (from_ourselves, our_loop_header, quotes_our_headers)


def judge(mail: ParsedMail, ours: Ours, checks: Iterable[Check] = CHECKS) -> Verdict:
    found = [(check, r) for check in checks if (r := check(mail, ours)) is not None]
    return Verdict(
        reasons=tuple(r for _, r in found),
        bounce=bounce(mail),
        loop=any(check in LOOP_CHECKS for check, _ in found),
    )


def bounce(mail: ParsedMail) -> Bounce | None:
    """A delivery status notification, standard (RFC 3464) or the MTA's own prose."""
    report_type = mail.report_type
    sender = mail.sender.address.split("@", 1)[0].lower() if mail.sender else ""
    from_robot = sender in {"mailer-daemon", "postmaster", "mail-daemon"} or mail.sender is None
    if report_type != "delivery-status" and not (
        from_robot and _BOUNCE_SUBJECT.search(mail.subject)
    ):
        return None
    status_text = _status_text(mail)
    recipients = tuple(dict.fromkeys(m.lower() for m in _DSN_RECIPIENT.findall(status_text)))
    status = next(iter(_DSN_STATUS.findall(status_text)), None)
    if status is not None and status.startswith("2"):
        return None  # a "delivered" notification is not a failure
    return Bounce(original_ids=_original_ids(mail), recipients=recipients, status=status)


def _status_text(mail: ParsedMail) -> str:
    texts = [mail.text]
    for part in mail.parts:
        if part.content_type in ("message/delivery-status", "text/plain") and part.content:
            texts.append(decode_bytes(part.content, "utf-8"))
    return "\n".join(texts)


def _original_ids(mail: ParsedMail) -> tuple[str, ...]:
    """Message-IDs of the mail that bounced: from the returned headers or the prose."""
    found: list[str] = []
    blobs = [
        p.content
        for p in mail.parts
        if p.content
        and p.content_type
        in ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers", "text/plain")
    ]
    blobs.append(mail.text.encode("utf-8", "replace"))
    for blob in blobs:
        for match in _BODY_MESSAGE_ID.findall(blob):
            found.extend(message_ids(match.decode("ascii", "replace")))
    own = mail.message_id
    return tuple(dict.fromkeys(i for i in found if i != own))
