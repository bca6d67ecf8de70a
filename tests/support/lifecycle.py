"""A `maildesk run` daemon started for a test, and waiting on what it does."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path


def start(config: Path, *args: str) -> tuple[subprocess.Popen[bytes], Path]:
    log = config.parent / "daemon.log"
    handle = log.open("ab")  # a file, not a pipe nobody reads
    process = subprocess.Popen(
        [sys.executable, "-m", "maildesk", "-c", str(config), "run", *args],
        stdout=subprocess.DEVNULL,
        stderr=handle,
    )
    return process, log


def wait_for(condition: Callable[[], bool], seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)
