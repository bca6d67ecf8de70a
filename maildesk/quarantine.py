"""Quarantine: mail that could not be handled, or is held for review, tried again.

The raw bytes and the reason are kept (store/quarantine.py); a retry runs
the stages again in one transaction, so that a second failure leaves the
message in quarantine rather than nowhere.
"""

from __future__ import annotations

from sqlalchemy import select

from maildesk.errors import Problem, Quarantined, UserError
from maildesk.guards import judge
from maildesk.parse import parse_mail
from maildesk.pipeline import Outcome, Pipeline
from maildesk.store.db import transaction
from maildesk.store.models import QuarantinedMessage
from maildesk.store.quarantine import release
from maildesk.thread import Decision


def retry_quarantined(pipeline: Pipeline, row_id: int) -> Outcome:
    """Run a quarantined message through the pipeline again, in one transaction.

    A held message goes into the ticket it named: the admin vouched for it.
    """
    now = pipeline.clock.now()
    with transaction(pipeline.sessions) as session:
        row = session.get(QuarantinedMessage, row_id)
        if row is None:
            raise UserError([Problem("", f"no quarantined message {row_id}")])
        if row.state != "held":
            return Outcome(row.state, detail=f"already {row.state}")
        try:
            mail = parse_mail(row.raw, pipeline.limits)
        except Quarantined as exc:
            row.attempts += 1
            row.reason = exc.reason
            return Outcome("quarantined", detail=exc.reason)
        attempts, forced = row.attempts, None
        if row.kind == "held" and row.ticket_id is not None:
            forced = Decision(row.ticket_id, "released", "released from hold by an admin")
        source = row.source
        release(session, row)
        verdict = judge(mail, pipeline.ours)
        outcome = pipeline.store_parsed(session, mail, verdict, source, now, forced)
        if outcome.status == "quarantined":
            again = session.scalar(
                select(QuarantinedMessage).where(QuarantinedMessage.dedupe_key == mail.dedupe_key)
            )
            if again is not None:
                again.attempts = attempts + 1
        return outcome
