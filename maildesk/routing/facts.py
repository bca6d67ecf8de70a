"""What rules can look at: one message, its sender as a customer, and the time.

Built once per message, with lower-cased copies of the text fields, so that
200 rules cost 200 cheap comparisons and no per-rule work on the message.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from maildesk.language import detect_language
from maildesk.mail import ParsedMail, Trust


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
    # The MTA's word (trust/sender.py): spam flag and score, authentication results.
    spam: bool = False
    spam_score: float | None = None
    authentication: str = "none"
    dmarc: str = "none"
    spf: str = "none"
    dkim: str = "none"
    # Lower-cased copies, made once: every ignore_case comparison reads these.
    lower: Mapping[str, Any] = field(default_factory=dict)


def facts_for(
    mail: ParsedMail,
    visible: str,
    customer: CustomerInfo | None,
    business_hours: bool,
    *,
    reply: bool = False,
    trust: Trust | None = None,
) -> Facts:
    sender = mail.sender.address if mail.sender else ""
    headers: dict[str, tuple[str, ...]] = {}
    for name, value in mail.headers:
        headers[name] = (*headers.get(name, ()), value)
    attachments = [p for p in mail.parts if not p.inline]
    customer = customer or CustomerInfo()
    types = tuple(p.content_type for p in attachments)
    names = tuple(p.filename for p in attachments)
    recipient = tuple(a.address for a in (*mail.to, *mail.cc))
    sender_name = mail.sender.name if mail.sender else ""
    language = detect_language(f"{mail.subject}\n{visible}")
    domain = sender.rpartition("@")[2]
    trust = trust or Trust()
    results = trust.results
    lower: dict[str, Any] = {
        "sender": sender,  # addresses are stored lower-cased already
        "sender_domain": domain,
        "sender_name": sender_name.lower(),
        "recipient": recipient,
        "subject": mail.subject.lower(),
        "body": visible.lower(),
        "attachment_type": tuple(t.lower() for t in types),
        "attachment_name": tuple(n.lower() for n in names),
        "language": language or "",
        "customer_category": (customer.category or "").lower(),
        "customer_organization": (customer.organization or "").lower(),
        "customer_language": (customer.language or "").lower(),
        "headers": {k: tuple(v.lower() for v in vs) for k, vs in headers.items()},
        "authentication": trust.authentication,
        "dmarc": results.get("dmarc", "none"),
        "spf": results.get("spf", "none"),
        "dkim": results.get("dkim", "none"),
    }
    return Facts(
        sender=sender,
        sender_domain=domain,
        sender_name=sender_name,
        recipient=recipient,
        subject=mail.subject,
        body=visible,
        headers=headers,
        has_attachments=bool(attachments),
        attachment_type=types,
        attachment_name=names,
        language=language,
        customer=customer,
        business_hours=business_hours,
        reply=reply,
        spam=trust.spam,
        spam_score=trust.spam_score,
        authentication=trust.authentication,
        dmarc=lower["dmarc"],
        spf=lower["spf"],
        dkim=lower["dkim"],
        lower=lower,
    )
