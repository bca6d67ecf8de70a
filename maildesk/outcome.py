"""What happened to one message: the pipeline's answer to its source."""

from __future__ import annotations

import logging
from dataclasses import dataclass


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
