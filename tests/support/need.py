"""Skip, or fail under MAILDESK_REQUIRE_SERVERS, when a real server is missing."""

from __future__ import annotations

import os
import socket
from typing import NoReturn

import pytest

REQUIRE = "MAILDESK_REQUIRE_SERVERS"


def servers_required() -> bool:
    return os.environ.get(REQUIRE, "") not in ("", "0", "false", "no")


def missing(what: str, how: str) -> NoReturn:
    """A test that needs ``what`` cannot run: fail in CI, skip elsewhere, saying how to fix."""
    if servers_required():
        pytest.fail(f"{what} is required ({REQUIRE} is set) but unavailable: {how}", pytrace=False)
    pytest.skip(f"{what} unavailable: {how} (set {REQUIRE}=1 to make this a failure)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 15.0) -> bool:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False
