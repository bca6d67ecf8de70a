"""Rendering a template and queueing the result: the one way mail enters the outbox."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from maildesk import history
from maildesk.config.model import Settings
from maildesk.outbox import budget, queue
from maildesk.outbox.compose import Outgoing, compose, new_message_id
from maildesk.render import TemplateSet, render_event
from maildesk.store.ingest import add_event
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
        self.agents = frozenset(
            a.lower() for t in settings.tiers for a in (*t.agents, t.lead) if a is not None
        )

    def reply_to(self, ticket_id: int) -> str:
        if self.settings.helpdesk.plus_addressing:
            local, _, domain = self.address.partition("@")
            return f"{local}+{ticket_id}@{domain}"
        return self.address

    def send(
        self,
        session: Session,
        ticket: Ticket | None,
        template: str,
        kind: str,
        to: list[str],
        wanted: list[str | None],
        context: dict[str, Any],
        now: datetime,
        *,
        from_name: str | None = None,
        automatic: bool = True,
        in_reply_to: str | None = None,
        references: tuple[str, ...] = (),
        attachments: tuple[tuple[str, str, bytes], ...] = (),
    ) -> str | None:
        """Render ``template`` with ``context`` and queue it; the Message-ID, or None if
        the template failed (recorded as an event, never raised)."""
        ticket_id = ticket.id if ticket is not None else None
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
            rendered = render_event(self.templates, template, wanted, context)
        except Exception as exc:  # a broken template must never cost us the customer's mail
            self._template_error(session, ticket_id, kind, template, exc, now, to)
            return None
        subject = rendered.subject
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
            html=rendered.html,
            from_name=from_name or self.settings.helpdesk.name,
            in_reply_to=in_reply_to,
            references=tuple(r for r in references if r),
            automatic=automatic,
            attachments=attachments,
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
        """A mail not sent because a budget is spent: on the ticket's record (the Mailer
        also alerts the lead)."""
        log.warning("ticket %s: %s to %s not sent: %s", ticket.id, kind, ", ".join(to), why)
        add_event(
            session,
            ticket.id,
            "maildesk",
            "mail_suppressed",
            {"kind": kind, "to": to, "why": why},
            now,
        )

    def _template_error(
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
