"""The values every ticket template sees: the ticket, its customer, the mail, the SLA."""

from __future__ import annotations

from typing import Any

from maildesk.config.model import Settings
from maildesk.config.semantics import parse_duration
from maildesk.mail import ParsedMail
from maildesk.outbox.humanize import humanize, size_text, status_name, within
from maildesk.store.models import Message, Ticket
from maildesk.thread import ticket_token


def ticket_values(
    settings: Settings,
    ticket: Ticket,
    message: Message | None,
    mail: ParsedMail | None,
    language: str,
) -> dict[str, Any]:
    """The values every ticket template sees; ``message`` is the mail that caused it."""
    customer = ticket.requester
    if mail is not None:
        kept = [(p.filename, p.size, p.content_type) for p in mail.parts if not p.inline]
    else:
        found = message.attachments if message else []
        kept = [(a.filename, a.size, a.content_type) for a in found if not a.inline]
    attachments = [name for name, _, _ in kept]
    files = [{"name": n, "size": size_text(size), "type": t} for n, size, t in kept]
    policy = settings.sla_policy(ticket.sla_policy or "")
    first = parse_duration(policy.first_response) if policy and policy.first_response else None
    resolve = parse_duration(policy.resolution) if policy and policy.resolution else None
    return {
        "helpdesk": {"name": settings.helpdesk.name, "address": settings.helpdesk.address},
        "ticket": {
            "id": ticket.id,
            "token": ticket_token(settings.helpdesk.token_format, ticket.id),
            "subject": ticket.subject,
            "status": ticket.status,
            # The status in the mail's language ("решён"), for customers.
            "status_name": status_name(ticket.status, language),
            "priority": ticket.priority,
            "tier": ticket.tier,
            "tags": ticket.tags,
            "assignee": ticket.assignee,
            "language": ticket.language,
            # Why no automatic mail goes to the customer (a forged From, spam), or None.
            "quiet": ticket.quiet,
        },
        "customer": {
            "name": customer.name if customer else None,
            "address": customer.address if customer else "",
            "organization": customer.organization if customer else None,
            "category": customer.category if customer else None,
        },
        "message": {
            "visible_text": (message.visible_text or message.full_text) if message else "",
            "subject": message.subject if message else ticket.subject,
            "from": message.from_address if message else "",
            "attachments": attachments,
            # The same with their sizes and types: [{"name", "size": "24 KB", "type"}].
            "files": files,
        },
        "articles": [],  # knowledge-base suggestions: acknowledgements only
        "sla": {
            "policy": ticket.sla_policy,
            "first_response": humanize(first, language) if first else None,
            "resolution": humanize(resolve, language) if resolve else None,
            # "within 2 hours" / "в течение 2 часов": the phrase, in the right case.
            "first_response_within": within(first, language) if first else None,
            "resolution_within": within(resolve, language) if resolve else None,
        },
    }
