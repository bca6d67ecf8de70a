"""The shape of maildesk.toml: frozen, validated settings.

Pydantic checks types and unknown keys (strict: TOML is typed, so "993" is
not a port); ``load.py`` turns its errors into one line per problem and adds
the checks that span several keys (``semantics.py``). Paths are resolved
against the config file's folder while validating (the ``base`` context).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr, ValidationInfo

Security = Literal["tls", "starttls", "none"]


def _resolve(value: Path, info: ValidationInfo) -> Path:
    """Relative paths mean "next to the config file", not "wherever I was started"."""
    base = (info.context or {}).get("base")
    value = value.expanduser()
    if base is not None and not value.is_absolute():
        value = Path(base) / value
    return value


def _one_line(value: str) -> str:
    """Values that end up in mail headers must never carry CR/LF."""
    if "\r" in value or "\n" in value:
        raise ValueError("must be on one line (no line breaks)")
    return value


def _address(value: str) -> str:
    """A bare address: local@domain, no display name, no spaces."""
    _one_line(value)
    local, at, domain = value.rpartition("@")
    if not at or not local or "." not in domain or any(c in value for c in ' <>,;"'):
        raise ValueError(f'expected an e-mail address like "support@example.com", got "{value}"')
    return value


ConfigPath = Annotated[Path, Field(strict=False), AfterValidator(_resolve)]
Address = Annotated[str, AfterValidator(_address)]
OneLine = Annotated[str, AfterValidator(_one_line)]
Port = Annotated[int, Field(ge=1, le=65535)]


class Section(BaseModel):
    """Every table forbids unknown keys: a typo must not be silently ignored."""

    # validate_default: default paths ("rules") must be resolved like given ones.
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, validate_default=True)


class Credentials(Section):
    """A login whose password comes from the file, the environment or a file."""

    username: OneLine | None = None
    password: str | None = Field(default=None, repr=False)
    password_env: str | None = None
    password_file: ConfigPath | None = None

    def password_sources(self) -> list[str]:
        """The password keys that are set (exactly one is allowed)."""
        return [
            key
            for key in ("password", "password_env", "password_file")
            if getattr(self, key) is not None
        ]


class Helpdesk(Section):
    address: Address
    name: OneLine = "Support"
    token_format: OneLine = "[#{id}]"
    default_language: str = "en"
    timezone: str = "UTC"
    plus_addressing: bool = True
    reopen_days: Annotated[int, Field(ge=0)] = 14
    # Who may write into an existing ticket (see trust/join.py and README "Security model").
    join: Literal["participants", "domain", "anyone"] = "participants"
    # More public mail providers, whose users are never colleagues under join = "domain".
    freemail_domains: Annotated[tuple[str, ...], Field(strict=False)] = ()
    # Mail from someone who may not join the ticket it names: held, or a new ticket.
    foreign_token: Literal["new_ticket", "hold"] = "hold"
    # Unset: "authenticated" when [trust] authserv_id names our MTA, else "sender".
    trust_agents: Literal["sender", "authenticated"] | None = None
    # People one mail's To/Cc may add to a ticket, and copies of a reply beside the
    # requester: a mail with 3,000 Cc must not make every answer go to 3,001 people.
    max_cc: Annotated[int, Field(ge=0, le=1000)] = 20


class Trust(Section):
    """Which Authentication-Results to believe, when mail is spam, what to do with it."""

    # The authserv-id(s) our receiving MTA writes ("mx.example.com"; "mx.google.com"
    # for Gmail; "microsoft365" for Exchange Online, which writes none).
    authserv_id: Annotated[tuple[str, ...], Field(strict=False)] = ()
    # A SpamAssassin or rspamd score at or above this marks the mail as spam.
    spam_score: float = 5.0
    # New mail whose From failed authentication, or spam: a ticket that sends the
    # sender nothing ("ticket"), or held for an agent to admit ("hold").
    suspicious: Literal["ticket", "hold"] = "ticket"


class Database(Section):
    url: str = "sqlite:///maildesk.db"


class Mailbox(Credentials):
    name: OneLine
    host: OneLine
    username: OneLine
    auth: Literal["password", "xoauth2"] = "password"
    oauth2_token_command: str | None = None
    oauth2_token_file: ConfigPath | None = None
    port: Port | None = None
    security: Security = "tls"
    tls_verify: bool = True
    tls_ca_file: ConfigPath | None = None
    folder: str = "INBOX"
    processed_folder: str = "Processed"
    quarantine_folder: str = "Quarantine"
    poll_interval: Annotated[int, Field(ge=1)] = 30
    idle: bool = True
    timeout: Annotated[int, Field(ge=1)] = 60

    @property
    def effective_port(self) -> int:
        return self.port if self.port is not None else (993 if self.security == "tls" else 143)


class Smtp(Credentials):
    host: OneLine | None = None
    port: Port | None = None
    security: Security = "starttls"
    tls_verify: bool = True
    tls_ca_file: ConfigPath | None = None
    timeout: Annotated[int, Field(ge=1)] = 60
    spool_dir: ConfigPath | None = None

    @property
    def effective_port(self) -> int:
        if self.port is not None:
            return self.port
        return {"tls": 465, "starttls": 587, "none": 25}[self.security]


class Inbound(Section):
    listen: str = "127.0.0.1:8025"
    protocol: Literal["smtp", "lmtp"] = "smtp"
    max_message_size: Annotated[int, Field(ge=1024)] = 25 * 1024 * 1024
    # Messages stored at once (parsed and written: about four times their size in
    # memory); more wait on disk, then 451. Receiving is not limited: it goes to disk.
    max_receiving: Annotated[int, Field(ge=1, le=100)] = 2

    @property
    def host_port(self) -> tuple[str, int]:
        """Split ``listen`` (validated by semantics.py, so this cannot fail there)."""
        host, _, port = self.listen.rpartition(":")
        return host.strip("[]"), int(port)


class Http(Section):
    """Health (/healthz) and Prometheus metrics (/metrics); off unless the table is present."""

    listen: str = "127.0.0.1:9310"

    @property
    def host_port(self) -> tuple[str, int]:
        host, _, port = self.listen.rpartition(":")
        return host.strip("[]"), int(port)


class Ingest(Section):
    max_attachment_size: Annotated[int, Field(ge=0)] = 25 * 1024 * 1024
    batch_size: Annotated[int, Field(ge=1, le=10000)] = 100


class Outbox(Section):
    """Delivery of outgoing mail: retries with backoff, then giving up, and reply limits."""

    retry_first: str = "1m"
    retry_max: str = "1h"
    give_up_after: str = "2d"
    acknowledgements_per_hour: Annotated[int, Field(ge=0)] = 5
    # Whatever the headers say, a loop ends here (clock hours): automatic and relayed
    # mail about one ticket, and to one customer address; an alert goes to the lead.
    per_ticket_per_hour: Annotated[int, Field(ge=1)] = 20
    per_address_per_hour: Annotated[int, Field(ge=1)] = 10
    # The same new text from customers this many times within an hour is a robot:
    # stored, never answered automatically.
    same_text_per_hour: Annotated[int, Field(ge=2)] = 5
    # Every mail as text and HTML (templates/layout.html around the text template);
    # false: text only.
    html: bool = True
    # An agent's signature below a relayed reply: cut off ("strip", the reply is
    # signed by the reply template), or relayed as the agent wrote it ("keep").
    agent_signatures: Literal["strip", "keep"] = "strip"


class Paths(Section):
    rules: ConfigPath = Path("rules")
    templates: ConfigPath = Path("templates")
    customers: ConfigPath | None = None
    # Markdown articles suggested in acknowledgements; a missing folder means none.
    kb: ConfigPath = Path("kb")


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class Calendar(Section):
    """Business hours: which days, which hours (several ranges a day), which holidays."""

    timezone: str | None = None  # default: helpdesk.timezone
    days: Annotated[tuple[Weekday, ...], Field(strict=False)] = ("mon", "tue", "wed", "thu", "fri")
    hours: Annotated[tuple[str, ...], Field(strict=False)] = ("09:00-18:00",)
    holidays: Annotated[tuple[str, ...], Field(strict=False)] = ()
    # An iCalendar file of days off (all-day events, yearly repeats), added to ``holidays``.
    holidays_file: ConfigPath | None = None


Priority = Literal["urgent", "high", "normal", "low"]


class Sla(Section):
    """When to nudge: reminders at these fractions of each target, before it is breached."""

    reminders: Annotated[tuple[Annotated[float, Field(gt=0, lt=1)], ...], Field(strict=False)] = (
        0.75,
    )
    # The policy of a ticket no rule gave one, by its priority.
    by_priority: dict[Priority, str] = Field(default_factory=dict)
    # A breach raises the priority one step (normal -> high -> urgent).
    raise_priority: bool = True
    # Seconds between looks for due reminders, breaches and digests.
    check_interval: Annotated[int, Field(ge=1, le=3600)] = 30
    # Daily digest per tier at this local time ("08:30") on working days; unset: none.
    digest_at: str | None = None
    # In the digest, a ticket is at risk when a deadline falls within this time.
    at_risk_within: str = "1d"


class SlaPolicy(Section):
    """Response and resolution targets ("15m", "2h", "1d"), counted in business or all hours."""

    name: Annotated[str, Field(min_length=1)]
    first_response: str | None = None
    next_response: str | None = None
    resolution: str | None = None
    hours: Literal["business", "24/7"] = "business"
    # A ticket pending on its customer this many (business) days is resolved, the
    # customer told; one reminder goes remind_pending_days in (default: a day before).
    close_pending_days: Annotated[int, Field(ge=1, le=365)] | None = None
    remind_pending_days: Annotated[int, Field(ge=1, le=365)] | None = None


class SelfService(Section):
    """A customer's reply that says the suggestions solved it closes the ticket."""

    # Matched at the start of the reply's new text, case and punctuation ignored.
    phrases: Annotated[tuple[Annotated[str, Field(min_length=1)], ...], Field(strict=False)] = (
        "solved",
        "resolved",
        "problem solved",
        "that helped",
        "thanks, that helped",
        "thank you, that helped",
        "решено",
        "вопрос решен",
        "проблема решена",
        "помогло",
        "спасибо, помогло",
    )
    # Longer replies are real follow-ups, not a thumbs-up.
    max_words: Annotated[int, Field(ge=1, le=200)] = 30
    # A new mail whose subject or first line is one of these asks for the sender's open
    # tickets: it gets the list, not a ticket.
    status_words: Annotated[
        tuple[Annotated[str, Field(min_length=1)], ...], Field(strict=False)
    ] = (
        "status",
        "статус",
    )
    # Status lists to one address per hour at most (a robot asking again and again).
    status_per_hour: Annotated[int, Field(ge=1, le=100)] = 3


class Survey(Section):
    """One satisfaction survey per resolved ticket, answered by replying 1-5 or a word."""

    enabled: bool = True
    # How long after the resolution the survey goes out ("0m" for at once).
    delay: str = "1h"
    # A score at or below this tells the tier lead.
    notify_at_or_below: Annotated[int, Field(ge=0, le=5)] = 2


class Problems(Section):
    """Known problems: many tickets about one thing in a short time alert the tier lead."""

    # This many new tickets with the same subject words within ``within`` propose a
    # problem ticket to the lead, once; 0 turns the alert off.
    alert_after: Annotated[int, Field(ge=0, le=10_000)] = 5
    within: str = "1h"


class Tier(Section):
    name: Annotated[str, Field(min_length=1)]
    description: str = ""
    agents: Annotated[tuple[Address, ...], Field(strict=False)] = ()
    lead: Address | None = None
    escalates_to: str | None = None
    # Who takes a new ticket: nobody (manual, the tier is notified), the tier's agents
    # in turn (round_robin), or the one with the fewest open tickets (least_open); only
    # agents at work now and not away. The assignee alone is notified.
    assign: Literal["manual", "round_robin", "least_open"] = "manual"
    # Outside business hours an urgent ticket goes to this agent at once.
    on_call: Address | None = None


class AgentHours(Section):
    """One agent's working days and hours, when they differ from [calendar]."""

    address: Address
    days: Annotated[tuple[Weekday, ...], Field(strict=False)] | None = None
    hours: Annotated[tuple[str, ...], Field(strict=False)] | None = None


class Report(Section):
    """The weekly report by mail: last week's `maildesk report` page, to every tier lead
    and ``to``, sent once a week whatever the number of daemons."""

    # Weekday and local time in the calendar's zone ("mon 08:00"); unset: no mail.
    weekly: str | None = None
    to: Annotated[tuple[Address, ...], Field(strict=False)] = ()


class Settings(Section):
    """The whole validated configuration, plus where it came from."""

    helpdesk: Helpdesk
    trust: Trust = Field(default_factory=Trust)
    database: Database = Field(default_factory=Database)
    mailboxes: Annotated[tuple[Mailbox, ...], Field(strict=False)] = ()
    smtp: Smtp
    inbound: Inbound | None = None
    http: Http | None = None
    ingest: Ingest = Field(default_factory=Ingest)
    outbox: Outbox = Field(default_factory=Outbox)
    paths: Paths = Field(default_factory=Paths)
    tiers: Annotated[tuple[Tier, ...], Field(strict=False)] = ()
    calendar: Calendar = Field(default_factory=Calendar)
    sla_policies: Annotated[tuple[SlaPolicy, ...], Field(strict=False)] = ()
    sla: Sla = Field(default_factory=Sla)
    self_service: SelfService = Field(default_factory=SelfService)
    survey: Survey = Field(default_factory=Survey)
    problems: Problems = Field(default_factory=Problems)
    agents: Annotated[tuple[AgentHours, ...], Field(strict=False)] = ()
    report: Report = Field(default_factory=Report)
    # Where the settings came from: set by the loader, never a TOML key.
    _source: Path = PrivateAttr(default=Path("maildesk.toml"))

    @property
    def source(self) -> Path:
        return self._source

    @property
    def trust_agents(self) -> str:
        """How an agent's mail is believed: the setting, else by whether we know our MTA."""
        chosen = self.helpdesk.trust_agents
        if chosen is not None:
            return chosen
        return "authenticated" if self.trust.authserv_id else "sender"

    @property
    def agent_addresses(self) -> frozenset[str]:
        """Every tier's agents and leads, as written in the config."""
        return frozenset(a for t in self.tiers for a in (*t.agents, t.lead) if a)

    def tier(self, name: str) -> Tier | None:
        return next((t for t in self.tiers if t.name == name), None)

    def sla_policy(self, name: str) -> SlaPolicy | None:
        return next((p for p in self.sla_policies if p.name == name), None)
