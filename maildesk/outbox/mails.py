"""Which mail a ticket change causes, written to the outbox in the same transaction.

The acknowledgement and the tier's notification for a new ticket, customer
replies to the watchers, agent replies relayed to customers, copies, status
notices and command errors. SLA reminders, breaches and digests use ``send``
with their own values (maildesk/sla/notices.py).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from maildesk.config.model import Settings
from maildesk.htmlreply import Shown, name_images, new_html, shown_images
from maildesk.mail import Letter, ParsedMail, Route
from maildesk.outbox.context import ticket_values
from maildesk.outbox.writer import Writer
from maildesk.store import agents as agents_store
from maildesk.store import outbox as queue
from maildesk.store.events import add_event
from maildesk.store.models import Message, Ticket
from maildesk.thread import ticket_token

log = logging.getLogger("maildesk.mails")


def _agent_reply(
    text: str, agent: str, message: Message, markup: str | None = None
) -> dict[str, Any]:
    """Template values for an agent's answer (relayed, or copied to colleagues);
    ``markup``: the answer as the agent formatted it (htmlreply.py)."""
    return {
        "reply": {"text": text, "html": markup, "problems": [], "help": ""},
        "agent": {"name": agent, "address": message.from_address},
    }


class Mailer:
    """The mail a ticket's life causes, in the same transaction as the change: which
    letters, to whom; the writer renders and queues them."""

    def __init__(self, settings: Settings, writer: Writer | None = None) -> None:
        self.settings = settings
        self.writer = writer or Writer(settings)
        self.address = settings.helpdesk.address
        self.limit = settings.outbox.acknowledgements_per_hour

    def context(
        self, ticket: Ticket, message: Message | None, mail: ParsedMail | None, language: str
    ) -> dict[str, Any]:
        """The values every ticket template sees (outbox/context.py)."""
        return ticket_values(self.settings, ticket, message, mail, language)

    def send(
        self, session: Session, ticket: Ticket | None, letter: Letter, now: datetime
    ) -> str | None:
        """A letter of somebody else's (SLA notices, surveys, held-mail notices) out."""
        return self.writer.send(session, ticket, letter, now)

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
        only: str | None = None,
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
                    Letter(
                        template,
                        "acknowledgement",
                        (customer,),
                        tuple(wanted),
                        {"articles": articles or []},
                    ),
                    now,
                    reply=True,
                )
        # Given to one agent (tier assign, on call): they alone hear of it, not the tier.
        agents = [only] if only else self._tier_agents(ticket.tier)
        extra = [a for a in route.notify if a not in agents]
        if notify and (agents or extra):
            self._queue(
                session,
                ticket,
                message,
                mail,
                Letter(
                    "notification",
                    "notification",
                    (
                        *agents,
                        *extra,
                    ),
                    (self.settings.helpdesk.default_language, "en"),
                    {},
                ),
                now,
                reply=False,
                show=True,
            )

    def watchers(
        self, ticket: Ticket, session: Session | None = None, now: datetime | None = None
    ) -> list[str]:
        """Who hears about a customer's reply: the assignee, else the tier's agents; with
        ``session`` and ``now``, the tier's other agents at work while the assignee is
        away (`maildesk agents away`, an out-of-office)."""
        agents = self._tier_agents(ticket.tier)
        if not ticket.assignee:
            return agents
        if session is None or now is None:
            return [ticket.assignee]
        return agents_store.stand_ins(session, ticket.assignee, agents, now)

    def on_customer_reply(
        self, session: Session, ticket: Ticket, message: Message, mail: ParsedMail, now: datetime
    ) -> None:
        to = [a for a in self.watchers(ticket, session, now) if a]
        to += [a for a in ticket.notify if a not in to]
        if to:
            self._queue(
                session,
                ticket,
                message,
                mail,
                Letter(
                    "customer_reply",
                    "customer_reply",
                    tuple(to),
                    (self.settings.helpdesk.default_language, "en"),
                    {},
                ),
                now,
                reply=False,
                show=True,
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
        markup, inline = self.html_of(mail, text)
        shown = shown_images(mail.parts, inline)
        text = name_images(text)
        self._queue(
            session,
            ticket,
            message,
            mail,
            Letter(
                "reply",
                "reply",
                tuple(customers),
                tuple(wanted),
                _agent_reply(text, agent, message, markup),
                automatic=False,
                from_name=f"{agent} via {self.settings.helpdesk.name}"
                if agent
                else self.settings.helpdesk.name,
                in_reply_to=thread_id,
                references=tuple(r for r in refs if r),
                attachments=tuple(
                    (p.filename, p.content_type, p.content)
                    for i, p in enumerate(mail.parts)
                    if not p.inline and p.content is not None and i not in shown
                ),
                inline=inline,
            ),
            now,
            reply=False,
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
        markup, inline = self.html_of(mail, text)
        self._queue(
            session,
            ticket,
            message,
            mail,
            Letter(
                "agent_copy",
                "agent_copy",
                tuple(list(dict.fromkeys(to))),
                (self.settings.helpdesk.default_language, "en"),
                _agent_reply(text, agent, message, markup),
                inline=inline,
            ),
            now,
            reply=False,
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
            session,
            ticket,
            message,
            mail,
            Letter("status", "status", tuple(customers), tuple(wanted), {}),
            now,
            reply=False,
        )

    def merged_notice(
        self,
        session: Session,
        target: Ticket,
        source: Ticket,
        to: list[str],
        thread: tuple[str | None, tuple[str, ...]],
        now: datetime,
    ) -> None:
        """``source``'s customer: their request goes on as ``target`` (its token in the
        subject), threaded under their last mail (``thread``: its Message-ID and
        References)."""
        wanted = (source.language, target.language, self.settings.helpdesk.default_language, "en")
        last, refs = thread
        merged = {
            "id": source.id,
            "token": ticket_token(self.settings.helpdesk.token_format, source.id),
            "subject": source.subject,
        }
        letter = Letter(
            "merged",
            "merged",
            tuple(to),
            wanted,
            {"merged": merged},
            in_reply_to=last,
            references=tuple(r for r in (*refs, last) if r),
        )
        self._queue(session, target, None, None, letter, now, reply=False)

    def incident_resolved(
        self, session: Session, incident: Ticket, problem: Ticket, to: list[str], now: datetime
    ) -> None:
        """The problem behind the customer's request is solved, and so is their request."""
        wanted = (incident.language, self.settings.helpdesk.default_language, "en")
        values = {
            "problem": {
                "id": problem.id,
                "token": ticket_token(self.settings.helpdesk.token_format, problem.id),
                "subject": problem.subject,
            }
        }
        letter = Letter("incident_resolved", "status", tuple(to), wanted, values)
        self._queue(session, incident, None, None, letter, now, reply=False)

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
            Letter(
                "command_error",
                "command_error",
                (message.from_address,),
                (self.settings.helpdesk.default_language, "en"),
                {"reply": {"text": "", "problems": list(problems), "help": help_text}},
            ),
            now,
            reply=True,
        )

    def html_of(self, mail: ParsedMail | None, text: str, *, agent: bool = True) -> Shown:
        """The mail's new HTML that says ``text``, and its images (htmlreply.py)."""
        if mail is None or not self.settings.outbox.html:
            return None, ()
        keep = agent and self.settings.outbox.agent_signatures == "keep"
        return new_html(mail, text, self.address.rpartition("@")[2], signatures=not keep)

    def _tier_agents(self, tier: str | None) -> list[str]:
        found = self.settings.tier(tier) if tier else None
        return list(found.agents) if found else []

    def _queue(
        self,
        session: Session,
        ticket: Ticket,
        message: Message | None,
        mail: ParsedMail | None,
        letter: Letter,
        now: datetime,
        *,
        reply: bool,
        show: bool = False,
    ) -> str | None:
        """The letter with the ticket's values under its own; ``reply`` threads it
        under the mail that caused it; ``show``: the agents see the customer's mail
        as sent (its HTML sanitized, with its images)."""
        language = next((w for w in letter.wanted if w), "en")
        if letter.in_reply_to is None and reply and mail is not None and mail.message_id:
            references = (*mail.references, mail.message_id)
            letter = replace(letter, in_reply_to=mail.message_id, references=references)
        elif letter.in_reply_to is None and reply and mail is not None:
            letter = replace(letter, references=mail.references)
        try:
            context = {**self.context(ticket, message, mail, language), **letter.context}
            if show and mail is not None:
                shown = context["message"]
                markup, inline = self.html_of(mail, shown["visible_text"], agent=False)
                context["message"] = {**shown, "html": markup}
                letter = replace(letter, inline=inline)
        except Exception as exc:
            self.writer.template_error(
                session, ticket.id, letter.kind, letter.template, exc, now, list(letter.to)
            )
            return None
        return self.writer.send(session, ticket, replace(letter, context=context), now)
