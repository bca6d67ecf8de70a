"""Settings for tests that send through a real SMTP sink."""

from __future__ import annotations

import shutil
from pathlib import Path

from maildesk.config import settings_from_mapping
from maildesk.config.model import Settings
from maildesk.starter import starter_dir


def settings_for(
    tmp_path: Path, db_url: str, smtp: dict[str, object], **outbox: object
) -> Settings:
    shutil.copytree(starter_dir("templates"), tmp_path / "templates", dirs_exist_ok=True)
    (tmp_path / "rules").mkdir(exist_ok=True)
    (tmp_path / "rules" / "00.yaml").write_text("- name: all\n  then: {sla: normal}\n")
    return settings_from_mapping(
        {
            "helpdesk": {"address": "support@example.com", "name": "Example Support"},
            "database": {"url": db_url},
            "smtp": smtp,
            "outbox": outbox,
            "tiers": [{"name": "L1", "agents": ["agent1@example.com", "agent2@example.com"]}],
            "sla_policies": [{"name": "normal", "first_response": "2h"}],
        },
        name="maildesk.toml",
        base=tmp_path,
    )
