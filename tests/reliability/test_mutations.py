"""1,500 malformed mails made by mutating real ones: none crashes the pipeline, each is
stored or quarantined, and a quarantine always says why in words meant for a person.

Seeds: every whole message of the shared corpus (Outlook, Gmail, Apple Mail,
odd charsets, bounces, auto-replies, malformed) when it is there, and the
benchmark generator's mail (koi8-r, windows-1251, HTML, attachments) always.
Each seed gets its own Message-ID per case first, so that the mutants go
through threading, routing and storing instead of stopping as duplicates.
"""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import func, select

from bench.mailgen import messages
from maildesk.config import settings_from_mapping
from maildesk.intake import Intake
from maildesk.store.db import make_engine, session_factory
from maildesk.store.models import Message, QuarantinedMessage
from maildesk.store.schema import upgrade
from tests.corpus import samples
from tests.support.mutate import mutants

CASES = 1500
REPO = Path(__file__).resolve().parent.parent.parent
# A quarantine with these reasons is our bug, not the mail's fault.
OUR_FAULT = ("internal error", "cannot parse")


def seeds() -> list[bytes]:
    found = [s.path.read_bytes() for s in samples() if s.form == "message"]
    found += list(messages(60, seed=5))
    return [
        re.sub(
            rb"(?im)^Message-ID:[^\r\n]*", b"Message-ID: <seed%d@fuzz.example>" % n, raw, count=1
        )
        for n, raw in enumerate(found)
    ]


def test_mutated_mail_is_stored_or_quarantined_with_a_reason(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fuzz.db'}"
    engine = make_engine(url)
    upgrade(engine)
    (tmp_path / "rules").mkdir()
    settings = settings_from_mapping(
        {
            "helpdesk": {"address": "support@example.com"},
            "database": {"url": url},
            "smtp": {"spool_dir": "out"},
            "tiers": [{"name": "L1", "agents": ["agent@example.com"]}],
            "paths": {"rules": "rules", "templates": str(REPO / "templates")},
        },
        name="fuzz",
        base=tmp_path,
    )
    pipeline = Intake(settings, session_factory(engine))
    outcomes: dict[str, int] = {}
    wrong: list[str] = []
    for n, (case, raw) in enumerate(mutants(seeds(), CASES, seed=2026)):
        raw = raw.replace(b"@fuzz.example>", b".%d@fuzz.example>" % n, 1)
        try:
            outcome = pipeline.ingest(raw, "fuzz")
        except Exception as exc:  # the promise is that this never happens
            raise AssertionError(f"{case} crashed the pipeline: {exc!r}") from exc
        outcomes[outcome.status] = outcomes.get(outcome.status, 0) + 1
        if outcome.status == "quarantined" and (
            not outcome.detail.strip() or outcome.detail.startswith(OUR_FAULT)
        ):
            wrong.append(f"{case}: {outcome.detail[:300]}")
    assert not wrong, "\n".join(wrong[:20])
    assert set(outcomes) <= {"stored", "duplicate", "quarantined", "held", "bounce"}, outcomes
    with session_factory(engine)() as s:
        stored = s.scalar(select(func.count()).select_from(Message))
        kept = s.scalar(select(func.count()).select_from(QuarantinedMessage))
        unexplained = s.scalar(
            select(func.count()).where(func.length(func.trim(QuarantinedMessage.reason)) == 0)
        )
    engine.dispose()
    # Every case is somewhere: a message, a quarantined mail, or a repeat of one of those.
    assert stored + kept + outcomes.get("duplicate", 0) == CASES, outcomes
    assert unexplained == 0
    # The mutants are not all rejected: most still make tickets.
    assert outcomes.get("stored", 0) > CASES / 3, outcomes
