"""The one place that knows the stage order: parse -> guards -> thread -> join -> route -> store.

``Pipeline.ingest`` takes raw bytes from any source and returns an Outcome
only after the database transaction has committed; sources acknowledge to
their peer (IMAP move, 250, exit 0) only then. A database outage raises
``TryLater``; anything else unexpected quarantines the message with its
traceback, so no input can stop a source.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from maildesk import agent_mail, holding, tickets
from maildesk.clock import Clock, SystemClock
from maildesk.commands import parse_commands
from maildesk.config.model import Settings
from maildesk.errors import Quarantined, TryLater, UserError
from maildesk.guards import Ours, judge
from maildesk.mail import (
    Command,
    Commands,
    Decision,
    ParsedMail,
    Route,
    Sender,
    TicketFacts,
    Trust,
    Verdict,
)
from maildesk.outbox.mails import Mailer
from maildesk.outcome import Outcome
from maildesk.parse import Limits, content_hash, parse_mail, reused_key
from maildesk.routing.router import Router
from maildesk.store import history as past
from maildesk.store.db import transaction
from maildesk.store.events import add_event
from maildesk.store.lookups import (
    already_stored,
    reference_hits,
    same_text_count,
    stored_raw,
    ticket_facts,
)
from maildesk.store.models import Ticket
from maildesk.store.quarantine import quarantine
from maildesk.store.tickets import load_tickets, store_message
from maildesk.thread import Policy, decide, find_token, plus_ticket, referenced_ids
from maildesk.trust.join import FREEMAIL, JoinPolicy, admit
from maildesk.trust.sender import TrustPolicy, assess
from maildesk.visible import text_hash, visible_text

log = logging.getLogger("maildesk.pipeline")
GROUP_SIZE = 50  # messages committed together at most (ingest_many)
GROUP_SECONDS = 0.2  # a group commits at least this often
LARGE_MAIL = 1024 * 1024  # after a mail this large, memory is collected at once


def _let_go() -> None:
    """The ORM's rows of a stored mail reference each other (a message and its
    attachments), so its bytes wait for the cycle collector: three 25 MB mails in
    a row held 130 MB more until it ran. Collect now instead."""
    gc.collect()


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
        )
        self.trust = TrustPolicy(settings.trust.authserv_id, settings.trust.spam_score)
        self.join = JoinPolicy(
            join=settings.helpdesk.join,
            stranger=settings.helpdesk.foreign_token,
            suspicious=settings.trust.suspicious,
            freemail=FREEMAIL | {d.lower() for d in settings.helpdesk.freemail_domains},
        )
        ours = {settings.helpdesk.address.lower()}
        ours |= {b.username.lower() for b in settings.mailboxes if "@" in b.username}
        self.ours = Ours(
            addresses=frozenset(ours),
            loop_token=settings.helpdesk.address,
            domain=settings.helpdesk.address.rpartition("@")[2].lower(),
        )
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
        history: bool = False,
        arrived: datetime | None = None,
    ) -> Outcome:
        """Store one message exactly once; raises TryLater if the database is down.

        ``history=True`` (archive import) stores the mail at its own date and
        sends nothing for it (history.py). ``arrived`` (the IMAP server's
        INTERNALDATE) dates the arrival for the latency metric; else it is now.
        """
        started = time.monotonic()
        outcome = self._ingest(_read(raw, self.limits), source, history)
        self._observe(outcome, source, started, arrived)
        if len(raw) >= LARGE_MAIL:
            _let_go()
        return outcome

    def ingest_many(
        self,
        raws: Sequence[bytes],
        source: str,
        *,
        history: bool = False,
        arrived: Sequence[datetime | None] = (),
    ) -> Iterator[Outcome]:
        """Store messages in order, a group to a transaction; yields each outcome once
        its group has committed (raises TryLater like ingest).

        For the sources that acknowledge in bulk (an IMAP fetch, an archive):
        one commit per group instead of one per message, which on PostgreSQL is
        one WAL flush. A group commits at least every GROUP_SECONDS so that
        acknowledgements are not held back. If anything in a group fails, the
        group is rolled back and its messages go one at a time through the
        path of ``ingest``, which quarantines only the one at fault.
        """
        done = 0
        while done < len(raws):
            started = time.monotonic()
            group = raws[done : done + GROUP_SIZE]
            for outcome in self._group(group, source, history, started):
                when = arrived[done] if done < len(arrived) else None
                self._observe(outcome, source, started, when)
                done += 1
                yield outcome
            if any(len(raw) >= LARGE_MAIL for raw in group):
                _let_go()

    def _group(
        self, raws: Sequence[bytes], source: str, history: bool, started: float
    ) -> Iterator[Outcome]:
        outcomes: list[Outcome] = []
        failed = False
        try:
            with transaction(self.sessions) as session:
                for raw in raws:
                    read, now = _read(raw, self.limits), self.clock.now()
                    outcomes.append(self._store_read(session, read, source, history, now))
                    if time.monotonic() - started > GROUP_SECONDS:
                        break
        except TryLater:
            raise
        except Exception:
            failed = True
        if not failed:
            yield from outcomes
            return
        # Rolled back: each message of the group again on its own, in order.
        for raw in raws[: len(outcomes) + 1]:
            yield self._ingest(_read(raw, self.limits), source, history)

    def _observe(
        self, outcome: Outcome, source: str, started: float, arrived: datetime | None
    ) -> None:
        if not self.observers:
            return
        waited = time.monotonic() - started
        if arrived is not None:
            waited = max(waited, (datetime.now(UTC) - arrived).total_seconds())
        for observe in self.observers:
            observe(outcome, source, waited)

    def _ingest(self, read: _Read, source: str, history: bool) -> Outcome:
        now = self.clock.now()
        for attempt in range(3):
            try:
                with transaction(self.sessions) as session:
                    return self._store_read(session, read, source, history, now)
            except TryLater:
                raise
            except IntegrityError:
                # Another process stored the same mail (or created the same customer)
                # between our check and our insert: look again.
                if attempt == 2:
                    raise
                continue
            except Exception as exc:
                if read.mail is None:
                    if read.bare:
                        raise  # the bytes and a reason alone could not be written
                    # Quarantining failed on what we decoded: keep the bytes and why.
                    log.exception("quarantining a message from %s failed; kept bare", source)
                    why = f"could not be stored: {type(exc).__name__}"
                    return self._ingest(_Read(read.raw, None, why, bare=True), source, history)
                message_id = read.mail.message_id
                log.exception(
                    "message %s from %s failed; quarantined",
                    message_id,
                    source,
                    extra={"message_id": message_id, "source": source},
                )
                problem = f"internal error: {type(exc).__name__}: {exc}"
                failed = _Read(read.raw, None, problem, traceback.format_exc(), message_id)
                return self._ingest(failed, source, history)
        raise AssertionError("unreachable")

    def _store_read(
        self, session: Session, read: _Read, source: str, history: bool, now: datetime
    ) -> Outcome:
        if read.mail is None:
            return self._quarantine_raw(session, read, source, now)
        verdict = self.judge(read.mail)
        if not history:
            return self.store_parsed(session, read.mail, verdict, source, now)
        past.mark(session)
        when = moment(read.mail, now)
        outcome = self.store_parsed(session, read.mail, verdict, source, when, acknowledge=False)
        if outcome.ticket_id is not None:
            past.settle(session, outcome.ticket_id, when, now)
        return replace(outcome, auto_reply=False)

    def judge(self, mail: ParsedMail) -> Verdict:
        """The guards' verdict, with the sender's authentication and spam score."""
        return replace(judge(mail, self.ours), trust=assess(mail, self.trust))

    def is_agent(self, mail: ParsedMail, trust: Trust | None = None) -> bool:
        """An agent writing, as far as we believe the From (helpdesk.trust_agents):
        by its address, unless our MTA says it is forged; or only when our MTA
        vouches for it."""
        if mail.sender is None or mail.sender.address not in self.policy.agents:
            return False
        trust = trust or assess(mail, self.trust)
        if self.settings.trust_agents == "sender":
            return trust.authentication != "fail"
        return trust.authentication == "pass"

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
        reused: str | None = None
        where = already_stored(session, mail.dedupe_key)
        if where is not None:
            derived = self._reused_id(session, mail)
            if derived is None:
                return Outcome(
                    "duplicate", message_id=mail.message_id, detail=f"already stored ({where})"
                )
            reused, mail = mail.dedupe_key, replace(mail, dedupe_key=derived)
        if mail.sender is None:
            return self._quarantine_in(session, mail, source, "no sender address (From:)", now)
        if verdict.bounce is not None:
            return self._bounce(session, mail, verdict, source, now)
        # Kept while we work: the session would forget them (see load_tickets).
        known: dict[int, Ticket] = {}
        claims_agent = mail.sender.address in self.policy.agents
        vouched = forced is not None and forced.admitted and claims_agent
        sender = Sender(
            mail.sender.address,
            agent=vouched or self.is_agent(mail, verdict.trust),
            claims_agent=claims_agent,
            trust=verdict.trust,
            ours=self.ours.is_ours(mail.sender.address),
        )
        visible = visible_text(mail.text)
        body_hash = text_hash(visible)
        repeated = self._repeated(session, body_hash, now) if not sender.agent else None
        if repeated is not None:
            verdict = replace(verdict, reasons=(*verdict.reasons, repeated[0]), loop=True)
        if forced is not None:
            decision = forced
        else:
            decision, known, facts = self._decide(session, mail, now)
            decision = admit(decision, sender, facts, self.join)
        if decision.hold:
            return holding.hold(self, session, mail, verdict, decision, source, now, known)
        acknowledge_with: str | bool | None = None
        route = Route()
        handled: str | None = None
        first_contact = False
        if decision.ticket_id is None:
            ticket, route, first_contact = tickets.open_ticket(
                self, session, mail, decision, source, now, visible, verdict.trust
            )
            acknowledge_with = route.acknowledge
            new = True
        else:
            found = known.get(decision.ticket_id) or session.get(Ticket, decision.ticket_id)
            assert found is not None  # decide() only names tickets that exist
            ticket = found
            new = False
            handled = tickets.update_ticket(
                self, session, ticket, mail, decision, now, visible, verdict, sender.agent
            )
        agent = not new and sender.agent
        commands = parse_commands(visible, self.tiers, self.policy.agents) if agent else None
        if commands is not None and verdict.loop_suspect:
            # An agent's out-of-office: kept for the agents, never relayed, never a command.
            commands = Commands((Command("note"),), visible)
        elif commands is not None and holding.answers_held_notice(session, mail):
            # A reply to a held-mail notice is about the held mail: never for the customer.
            commands = replace(commands, commands=(*commands.commands, Command("note")))
        message = store_message(
            session,
            ticket,
            mail,
            visible=commands.text if commands and not commands.problems else visible,
            kind=verdict.kind,
            # Why no robot answers this sender: a loop suspect's reasons, and the MTA's.
            reasons=(*verdict.reasons, *verdict.trust.reasons),
            source=source,
            now=now,
            direction="out" if agent else "in",
            # Rejected commands and #note: kept, never shown to a customer.
            is_note=bool(commands and (commands.note or commands.problems)),
            body_hash=body_hash,
        )
        if repeated is not None and repeated[1]:
            self.mailer.writer.loop_alert(session, ticket, repeated[0], now)
        tickets.add_participants(
            self, session, ticket, mail, new, now, agent=agent, trusted=not verdict.trust.suspicious
        )
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
                acknowledge=acknowledge and not verdict.silent,
                notify=not verdict.loop,
                first_contact=first_contact,
                now=now,
                articles=tickets.suggest_articles(self, session, ticket, message, now),
            )
            if acknowledge and verdict.trust.suspicious and not verdict.loop_suspect:
                add_event(
                    session,
                    ticket.id,
                    "maildesk",
                    "acknowledgement_suppressed",
                    {"why": "; ".join(verdict.trust.reasons)},
                    now,
                )
        said = decision.reason
        if decision.reopen and ticket.status in ("resolved", "closed"):
            # Threading would have reopened it; a survey answer or an auto-reply did not.
            why = " (a survey answer)" if handled == "survey" else ""
            said = f"{said.split('; reopens')[0]}; the ticket stays {ticket.status}{why}"
        if not new:
            add_event(
                session,
                ticket.id,
                mail.sender.address,
                "message",
                {"message": message.id, "how": decision.how, "reason": said},
                now,
            )
        if reused is not None:
            add_event(
                session,
                ticket.id,
                "maildesk",
                "message_id_reused",
                {
                    "message": message.id,
                    "message_id": mail.message_id,
                    "stored_as": mail.dedupe_key,
                },
                now,
            )
        return Outcome(
            "stored",
            ticket_id=ticket.id,
            message_id=mail.message_id,
            new_ticket=new,
            auto_reply=not verdict.silent and acknowledge_with is not False,
            detail=said,
            acknowledge=acknowledge_with,
        )

    def _reused_id(self, session: Session, mail: ParsedMail) -> str | None:
        """A stored key again: None for the same mail delivered twice; for a different
        mail under a stored Message-ID, the key it is stored under instead (a leaked or
        reused ID must not make the desk drop a mail without trace)."""
        if mail.message_id is None or not mail.dedupe_key.startswith(("<", "mid-sha256:")):
            return None  # a key made from the content: the same key is the same mail
        earlier = stored_raw(session, mail.dedupe_key)
        if earlier is None:
            return None
        mine = content_hash(mail.raw)
        if content_hash(earlier) == mine:
            return None
        derived = reused_key(mail.dedupe_key, mine)
        return None if already_stored(session, derived) is not None else derived

    def _repeated(
        self, session: Session, body_hash: str | None, now: datetime
    ) -> tuple[str, bool] | None:
        """(why, first time) when customers sent this text too often this hour: a robot."""
        if body_hash is None:
            return None
        limit = self.settings.outbox.same_text_per_hour
        seen = same_text_count(session, body_hash, now - timedelta(hours=1))
        if seen + 1 < limit:
            return None
        return f"the same text came {seen + 1} times within the hour", seen + 1 == limit

    def _decide(
        self, session: Session, mail: ParsedMail, now: datetime
    ) -> tuple[Decision, dict[int, Ticket], dict[int, TicketFacts]]:
        hits = reference_hits(session, referenced_ids(mail))
        candidates = set(hits.values())
        token = find_token(mail.subject, self.policy.token_format)
        if token is not None:
            candidates.add(token)
        plus = plus_ticket(mail, self.policy.support_address)
        if plus is not None:
            candidates.add(plus)
        known = load_tickets(session, candidates)
        facts = ticket_facts(session, known)
        return decide(mail, self.policy, hits, facts, now), known, facts

    def _bounce(
        self, session: Session, mail: ParsedMail, verdict: Verdict, source: str, now: datetime
    ) -> Outcome:
        assert verdict.bounce is not None
        bounce = verdict.bounce
        hits = reference_hits(session, bounce.original_ids)
        ticket_id = next((hits[i] for i in bounce.original_ids if i in hits), None)
        if ticket_id is None:
            return self._quarantine_in(
                session, mail, source, "bounce for a message maildesk did not send", now
            )
        ticket = session.get(Ticket, ticket_id)
        assert ticket is not None
        message = store_message(
            session,
            ticket,
            mail,
            visible=visible_text(mail.text),
            kind="bounce",
            reasons=verdict.reasons,
            source=source,
            now=now,
        )
        add_event(
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
        quarantine(
            session,
            mail.raw,
            source=source,
            reason=reason,
            now=now,
            message_id=mail.message_id,
            dedupe_key=mail.dedupe_key,
        )
        return Outcome("quarantined", message_id=mail.message_id, detail=reason)

    def _quarantine_raw(self, session: Session, read: _Read, source: str, now: datetime) -> Outcome:
        """Mail we could not read (or store) keeps its bytes, keyed by their hash."""
        key = "raw-sha256:" + hashlib.sha256(read.raw).hexdigest()
        if already_stored(session, key) is not None:
            return Outcome("duplicate", message_id=read.message_id, detail="already quarantined")
        quarantine(
            session,
            read.raw,
            source=source,
            reason=read.problem,
            now=now,
            detail=read.detail,
            message_id=read.message_id,
            dedupe_key=key,
        )
        return Outcome("quarantined", message_id=read.message_id, detail=read.problem)


@dataclass(frozen=True)
class _Read:
    """A message as read: parsed, or the reason to quarantine it (and any traceback)."""

    raw: bytes
    mail: ParsedMail | None
    problem: str = ""
    detail: str | None = None
    message_id: str | None = None  # when storing it failed after parsing
    bare: bool = False  # nothing decoded from the mail: the last resort


def _read(raw: bytes, limits: Limits) -> _Read:
    try:
        return _Read(raw, parse_mail(raw, limits))
    except Quarantined as exc:
        return _Read(raw, None, exc.reason)
    except Exception as exc:  # a parser bug must not stop the source
        return _Read(
            raw, None, f"cannot parse: {type(exc).__name__}: {exc}", traceback.format_exc()
        )


def moment(mail: ParsedMail | None, now: datetime) -> datetime:
    """When the mail was written, as far as its Date says; now when it says nothing
    believable (missing, or in the future)."""
    if mail is None or mail.date is None or mail.date > now:
        return now
    return mail.date
