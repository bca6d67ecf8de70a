"""A desk and its outbox for the trust tests."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from maildesk.clock import FixedClock
from maildesk.config import settings_from_mapping
from maildesk.intake import Intake
from maildesk.starter import starter_dir
from maildesk.store.db import session_factory
from maildesk.store.models import (
    OutboxMessage,
)
from tests.support.pipeline import T0


def desk(engine: Engine, tmp_path: Path, **config: Any) -> Intake:
    shutil.copytree(starter_dir("templates"), tmp_path / "templates", dirs_exist_ok=True)
    (tmp_path / "rules").mkdir(exist_ok=True)
    helpdesk = {"address": "support@example.com", "name": "Example Support"}
    settings = settings_from_mapping(
        {
            "helpdesk": {**helpdesk, **config.pop("helpdesk", {})},
            "trust": config.pop("trust", {}),
            "outbox": config.pop("outbox", {}),
            "smtp": {"spool_dir": "out"},
            "tiers": [
                {"name": "L1", "agents": ["agent@example.com"], "lead": "lead@example.com"},
            ],
            **config,
        },
        name="maildesk.toml",
        base=tmp_path,
    )
    return Intake(settings, session_factory(engine), FixedClock(T0))


def outbox(engine: Engine, kind: str | None = None) -> list[OutboxMessage]:
    with session_factory(engine)() as s:
        query = select(OutboxMessage).order_by(OutboxMessage.id)
        if kind:
            query = query.where(OutboxMessage.kind == kind)
        return list(s.scalars(query))
