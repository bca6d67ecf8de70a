"""The systemd unit and `maildesk init --system` agree (issue 21).

`systemd-analyze verify` (Debian's systemd package) checks the unit as
systemd would load it; `init --system` must put the database and spool where
the unit lets the daemon write, and a bad config must stop the unit (exit 2,
which RestartPreventExitStatus= covers: no ExecStartPre= check).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from maildesk.cli.main import main
from maildesk.config import load_settings
from maildesk.starter import UNIT
from tests.support.need import missing

MAILDESK = str(Path(sys.executable).parent / "maildesk")


def verify(unit: Path) -> str:
    """What systemd-analyze says of the unit: empty when it has nothing to say."""
    if shutil.which("systemd-analyze") is None:
        missing("systemd-analyze", "apt-get install systemd")
    done = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    said = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    return "\n".join(said) if done.returncode or said else ""


def test_the_shipped_unit_verifies(tmp_path: Path) -> None:
    text = UNIT.read_text()
    assert "ExecStartPre" not in text.replace("No ExecStartPre= check", "")
    assert "RestartPreventExitStatus=2" in text and "StateDirectory=maildesk" in text
    unit = tmp_path / "maildesk.service"
    unit.write_text(text.replace("/opt/maildesk/.venv/bin/maildesk", MAILDESK))
    assert verify(unit) == ""


def test_init_system_writes_a_desk_the_unit_can_run(tmp_path: Path) -> None:
    etc, state = tmp_path / "etc" / "maildesk", tmp_path / "var" / "lib" / "maildesk"
    assert main(["init", "--system", str(etc), "--state-dir", str(state)]) == 0
    settings = load_settings(etc / "maildesk.toml")
    assert settings.database.url == f"sqlite:///{state / 'maildesk.db'}"
    assert settings.smtp.spool_dir == state / "outgoing"
    assert (state / "maildesk.db").is_file() and (state / "outgoing").is_dir()
    assert settings.paths.templates == etc / "templates"  # read-only is enough there
    unit = (etc / "maildesk.service").read_text()
    assert f"ExecStart={MAILDESK} run --log-format json" in unit
    assert f"MAILDESK_CONFIG={etc / 'maildesk.toml'}" in unit
    assert f"WorkingDirectory={state}" in unit and f"ReadWritePaths={state}" in unit
    assert verify(etc / "maildesk.service") == ""
    checked = subprocess.run(
        [MAILDESK, "-c", str(etc / "maildesk.toml"), "check"], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_unit_for_var_lib_uses_state_directory(tmp_path: Path) -> None:
    from maildesk.cli.init import system_unit

    unit = system_unit(Path("/etc/maildesk/maildesk.toml"), Path("/var/lib/maildesk"))
    assert "StateDirectory=maildesk" in unit and "ReadWritePaths" not in unit
    assert "WorkingDirectory=/var/lib/maildesk" in unit


def test_a_bad_config_stops_the_unit_with_one_clear_line(tmp_path: Path) -> None:
    etc = tmp_path / "etc"
    assert main(["init", "--system", str(etc), "--state-dir", str(tmp_path / "state")]) == 0
    config = etc / "maildesk.toml"
    config.write_text(config.read_text().replace("[helpdesk]", "[helpdesk]\nnmae = 1", 1))
    ran = subprocess.run(
        [MAILDESK, "-c", str(config), "run", "--log-format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ran.returncode == 2  # RestartPreventExitStatus=2: no restart loop
    lines = ran.stderr.strip().splitlines()
    assert lines == [f'maildesk: {config}: helpdesk.nmae: unknown key (did you mean "name"?)']
