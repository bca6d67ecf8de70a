"""The frozen records that flow between stages, and the words they share.

A stage takes these and returns these; none of them is a database row or a
stdlib ``email.message.Message``, so a stage never imports the store (README
"How mail flows"). The store converts its rows to and from them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# Shared words: the values admins type and the database constrains.
TICKET_STATUSES = ("new", "open", "pending", "resolved", "closed")
PRIORITIES = ("urgent", "high", "normal", "low")
DONE = ("resolved", "closed")  # a ticket in one of these waits for a survey answer


@dataclass(frozen=True)
class Address:
    address: str
    name: str = ""

    def __str__(self) -> str:
        return f"{self.name} <{self.address}>" if self.name else self.address


@dataclass(frozen=True)
class Part:
    """An attachment, an inline image or an attached message."""

    filename: str
    content_type: str
    size: int
    content: bytes | None  # None when over the size limit (the raw mail still has it)
    content_id: str | None = None
    inline: bool = False


@dataclass(frozen=True)
class ParsedMail:
    """One mail as parse.py read it: decoded fields, the raw bytes kept whole."""

    raw: bytes
    dedupe_key: str
    message_id: str | None
    subject: str
    sender: Address | None
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    reply_to: tuple[Address, ...]
    date: datetime | None
    in_reply_to: str | None
    references: tuple[str, ...]
    headers: tuple[tuple[str, str], ...]  # (lower-case name, decoded value), in order
    text: str  # the whole text body (HTML turned into text when there is no text part)
    html: str | None  # sanitized
    parts: tuple[Part, ...]
    content_type: str
    defects: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    report_type: str = ""  # multipart/report's report-type, lower-case (guards.py)

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers if k == name), None)

    def header_all(self, name: str) -> list[str]:
        name = name.lower()
        return [v for k, v in self.headers if k == name]


@dataclass(frozen=True)
class Trust:
    """The sender's authentication by our MTA and the spam filter's word (trust/sender.py)."""

    authentication: str = "none"  # pass | fail | none: is the From address the sender?
    why: str = "no Authentication-Results from our MTA"
    results: Mapping[str, str] = field(default_factory=dict)  # dmarc, spf, dkim, ... -> result
    spam: bool = False
    spam_score: float | None = None
    reasons: tuple[str, ...] = ()  # why no automatic mail may go to this sender
    ignored: tuple[str, ...] = ()  # authserv-ids of Authentication-Results not trusted

    @property
    def suspicious(self) -> bool:
        return bool(self.reasons)


@dataclass(frozen=True)
class Bounce:
    """A delivery failure: which of our mails it is about, for whom, why."""

    original_ids: tuple[str, ...]
    recipients: tuple[str, ...]
    status: str | None


@dataclass(frozen=True)
class Verdict:
    """What the guards found; ``reasons`` explain why no automatic reply may go out.

    ``trust`` is the sender's authentication and the spam filter's word: a
    suspicious sender is answered by no robot either, but unlike a loop
    suspect their mail is a real request.
    """

    reasons: tuple[str, ...] = ()
    bounce: Bounce | None = None
    trust: Trust = field(default_factory=Trust)
    # A robot talking to us (our own mail quoted or looped back, the same text again
    # and again): not even the agents are told of a new ticket it opens.
    loop: bool = False

    @property
    def loop_suspect(self) -> bool:
        return bool(self.reasons) or self.bounce is not None

    @property
    def silent(self) -> bool:
        """No automatic mail may go to this sender: a robot, a forged From, spam."""
        return self.loop_suspect or self.trust.suspicious

    @property
    def kind(self) -> str:
        if self.bounce is not None:
            return "bounce"
        return "auto" if self.reasons else "mail"


@dataclass(frozen=True)
class TicketFacts:
    """What threading needs to know about an existing ticket."""

    id: int
    status: str
    closed_at: datetime | None
    people: frozenset[str]  # requester, participants
    message_ids: frozenset[str]  # of its stored and sent messages
    requester: str | None = None


@dataclass(frozen=True)
class Decision:
    """Where the message goes, and why (for the event log and `rules test`)."""

    ticket_id: int | None  # None: a new ticket
    how: str  # token | references | plus-address | new | admitted
    reason: str
    reopen: bool = False
    follow_up_of: int | None = None
    hold: bool = False
    cause: str = ""  # why held: stranger | forged_agent | suspicious (trust/join.py)
    admitted: bool = False  # an agent or admin let held mail in: no join check, sender vouched


@dataclass(frozen=True)
class Sender:
    """Who wrote, as far as we believe it."""

    address: str
    agent: bool  # an agent, believed (helpdesk.trust_agents)
    claims_agent: bool  # the From is an agent's address, believed or not
    trust: Trust
    ours: bool = False  # our own address (a copy of our mail): stored, never answered


@dataclass(frozen=True)
class Route:
    """The result of routing: what a new ticket gets (or a reply changes)."""

    tier: str | None = None
    priority: str | None = None
    tags: tuple[str, ...] = ()
    assignee: str | None = None
    sla_policy: str | None = None
    customer_category: str | None = None
    acknowledge: str | bool | None = None  # template, False: none, None: the default
    language: str | None = None
    notify: tuple[str, ...] = ()
    survey: bool | None = None  # False: no satisfaction survey
    trace: tuple[str, ...] = ()  # the rules that matched, "name (file:line)"


@dataclass(frozen=True)
class Command:
    name: str
    argument: str = ""


@dataclass(frozen=True)
class Commands:
    """An agent's reply read for commands (commands.py)."""

    commands: tuple[Command, ...] = ()
    text: str = ""  # the mail's text without the command lines
    problems: tuple[str, ...] = field(default=())

    @property
    def note(self) -> bool:
        return any(c.name == "note" for c in self.commands)


@dataclass(frozen=True)
class Outgoing:
    """What to send; ``compose`` turns it into a message."""

    kind: str  # acknowledgement | notification | ...
    to: tuple[str, ...]
    subject: str
    text: str
    html: str | None = None
    from_name: str = ""
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    automatic: bool = True  # Auto-Submitted: auto-replied and our X-Loop
    attachments: tuple[tuple[str, str, bytes], ...] = ()  # (file name, content type, bytes)
    # Images the HTML shows (src="cid:..."): (Content-ID, file name, content type, bytes).
    inline: tuple[tuple[str, str, str, bytes], ...] = ()


@dataclass(frozen=True)
class Letter:
    """A mail to write from a template: outbox/writer.py renders, composes and queues it."""

    template: str
    kind: str  # acknowledgement | notification | reply | sla_reminder | ...
    to: tuple[str, ...]
    wanted: tuple[str | None, ...]  # languages, first choice first
    context: Mapping[str, Any]  # the template's values
    from_name: str | None = None
    automatic: bool = True
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    attachments: tuple[tuple[str, str, bytes], ...] = ()
    inline: tuple[tuple[str, str, str, bytes], ...] = ()  # as Outgoing.inline
    # A finished HTML body (the weekly report's page) in place of the rendered one.
    html: str | None = None


@dataclass(frozen=True)
class Fired:
    """One thing the tick did (or, in a dry run, would do)."""

    kind: str  # reminder | breach | digest
    ticket: str  # token, or the tier for a digest
    target: str
    due_at: datetime | None
    to: tuple[str, ...]
    detail: str = ""
