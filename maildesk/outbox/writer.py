"""Rendering a template and queueing the result: the one way mail enters the outbox.

A letter (mail.py) says what to write; the writer checks the hourly budgets,
renders, composes and queues it in the caller's transaction. A spent budget
stops the mail and alerts a lead (alerts.py) instead.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session

from maildesk.config.model import Settings
from maildesk.mail import Letter, Outgoing
from maildesk.outbox import alerts, budget
from maildesk.outbox.compose import compose, new_message_id
from maildesk.render import TemplateSet, render_event
from maildesk.store import history
from maildesk.store import outbox as queue
from maildesk.store.events import add_event
from maildesk.store.models import Ticket
from maildesk.thread import ticket_token

log = logging.getLogger("maildesk.mails")


class Writer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.folder = settings.paths.templates
        # Replaced whole by the daemon when an edited folder passes its check.
        self.templates = TemplateSet(self.folder)
        self.address = settings.helpdesk.address
        self.domain = self.address.rpartition("@")[2]
        self.agents = frozenset(a.lower() for a in settings.agent_addresses)

    def reply_to(self, ticket_id: int) -> str:
        if self.settings.helpdesk.plus_addressing:
            local, _, domain = self.address.partition("@")
            return f"{local}+{ticket_id}@{domain}"
        return self.address

    def send(
        self, session: Session, ticket: Ticket | None, letter: Letter, now: datetime
    ) -> str | None:
        """Render the letter and queue it; the Message-ID, or None if a budget is spent
        or the template failed (recorded as an event, never raised)."""
        ticket_id = ticket.id if ticket is not None else None
        kind, template, to = letter.kind, letter.template, list(letter.to)
        if history.silent(session):
            return None  # an imported mail: history, nobody is to hear of it now
        if ticket is not None and kind not in budget.UNCOUNTED:
            outbox = self.settings.outbox
            why = budget.spend(
                session,
                ticket.id,
                [a for a in to if a.lower() not in self.agents],
                per_ticket=outbox.per_ticket_per_hour,
                per_address=outbox.per_address_per_hour,
                now=now,
            )
            if why is not None:
                self.suppressed(session, ticket, kind, to, why, now)
                return None
        try:
            rendered = render_event(
                self.templates,
                template,
                list(letter.wanted),
                dict(letter.context),
                layout=self.settings.outbox.html,
            )
        except Exception as exc:  # a broken template must never cost us the customer's mail
            self.template_error(session, ticket_id, kind, template, exc, now, to)
            return None
        subject = rendered.subject
        html = rendered.html
        if letter.html is not None and self.settings.outbox.html:
            html = letter.html
        if ticket is not None:
            token = ticket_token(self.settings.helpdesk.token_format, ticket.id)
            subject = subject or f"{token} {ticket.subject}"
            if token not in subject:
                subject = f"{token} {subject}"
        outgoing = Outgoing(
            kind=kind,
            to=tuple(to),
            subject=subject or self.settings.helpdesk.name,
            text=rendered.text,
            html=html,
            from_name=letter.from_name or self.settings.helpdesk.name,
            in_reply_to=letter.in_reply_to,
            references=tuple(r for r in letter.references if r),
            automatic=letter.automatic,
            attachments=letter.attachments,
            inline=letter.inline if html else (),
        )
        message_id = new_message_id(self.domain, ticket_id)
        raw = compose(
            outgoing,
            message_id=message_id,
            sender=self.address,
            reply_to=self.reply_to(ticket_id) if ticket_id else self.address,
            loop_token=self.address,
            date=now,
        )
        queue.enqueue(
            session,
            ticket_id=ticket_id,
            kind=kind,
            message_id=message_id,
            sender=self.address,
            recipients=list(to),
            raw=raw,
            now=now,
        )
        add_event(
            session,
            ticket_id,
            "maildesk",
            "queued",
            {
                "kind": kind,
                "to": list(to),
                "message_id": message_id,
                "template": f"{template}.{rendered.language}",
            },
            now,
        )
        return message_id

    def suppressed(
        self, session: Session, ticket: Ticket, kind: str, to: list[str], why: str, now: datetime
    ) -> None:
        """A mail not sent because a budget is spent: on the ticket's record, and the
        lead is alerted."""
        log.warning("ticket %s: %s to %s not sent: %s", ticket.id, kind, ", ".join(to), why)
        add_event(
            session,
            ticket.id,
            "maildesk",
            "mail_suppressed",
            {"kind": kind, "to": to, "why": why},
            now,
        )
        self.loop_alert(session, ticket, why, now)

    def loop_alert(self, session: Session, ticket: Ticket, why: str, now: datetime) -> None:
        """Tell a lead that a robot is talking to the desk (once a day per ticket)."""
        letter = alerts.loop_alert(self.settings, session, ticket, why, now)
        if letter is not None:
            self.send(session, ticket, letter, now)

    def template_error(
        self,
        session: Session,
        ticket_id: int | None,
        kind: str,
        template: str,
        exc: Exception,
        now: datetime,
        to: list[str],
    ) -> None:
        """A mail that could not be written: an event, and a failed outbox row that
        `maildesk outbox list` shows, so that it is never lost without a trace."""
        log.error("ticket %s: %s not sent: template %s: %s", ticket_id, kind, template, exc)
        add_event(
            session,
            ticket_id,
            "maildesk",
            "template_error",
            {"kind": kind, "template": template, "error": str(exc)[:500]},
            now,
        )
        queue.enqueue(
            session,
            ticket_id=ticket_id,
            kind=kind,
            message_id=new_message_id(self.domain, ticket_id),
            sender=self.address,
            recipients=list(to),
            raw=b"",
            now=now,
            failed=f"template {template}: {str(exc)[:500]} (not composed, never sent)",
        )
