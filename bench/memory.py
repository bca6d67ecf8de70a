"""Peak memory of the daemon while large mails arrive over its SMTP listener.

A desk from `maildesk init` (SQLite, or PostgreSQL with --postgres URL) runs
`maildesk run`; N clients send one mail each at once, every mail SIZE MB (a
PDF-like attachment, base64). The daemon's RSS is sampled every 20 ms and its
high-water mark (VmHWM) read when all are answered. Prints a table; nothing
here is a test.

    .venv/bin/python bench/memory.py [--size 25] [--clients 1 6] [--postgres URL]
"""

from __future__ import annotations

import argparse
import base64
import os
import signal
import smtplib
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.need import free_port, wait_for_port


def big_mail(n: int, size_mb: float) -> bytes:
    """A mail of about ``size_mb`` MB: a short text and one base64 attachment."""
    # base64 turns 57 bytes into a 78-byte line (76 + CRLF); leave room for the headers.
    payload = os.urandom(int((size_mb * 1024 * 1024 - 4096) * 57 / 78))
    encoded = base64.encodebytes(payload).replace(b"\n", b"\r\n")
    return (
        (
            b"From: Customer %d <customer%d@example.org>\r\nTo: support@example.com\r\n"
            b"Subject: Scan of the broken device %d\r\nMessage-ID: <big%d.%d@example.org>\r\n"
            b"Date: Thu, 03 Dec 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
            b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
            b"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe scan is attached.\r\n"
            b"--b\r\nContent-Type: application/pdf\r\n"
            b'Content-Disposition: attachment; filename="scan.pdf"\r\n'
            b"Content-Transfer-Encoding: base64\r\n\r\n" % (n, n, n, n, time.time_ns())
        )
        + encoded
        + b"--b--\r\n"
    )


def rss_kb(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def desk(folder: Path, port: int, url: str | None) -> Path:
    subprocess.run(
        [sys.executable, "-m", "maildesk", "init", str(folder)], check=True, capture_output=True
    )
    config = folder / "maildesk.toml"
    text = config.read_text().replace('listen = "127.0.0.1:8025"', f'listen = "127.0.0.1:{port}"')
    if url:
        text = text.replace('url = "sqlite:///maildesk.db"', f'url = "{url}"')
    config.write_text(text)
    if url:
        subprocess.run(
            [sys.executable, "-m", "maildesk", "-c", str(config), "db", "upgrade"],
            check=True,
            capture_output=True,
        )
    return config


def run(clients: int, size_mb: float, url: str | None) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        config = desk(Path(tmp) / "desk", port, url)
        process = subprocess.Popen(
            [sys.executable, "-m", "maildesk", "-c", str(config), "run"],
            stderr=subprocess.DEVNULL,
        )
        try:
            assert wait_for_port(port, 30), "the daemon did not start"
            time.sleep(1.0)
            idle = rss_kb(process.pid)
            mails = [big_mail(i, size_mb) for i in range(clients)]
            peak, done = idle, threading.Event()

            def sample() -> None:
                nonlocal peak
                while not done.is_set():
                    peak = max(peak, rss_kb(process.pid))
                    time.sleep(0.02)

            answers: list[str] = []

            def send(raw: bytes) -> None:
                with smtplib.SMTP("127.0.0.1", port, timeout=600) as client:
                    try:
                        client.sendmail("c@example.org", ["support@example.com"], raw)
                        answers.append("250")
                    except smtplib.SMTPException as exc:
                        answers.append(str(getattr(exc, "smtp_code", exc)))

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            started = time.monotonic()
            senders = [threading.Thread(target=send, args=(m,)) for m in mails]
            for t in senders:
                t.start()
            for t in senders:
                t.join()
            seconds = time.monotonic() - started
            done.set()
            sampler.join()
            hwm = rss_kb(process.pid, "VmHWM")
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
    return {
        "clients": clients,
        "idle_mb": idle / 1024,
        "peak_mb": max(peak, hwm) / 1024,
        "per_mail_mb": (max(peak, hwm) - idle) / 1024 / clients,
        "seconds": seconds,
        "accepted": answers.count("250"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=float, default=25.0, help="MB per mail (default 25)")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 6])
    parser.add_argument("--postgres", metavar="URL", help="a PostgreSQL URL instead of SQLite")
    args = parser.parse_args()
    rows = [run(n, args.size, args.postgres) for n in args.clients]
    print(f"{args.size:g} MB mails, {'PostgreSQL' if args.postgres else 'SQLite'}")
    print(f"{'clients':>7} {'idle MB':>8} {'peak MB':>8} {'MB/mail':>8} {'seconds':>8} {'250s':>5}")
    for r in rows:
        print(
            f"{r['clients']:>7} {r['idle_mb']:>8.0f} {r['peak_mb']:>8.0f} "
            f"{r['per_mail_mb']:>8.0f} {r['seconds']:>8.1f} {r['accepted']:>5.0f}"
        )


if __name__ == "__main__":
    main()
