"""Headless Chromium for pages and mails: the DOM after scripts ran, a screenshot, and
every network request the page tried (through a recording proxy on loopback)."""

from __future__ import annotations

import shutil
import socket
import struct
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.need import missing


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        missing("Chromium", "install Debian's chromium (apt-get install chromium)")
    return found


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", header[16:24])
    return int(width), int(height)


class Proxy:
    """An HTTP proxy that answers nothing and writes down each request line: a page
    that loads anything from the web shows up here."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.requests: list[str] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                try:
                    line = conn.recv(4096).split(b"\r\n", 1)[0].decode("latin-1")
                    self.requests.append(line)
                    conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                except OSError:
                    pass

    def close(self) -> None:
        self.server.close()


# Chromium's own calls home, which a blank page makes too (its clock, its component
# updater, its account check): not the page's doing.
BROWSER_OWN = (
    "clients2.google.com",
    "update.googleapis.com",
    "accounts.google.com",
    "safebrowsing.googleapis.com",
    "redirector.gvt1.com",
    "optimizationguide-pa.googleapis.com",
)


def by_the_page(line: str) -> bool:
    target = line.split(" ")[1] if " " in line else line
    host = target.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0].lower()
    return host not in BROWSER_OWN


@dataclass(frozen=True)
class Opened:
    dom: str
    stderr: str
    requests: tuple[str, ...]


@contextmanager
def browser(profile: Path) -> Iterator[tuple[list[str], Proxy]]:
    """The command line to start headless Chromium with, every request through a
    recording proxy, no background traffic of its own."""
    proxy = Proxy()
    try:
        yield (
            [
                chromium(),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-default-apps",
                "--enable-logging=stderr",
                "--v=0",
                f"--proxy-server=http://127.0.0.1:{proxy.port}",
                "--proxy-bypass-list=<-loopback>",
                f"--user-data-dir={profile}",
            ],
            proxy,
        )
    finally:
        proxy.close()


def open_page(page: Path, profile: Path, shot: Path | None = None, size: str = "800,900") -> Opened:
    """Open ``page`` (a file); with ``shot``, also take a screenshot of ``size``."""
    with browser(profile) as (command, proxy):
        dom = subprocess.run(
            [*command, "--virtual-time-budget=3000", "--dump-dom", page.as_uri()],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert dom.returncode == 0, dom.stderr[-2000:]
        stderr = dom.stderr
        if shot is not None:
            taken = subprocess.run(
                [*command, f"--screenshot={shot}", f"--window-size={size}", page.as_uri()],
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert taken.returncode == 0, taken.stderr[-2000:]
            stderr += taken.stderr
        return Opened(dom.stdout, stderr, tuple(r for r in proxy.requests if by_the_page(r)))
