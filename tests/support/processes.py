"""Waiting on daemons in other processes, and running the command there."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path


def maildesk(config: Path, *args: str) -> subprocess.Popen[bytes]:
    # The log goes to a file: an unread pipe fills up and would stall the daemon.
    log = (config.parent / "maildesk.log").open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "maildesk", "-c", str(config), *args],
        stdout=subprocess.DEVNULL,
        stderr=log,
    )


def wait_until(condition, seconds: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {seconds}s")
        time.sleep(0.1)
