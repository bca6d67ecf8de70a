"""Which mail a ticket change causes, written to the outbox in the same transaction.

The acknowledgement and the tier's notification for a new ticket, customer
replies to the watchers, agent replies relayed to customers, copies, status
notices and command errors. SLA reminders, breaches and digests use ``send``
with their own values (maildesk/sla/notices.py).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from maildesk.config.model import Settings
from maildesk.config.semantics import parse_duration
from maildesk.mail import ParsedMail, Route
from maildesk.outbox import alerts, queue
from maildesk.outbox.humanize import humanize, status_name, within
from maildesk.outbox.writer import Writer
from maildesk.store.ingest import add_event
from maildesk.store.models import Message, Ticket
from maildesk.thread import ticket_token

log = logging.getLogger("maildesk.mails")


def _agent_reply(text: str, agent: str, message: Message) -> dict[str, Any]:
    """Template values for an agent's answer (relayed, or copied to colleagues)."""
    return {
        "reply": {"text": text, "problems": [], "help": ""},
        "agent": {"name": agent, "address": message.from_address},
    }


class Mailer(Writer):
    """The mail a ticket's life causes, in the same transaction as the change."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.limit = settings.outbox.acknowledgements_per_hour

    def context(
        self, ticket: Ticket, message: Message | None, mail: ParsedMail | None, language: str
    ) -> dict[str, Any]:
        """The values every ticket template sees; ``message`` is the mail that caused it."""
        customer = ticket.requester
        if mail is not None:
            attachments = [p.filename for p in mail.parts if not p.inline]
        else:
            attachments = [
                a.filename for a in (message.attachments if message else []) if not a.inline
            ]
        policy = self.settings.sla_policy(ticket.sla_policy or "")
        first = parse_duration(policy.first_response) if policy and policy.first_response else None
        resolve = parse_duration(policy.resolution) if policy and policy.resolution else None
        return {
            "helpdesk": {"name": self.settings.helpdesk.name, "address": self.address},
            "ticket": {
                "id": ticket.id,
                "token": ticket_token(self.settings.helpdesk.token_format, ticket.id),
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

    def on_new_ticket(
        self,
        session: Session,
        ticket: Ticket,
        message: Message,
        mail: ParsedMail,
        route: Route,
        *,
        acknowledge: bool,
        now: datetime,
        articles: list[dict[str, str]] | None = None,
        first_contact: bool = False,
        notify: bool = True,
    ) -> None:
        """Acknowledge the customer (unless a robot, a rule or the hourly limit says no),
        with the knowledge-base ``articles`` that may answer them, and notify the tier.

        ``first_contact``: the customer is new, so nothing was sent to them yet."""
        customer = ticket.requester.address if ticket.requester else ""
        wanted = [route.language, ticket.language, self.settings.helpdesk.default_language, "en"]
        if acknowledge and route.acknowledge is not False and customer:
            template = (
                route.acknowledge if isinstance(route.acknowledge, str) else "acknowledgement"
            )
            since = now - timedelta(hours=1)
            assert ticket.requester is not None and ticket.requester.id is not None
            sent = (
                0
                if first_contact
                else queue.recent_count(session, "acknowledgement", ticket.requester.id, since)
            )
            if sent >= self.limit:
                add_event(
                    session,
                    ticket.id,
                    "maildesk",
                    "acknowledgement_suppressed",
                    {"why": f"{self.limit} acknowledgements to {customer} in the last hour"},
                    now,
                )
            else:
                self._queue(
                    session,
                    ticket,
                    message,
                    mail,
                    template,
                    "acknowledgement",
                    [customer],
                    wanted,
                    now,
                    reply=True,
                    extra={"articles": articles or []},
                )
        agents = self._tier_agents(ticket.tier)
        extra = [a for a in route.notify if a not in agents]
        if notify and (agents or extra):
            self._queue(
                session,
                ticket,
                message,
                mail,
                "notification",
                "notification",
                [*agents, *extra],
                [self.settings.helpdesk.default_language, "en"],
                now,
                reply=False,
            )

    def suppressed(
        self, session: Session, ticket: Ticket, kind: str, to: list[str], why: str, now: datetime
    ) -> None:
        super().suppressed(session, ticket, kind, to, why, now)
        alerts.loop_alert(self, session, ticket, why, now)

    def watchers(self, ticket: Ticket) -> list[str]:
        """Who hears about a customer's reply: the assignee, else the tier's agents."""
        return [ticket.assignee] if ticket.assignee else self._tier_agents(ticket.tier)

    def on_customer_reply(
        self, session: Session, ticket: Ticket, message: Message, mail: ParsedMail, now: datetime
    ) -> None:
        to = [a for a in self.watchers(ticket) if a]
        to += [a for a in ticket.notify if a not in to]
        if to:
            self._queue(
                session,
                ticket,
                message,
                mail,
                "customer_reply",
                "customer_reply",
                to,
                [self.settings.helpdesk.default_language, "en"],
                now,
                reply=False,
            )

    def relay(
        self,
        session: Session,
        ticket: Ticket,
        message: Message,
        mail: ParsedMail,
        text: str,
        customers: list[str],
        last_customer: Message | None,
        now: datetime,
    ) -> None:
        """The agent's new text to the customers, from the support address, threaded."""
        agent = mail.sender.name if mail.sender and mail.sender.name else ""
        wanted = [ticket.language, self.settings.helpdesk.default_language, "en"]
        thread_id = last_customer.message_id if last_customer else None
        refs = (*(last_customer.references if last_customer else ()), thread_id)
        self._queue(
            session,
            ticket,
            message,
            mail,
            "reply",
            "reply",
            customers,
            wanted,
            now,
            reply=False,
            automatic=False,
            extra=_agent_reply(text, agent, message),
            from_name=f"{agent} via {self.settings.helpdesk.name}"
            if agent
            else self.settings.helpdesk.name,
            in_reply_to=thread_id,
            references=tuple(r for r in refs if r),
            attachments=tuple(
                (p.filename, p.content_type, p.content)
                for p in mail.parts
                if not p.inline and p.content is not None
            ),
        )

    def agent_copy(
        self,
        session: Session,
        ticket: Ticket,
        message: Message,
        mail: ParsedMail,
        text: str,
        now: datetime,
    ) -> None:
        """The other agents watching the ticket see what a colleague answered."""
        to = [
            a for a in (*self.watchers(ticket), *ticket.notify) if a and a != message.from_address
        ]
        if not to:
            return
        agent = mail.sender.name if mail.sender else ""
        self._queue(
            session,
            ticket,
            message,
            mail,
            "agent_copy",
            "agent_copy",
            list(dict.fromkeys(to)),
            [self.settings.helpdesk.default_language, "en"],
            now,
            reply=False,
            extra=_agent_reply(text, agent, message),
        )

    def status_notice(
        self,
        session: Session,
        ticket: Ticket,
        message: Message,
        mail: ParsedMail,
        customers: list[str],
        now: datetime,
    ) -> None:
        wanted = [ticket.language, self.settings.helpdesk.default_language, "en"]
        self._queue(
            session, ticket, message, mail, "status", "status", customers, wanted, now, reply=False
        )

    def command_error(
        self,
        session: Session,
        ticket: Ticket,
        message: Message,
        mail: ParsedMail,
        problems: tuple[str, ...],
        help_text: str,
        now: datetime,
    ) -> None:
        self._queue(
            session,
            ticket,
            message,
            mail,
            "command_error",
            "command_error",
            [message.from_address],
            [self.settings.helpdesk.default_language, "en"],
            now,
            reply=True,
            extra={"reply": {"text": "", "problems": list(problems), "help": help_text}},
        )

    def _tier_agents(self, tier: str | None) -> list[str]:
        found = self.settings.tier(tier) if tier else None
        return list(found.agents) if found else []

    def _queue(
        self,
        session: Session,
        ticket: Ticket,
        message: Message | None,
        mail: ParsedMail | None,
        template: str,
        kind: str,
        to: list[str],
        wanted: list[str | None],
        now: datetime,
        *,
        reply: bool,
        extra: dict[str, Any] | None = None,
        from_name: str | None = None,
        automatic: bool = True,
        in_reply_to: str | None = None,
        references: tuple[str, ...] = (),
        attachments: tuple[tuple[str, str, bytes], ...] = (),
    ) -> str | None:
        language = next((w for w in wanted if w), "en")
        if in_reply_to is None and reply and mail is not None:
            in_reply_to = mail.message_id
            references = (*mail.references, mail.message_id) if mail.message_id else mail.references
        try:
            context = {**self.context(ticket, message, mail, language), **(extra or {})}
        except Exception as exc:
            self._template_error(session, ticket.id, kind, template, exc, now, to)
            return None
        return self.send(
            session,
            ticket,
            template,
            kind,
            to,
            wanted,
            context,
            now,
            from_name=from_name,
            automatic=automatic,
            in_reply_to=in_reply_to,
            references=references,
            attachments=attachments,
        )
