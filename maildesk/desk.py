"""The frozen context a message is handled in: settings, what derives from them, the rules.

The intake takes one Desk per message (or group) and hands it to every
stage, so a rule reload in another thread (daemon.py) never changes the rules
halfway through a message: a reload makes a new Desk, the old one finishes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from maildesk.config.model import Settings
from maildesk.guards import Ours, judge
from maildesk.mail import ParsedMail, Trust, Verdict
from maildesk.outbox.mails import Mailer
from maildesk.parse import Limits
from maildesk.routing.router import Router
from maildesk.thread import Policy
from maildesk.trust.join import FREEMAIL, JoinPolicy
from maildesk.trust.sender import TrustPolicy, assess


@dataclass(frozen=True)
class Desk:
    settings: Settings
    policy: Policy  # threading: token format, our address, the agents
    trust: TrustPolicy
    join: JoinPolicy
    ours: Ours
    tiers: frozenset[str]
    limits: Limits
    router: Router  # the rules, customers, calendar and knowledge base in force
    mailer: Mailer

    @classmethod
    def build(cls, settings: Settings, router: Router, mailer: Mailer | None = None) -> Desk:
        """Everything the stages derive from the settings, derived once."""
        helpdesk = settings.helpdesk
        agents = settings.agent_addresses
        ours = {helpdesk.address.lower()}
        ours |= {b.username.lower() for b in settings.mailboxes if "@" in b.username}
        return cls(
            settings=settings,
            policy=Policy(
                token_format=helpdesk.token_format,
                support_address=helpdesk.address.lower(),
                agents=frozenset(a.lower() for a in agents),
                plus_addressing=helpdesk.plus_addressing,
                reopen_days=helpdesk.reopen_days,
            ),
            trust=TrustPolicy(settings.trust.authserv_id, settings.trust.spam_score),
            join=JoinPolicy(
                join=helpdesk.join,
                stranger=helpdesk.foreign_token,
                suspicious=settings.trust.suspicious,
                freemail=FREEMAIL | {d.lower() for d in helpdesk.freemail_domains},
            ),
            ours=Ours(
                addresses=frozenset(ours),
                loop_token=helpdesk.address,
                domain=helpdesk.address.rpartition("@")[2].lower(),
            ),
            tiers=frozenset(t.name for t in settings.tiers),
            limits=limits_of(settings),
            router=router,
            mailer=mailer or Mailer(settings),
        )

    def with_router(self, router: Router) -> Desk:
        return replace(self, router=router)

    @property
    def agents(self) -> frozenset[str]:
        return self.policy.agents

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


def limits_of(settings: Settings) -> Limits:
    """What the parser may take of one mail, from the config."""
    return Limits(max_attachment_size=settings.ingest.max_attachment_size)
