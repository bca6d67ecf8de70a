"""What rules can look at: one message, its sender as a customer, and the time.

Built once per message, with lower-cased copies of the text fields, so that
200 rules cost 200 cheap comparisons and no per-rule work on the message.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from maildesk.language import detect_language
from maildesk.parse import ParsedMail


@dataclass(frozen=True)
class CustomerInfo:
    category: str | None = None
    organization: str | None = None
    language: str | None = None


@dataclass(frozen=True)
class Facts:
    sender: str = ""
    sender_domain: str = ""
    sender_name: str = ""
    recipient: tuple[str, ...] = ()
    subject: str = ""
    body: str = ""
    headers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    has_attachments: bool = False
    attachment_type: tuple[str, ...] = ()
    attachment_name: tuple[str, ...] = ()
    language: str | None = None
    customer: CustomerInfo = field(default_factory=CustomerInfo)
    business_hours: bool = True
    reply: bool = False
    # Lower-cased copies, made once: every ignore_case comparison reads these.
    lower: Mapping[str, object] = field(default_factory=dict)


def facts_for(
    mail: ParsedMail,
    visible: str,
    customer: CustomerInfo | None,
    business_hours: bool,
    *,
    reply: bool = False,
) -> Facts:
    sender = mail.sender.address if mail.sender else ""
    headers: dict[str, tuple[str, ...]] = {}
    for name, value in mail.headers:
        headers[name] = (*headers.get(name, ()), value)
    attachments = [p for p in mail.parts if not p.inline]
    facts = Facts(
        sender=sender,
        sender_domain=sender.rpartition("@")[2],
        sender_name=mail.sender.name if mail.sender else "",
        recipient=tuple(a.address for a in (*mail.to, *mail.cc)),
        subject=mail.subject,
        body=visible,
        headers=headers,
        has_attachments=bool(attachments),
        attachment_type=tuple(p.content_type for p in attachments),
        attachment_name=tuple(p.filename for p in attachments),
        language=detect_language(f"{mail.subject}\n{visible}"),
        customer=customer or CustomerInfo(),
        business_hours=business_hours,
        reply=reply,
    )
    return with_lower(facts)


def with_lower(facts: Facts) -> Facts:
    lower: dict[str, object] = {
        "sender": facts.sender.lower(),
        "sender_domain": facts.sender_domain.lower(),
        "sender_name": facts.sender_name.lower(),
        "recipient": tuple(r.lower() for r in facts.recipient),
        "subject": facts.subject.lower(),
        "body": facts.body.lower(),
        "attachment_type": tuple(t.lower() for t in facts.attachment_type),
        "attachment_name": tuple(n.lower() for n in facts.attachment_name),
        "language": (facts.language or "").lower(),
        "customer_category": (facts.customer.category or "").lower(),
        "customer_organization": (facts.customer.organization or "").lower(),
        "customer_language": (facts.customer.language or "").lower(),
        "headers": {k: tuple(v.lower() for v in vs) for k, vs in facts.headers.items()},
    }
    return Facts(**{**facts.__dict__, "lower": lower})
