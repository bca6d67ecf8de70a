"""The one place that knows the stage order: parse -> guards -> thread -> route -> store.

``Pipeline.ingest`` takes raw bytes from any source and returns an Outcome
only after the database transaction has committed; sources acknowledge to
their peer (IMAP move, 250, exit 0) only then. A database outage raises
``TryLater``; anything else unexpected quarantines the message with its
traceback, so no input can stop a source.
"""

from __future__ import annotations

import hashlib
import logging
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from maildesk import agent_mail, tickets
from maildesk.clock import Clock, SystemClock
from maildesk.commands import parse_commands
from maildesk.config.model import Settings
from maildesk.errors import Quarantined, TryLater, UserError
from maildesk.guards import Ours, Verdict, judge
from maildesk.outbox.mails import Mailer
from maildesk.parse import Limits, ParsedMail, parse_mail
from maildesk.routing.route import Route
from maildesk.routing.router import Router
from maildesk.store import ingest as store
from maildesk.store.db import transaction
from maildesk.store.models import Ticket
from maildesk.thread import (
    Decision,
    Policy,
    decide,
    find_token,
    plus_ticket,
    referenced_ids,
)
from maildesk.visible import visible_text

log = logging.getLogger("maildesk.pipeline")


@dataclass(frozen=True)
class Outcome:
    """What happened to one message; every outcome is committed."""

    status: str  # stored | duplicate | quarantined | held | bounce
    ticket_id: int | None = None
    message_id: str | None = None
    new_ticket: bool = False
    auto_reply: bool = False  # may an automatic reply go out (not a loop suspect)
    detail: str = ""
    acknowledge: str | bool | None = None  # a rule's choice of template, or False for none

    def log(self, logger: logging.Logger, source: str, where: str = "") -> None:
        """One INFO line with the ticket and Message-ID, for text and JSON logs alike."""
        logger.info(
            "%s%s message %s: %s ticket=%s",
            source,
            where,
            self.message_id,
            self.status,
            self.ticket_id,
            extra={"ticket": self.ticket_id, "message_id": self.message_id, "source": source},
        )


class Pipeline:
    def __init__(
        self,
        settings: Settings,
        sessions: sessionmaker[Session],
        clock: Clock | None = None,
        router: Router | None = None,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.clock = clock or SystemClock()
        self.limits = Limits(max_attachment_size=settings.ingest.max_attachment_size)
        agents = {a for t in settings.tiers for a in (*t.agents, t.lead) if a}
        self.policy = Policy(
            token_format=settings.helpdesk.token_format,
            support_address=settings.helpdesk.address.lower(),
            agents=frozenset(a.lower() for a in agents),
            plus_addressing=settings.helpdesk.plus_addressing,
            reopen_days=settings.helpdesk.reopen_days,
            foreign_token=settings.helpdesk.foreign_token,
        )
        ours = {settings.helpdesk.address.lower()}
        ours |= {b.username.lower() for b in settings.mailboxes if "@" in b.username}
        self.ours = Ours(addresses=frozenset(ours), loop_token=settings.helpdesk.address)
        if router is None:
            router, problems = Router.load(settings)
            if problems:
                raise UserError(problems)
        # Replaced whole when rule files change (see daemon.py); read once per message.
        self.router = router
        self.mailer = Mailer(settings)
        self.tiers = frozenset(t.name for t in settings.tiers)
        # Told of every committed outcome with its source and seconds since arrival (metrics).
        self.observers: list[Callable[[Outcome, str, float], None]] = []

    def ingest(
        self,
        raw: bytes,
        source: str,
        *,
        acknowledge: bool = True,
        arrived: datetime | None = None,
    ) -> Outcome:
        """Store one message exactly once; raises TryLater if the database is down.

        ``acknowledge=False`` (archive import) marks the outcome as not to be
        answered automatically, whatever the guards say. ``arrived`` (the IMAP
        server's INTERNALDATE) dates the arrival for the latency metric; else
        it is now.
        """
        started = time.monotonic()
        outcome = self._ingest(raw, source, acknowledge)
        if self.observers:
            waited = time.monotonic() - started
            if arrived is not None:
                waited = max(waited, (datetime.now(UTC) - arrived).total_seconds())
            for observe in self.observers:
                observe(outcome, source, waited)
        return outcome

    def _ingest(self, raw: bytes, source: str, acknowledge: bool) -> Outcome:
        now = self.clock.now()
        try:
            mail = parse_mail(raw, self.limits)
        except Quarantined as exc:
            return self._quarantine(raw, source, exc.reason, now)
        except Exception as exc:  # a parser bug must not stop the source
            return self._quarantine(
                raw,
                source,
                f"cannot parse: {type(exc).__name__}: {exc}",
                now,
                detail=traceback.format_exc(),
            )
        verdict = judge(mail, self.ours)
        for attempt in range(3):
            try:
                with transaction(self.sessions) as session:
                    outcome = self.store_parsed(
                        session, mail, verdict, source, now, acknowledge=acknowledge
                    )
                return outcome if acknowledge else replace(outcome, auto_reply=False)
            except TryLater:
                raise
            except IntegrityError:
                # Another process stored the same mail (or created the same customer)
                # between our check and our insert: look again.
                if attempt == 2:
                    raise
                continue
            except Exception as exc:
                log.exception(
                    "message %s from %s failed; quarantined",
                    mail.message_id,
                    source,
                    extra={"message_id": mail.message_id, "source": source},
                )
                return self._quarantine(
                    raw,
                    source,
                    f"internal error: {type(exc).__name__}: {exc}",
                    now,
                    detail=traceback.format_exc(),
                    message_id=mail.message_id,
                )
        raise AssertionError("unreachable")

    def is_agent(self, mail: ParsedMail) -> bool:
        """An agent writing, as far as we trust the sender (helpdesk.trust_agents)."""
        if mail.sender is None or mail.sender.address not in self.policy.agents:
            return False
        if self.settings.helpdesk.trust_agents == "sender":
            return True
        results = " ".join(mail.header_all("Authentication-Results")).lower()
        return "spf=pass" in results or "dkim=pass" in results

    def store_parsed(
        self,
        session: Session,
        mail: ParsedMail,
        verdict: Verdict,
        source: str,
        now: datetime,
        forced: Decision | None = None,
        *,
        acknowledge: bool = True,
    ) -> Outcome:
        """Every stage after parsing, inside the caller's transaction.

        ``forced`` skips threading (an admin released a held message into its ticket).
        """
        where = store.already_stored(session, mail.dedupe_key)
        if where is not None:
            return Outcome(
                "duplicate", message_id=mail.message_id, detail=f"already stored ({where})"
            )
        if mail.sender is None:
            return self._quarantine_in(session, mail, source, "no sender address (From:)", now)
        if verdict.bounce is not None:
            return self._bounce(session, mail, verdict, source, now)
        decision = forced or self._decide(session, mail, now)
        if decision.hold:
            store.quarantine(
                session,
                mail.raw,
                source=source,
                reason=f"held for review: {decision.reason}",
                now=now,
                kind="held",
                message_id=mail.message_id,
                dedupe_key=mail.dedupe_key,
                ticket_id=decision.ticket_id,
            )
            return Outcome(
                "held",
                ticket_id=decision.ticket_id,
                message_id=mail.message_id,
                detail=decision.reason,
            )
        visible = visible_text(mail.text)
        acknowledge_with: str | bool | None = None
        route = Route()
        handled: str | None = None
        if decision.ticket_id is None:
            ticket, route = tickets.open_ticket(self, session, mail, decision, source, now, visible)
            acknowledge_with = route.acknowledge
            new = True
        else:
            found = session.get(Ticket, decision.ticket_id)
            assert found is not None  # decide() only names tickets that exist
            ticket = found
            new = False
            handled = tickets.update_ticket(
                self, session, ticket, mail, decision, now, visible, verdict.loop_suspect
            )
        agent = not new and self.is_agent(mail)
        commands = parse_commands(visible, self.tiers) if agent else None
        message = store.store_message(
            session,
            ticket,
            mail,
            visible=commands.text if commands and not commands.problems else visible,
            kind=verdict.kind,
            reasons=verdict.reasons,
            source=source,
            now=now,
            direction="out" if agent else "in",
            # Rejected commands and #note: kept, never shown to a customer.
            is_note=bool(commands and (commands.note or commands.problems)),
        )
        tickets.add_participants(self, session, ticket, mail, new, now)
        if commands is not None:
            agent_mail.handle(self, session, ticket, message, mail, commands, now)
        elif not new and not verdict.loop_suspect and handled is None:
            self.mailer.on_customer_reply(session, ticket, message, mail, now)
        if new:
            self.mailer.on_new_ticket(
                session,
                ticket,
                message,
                mail,
                route,
                acknowledge=acknowledge and not verdict.loop_suspect,
                now=now,
                articles=tickets.suggest_articles(self, session, ticket, message, now),
            )
        if not new:
            store.add_event(
                session,
                ticket.id,
                mail.sender.address,
                "message",
                {"message": message.id, "how": decision.how, "reason": decision.reason},
                now,
            )
        return Outcome(
            "stored",
            ticket_id=ticket.id,
            message_id=mail.message_id,
            new_ticket=new,
            auto_reply=not verdict.loop_suspect and acknowledge_with is not False,
            detail=decision.reason,
            acknowledge=acknowledge_with,
        )

    def _decide(self, session: Session, mail: ParsedMail, now: datetime) -> Decision:
        hits = store.reference_hits(session, referenced_ids(mail))
        candidates = set(hits.values())
        token = find_token(mail.subject, self.policy.token_format)
        if token is not None:
            candidates.add(token)
        plus = plus_ticket(mail, self.policy.support_address)
        if plus is not None:
            candidates.add(plus)
        facts = store.ticket_facts(session, candidates)
        return decide(mail, self.policy, hits, facts, now)

    def _bounce(
        self, session: Session, mail: ParsedMail, verdict: Verdict, source: str, now: datetime
    ) -> Outcome:
        assert verdict.bounce is not None
        bounce = verdict.bounce
        hits = store.reference_hits(session, bounce.original_ids)
        ticket_id = next((hits[i] for i in bounce.original_ids if i in hits), None)
        if ticket_id is None:
            return self._quarantine_in(
                session, mail, source, "bounce for a message maildesk did not send", now
            )
        ticket = session.get(Ticket, ticket_id)
        assert ticket is not None
        message = store.store_message(
            session,
            ticket,
            mail,
            visible=visible_text(mail.text),
            kind="bounce",
            reasons=verdict.reasons,
            source=source,
            now=now,
        )
        store.add_event(
            session,
            ticket_id,
            mail.sender.address if mail.sender else "mailer",
            "bounce",
            {
                "message": message.id,
                "recipients": list(bounce.recipients),
                "status": bounce.status,
                "original": list(bounce.original_ids),
            },
            now,
        )
        return Outcome(
            "bounce",
            ticket_id=ticket_id,
            message_id=mail.message_id,
            detail=f"delivery failed for {', '.join(bounce.recipients) or 'unknown'}",
        )

    def _quarantine_in(
        self, session: Session, mail: ParsedMail, source: str, reason: str, now: datetime
    ) -> Outcome:
        store.quarantine(
            session,
            mail.raw,
            source=source,
            reason=reason,
            now=now,
            message_id=mail.message_id,
            dedupe_key=mail.dedupe_key,
        )
        return Outcome("quarantined", message_id=mail.message_id, detail=reason)

    def _quarantine(
        self,
        raw: bytes,
        source: str,
        reason: str,
        now: datetime,
        detail: str | None = None,
        message_id: str | None = None,
    ) -> Outcome:
        key = "raw-sha256:" + hashlib.sha256(raw).hexdigest()
        for _ in range(2):
            try:
                with transaction(self.sessions) as session:
                    if store.already_stored(session, key) is not None:
                        return Outcome(
                            "duplicate", message_id=message_id, detail="already quarantined"
                        )
                    store.quarantine(
                        session,
                        raw,
                        source=source,
                        reason=reason,
                        now=now,
                        detail=detail,
                        message_id=message_id,
                        dedupe_key=key,
                    )
                return Outcome("quarantined", message_id=message_id, detail=reason)
            except IntegrityError:
                continue  # quarantined by another process just now
        return Outcome("duplicate", message_id=message_id, detail="already quarantined")
