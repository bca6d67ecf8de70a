"""The database schema: tickets and everything that hangs off them, one module per part.

The same models run on SQLite (the embedded default) and PostgreSQL. Changes
to these files need an Alembic migration in ``migrations/versions``; a test
compares the two so that they cannot drift apart. Importing this package
registers every table with ``Base.metadata``.
"""

from maildesk.store.models.base import (
    DIRECTIONS,
    MESSAGE_KINDS,
    OUTBOX_STATES,
    QUARANTINE_KINDS,
    QUARANTINE_STATES,
    Base,
    UTCDateTime,
)
from maildesk.store.models.mailflow import (
    MailboxClaim,
    MailboxState,
    MailBudget,
    OutboxMessage,
    QuarantinedMessage,
)
from maildesk.store.models.sla import (
    SLA_TARGETS,
    SURVEY_STATES,
    TIMER_STATES,
    ReportMailing,
    SlaDigest,
    SlaTimer,
    Survey,
)
from maildesk.store.models.tickets import (
    AgentAbsence,
    Attachment,
    Customer,
    Event,
    Message,
    Participant,
    Ticket,
)

__all__ = [
    "DIRECTIONS",
    "MESSAGE_KINDS",
    "OUTBOX_STATES",
    "QUARANTINE_KINDS",
    "QUARANTINE_STATES",
    "SLA_TARGETS",
    "SURVEY_STATES",
    "TIMER_STATES",
    "AgentAbsence",
    "Attachment",
    "Base",
    "Customer",
    "Event",
    "MailBudget",
    "MailboxClaim",
    "MailboxState",
    "Message",
    "OutboxMessage",
    "Participant",
    "QuarantinedMessage",
    "ReportMailing",
    "SlaDigest",
    "SlaTimer",
    "Survey",
    "Ticket",
    "UTCDateTime",
]
