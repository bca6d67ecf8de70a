"""Files `maildesk init` copies into a new desk.

The rules and templates live at the top of the repository where admins read
them; a built wheel carries copies in this package (see pyproject.toml).
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).parent
CONFIG = HERE / "maildesk.toml"
UNIT = HERE / "maildesk.service"  # the systemd unit `maildesk init --system` writes


def starter_dir(name: str) -> Path:
    """The shipped ``rules``, ``templates`` or ``kb`` folder, installed or in a checkout."""
    for candidate in (HERE / name, HERE.parent.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"maildesk's starter {name}/ folder is missing from this install")
