"""Quarantine: mail that could not be handled, or is held for review, tried again.

The raw bytes and the reason are kept (store/quarantine.py); a retry runs
the stages again in one transaction, so that a second failure leaves the
message in quarantine rather than nowhere. Held mail is admitted (or
rejected) instead: see holding.py.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from maildesk import pipeline
from maildesk.errors import Problem, UserError
from maildesk.intake import Intake
from maildesk.outcome import Outcome
from maildesk.store.db import transaction
from maildesk.store.models import QuarantinedMessage
from maildesk.store.quarantine import kept_under, quarantined_row, release
from maildesk.tickets import holding

ADMIN = "admin"  # the actor of CLI admissions in the event log


def retry_quarantined(intake: Intake, row_id: int) -> Outcome:
    """Run a quarantined message through the pipeline again, in one transaction.

    A held message is admitted into the ticket it named: the admin vouched for it.
    """
    now = intake.clock.now()
    desk = intake.desk
    with transaction(intake.sessions) as session:
        row = _row(session, row_id)
        if row.kind == "held":
            if row.state not in ("held", "rejected"):
                return Outcome(row.state, detail=f"already {row.state}")
            return pipeline.readmit(desk, session, row, ADMIN, now)
        if row.state != "held":
            return Outcome(row.state, detail=f"already {row.state}")
        mail = holding.read_again(row, desk.limits)
        if mail is None:
            return Outcome("quarantined", detail=row.reason)
        attempts, source = row.attempts, row.source
        release(session, row)
        outcome = pipeline.handle(desk, session, mail, desk.judge(mail), source, now)
        if outcome.status == "quarantined":
            again = kept_under(session, mail.dedupe_key)
            if again is not None:
                again.attempts = attempts + 1
        return outcome


def admit_held(intake: Intake, row_id: int) -> Outcome:
    """`maildesk quarantine admit`: a held (or rejected) mail into its ticket."""
    now = intake.clock.now()
    with transaction(intake.sessions) as session:
        row = _row(session, row_id)
        if row.kind != "held":
            raise UserError(
                [Problem("", f"message {row_id} is quarantined, not held: use quarantine retry")]
            )
        if row.state not in ("held", "rejected"):
            return Outcome(row.state, detail=f"already {row.state}")
        return pipeline.readmit(intake.desk, session, row, ADMIN, now)


def reject_held(intake: Intake, row_id: int) -> Outcome:
    """`maildesk quarantine reject`: keep a held mail out of its ticket (still stored)."""
    now = intake.clock.now()
    with transaction(intake.sessions) as session:
        row = _row(session, row_id)
        if row.kind != "held":
            raise UserError([Problem("", f"message {row_id} is quarantined, not held")])
        if row.state != "held":
            return Outcome(row.state, ticket_id=row.ticket_id, detail=f"already {row.state}")
        holding.reject_row(session, row, ADMIN, now)
        return Outcome("rejected", ticket_id=row.ticket_id, message_id=row.message_id)


def _row(session: Session, row_id: int) -> QuarantinedMessage:
    # Locked: two admins admitting one mail at once store it once (PostgreSQL; SQLite
    # has one writer anyway).
    row = quarantined_row(session, row_id, lock=True)
    if row is None:
        raise UserError([Problem("", f"no quarantined message {row_id}")])
    return row
