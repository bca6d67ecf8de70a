"""What a release holds (issue 21): the sdist has the project and its LICENSE, not a
working copy's caches; the wheel carries the starter desk and the systemd unit."""

from __future__ import annotations

import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_the_release_files(tmp_path: Path) -> None:
    # A working copy as a developer's looks after a test run.
    (REPO / ".hypothesis" / "examples").mkdir(parents=True, exist_ok=True)
    (REPO / ".hypothesis" / "examples" / "x").write_text("cache")
    built = subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-d", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    [sdist] = tmp_path.glob("*.tar.gz")
    with tarfile.open(sdist) as tar:
        names = [n.split("/", 1)[1] for n in tar.getnames() if "/" in n]
    assert "LICENSE" in names and "pyproject.toml" in names and "maildesk/pipeline.py" in names
    for cache in (".hypothesis", "__pycache__", ".pytest_cache", ".mypy_cache", ".venv"):
        assert not any(cache in n.split("/") for n in names), cache
    assert not any(n.endswith((".pyc", ".db")) for n in names)
    [wheel] = tmp_path.glob("*.whl")
    with zipfile.ZipFile(wheel) as whl:
        inside = whl.namelist()
    assert "maildesk/starter/maildesk.service" in inside
    assert "maildesk/starter/templates/acknowledgement.ru.txt" in inside
    assert any(n.endswith("licenses/LICENSE") for n in inside)
    assert "MIT License" in (REPO / "LICENSE").read_text()
