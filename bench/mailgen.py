"""A deterministic stream of realistic support mail for benchmarks and tests.

New questions in UTF-8, koi8-r and windows-1251, HTML mail, attachments,
replies that carry only References or a ticket token in the subject,
auto-replies, and bounces (delivery status notifications) of mail we sent;
sizes from a few hundred bytes to ~40 KB. The same seed gives the same mail.
A reply comes from whoever asked the question it answers (for a token, from
whoever asked the question with that number, which is that ticket's requester
when one process takes the mail in order), as it would at a real desk: a
stranger's reply would be held (README "Security model").
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.header import Header
from email.utils import format_datetime

WORDS = [
    "printer",
    "vpn",
    "password",
    "invoice",
    "login",
    "error",
    "server",
    "backup",
    "license",
    "mail",
    "update",
    "crash",
    "slow",
    "network",
    "account",
    "access",
    "report",
    "install",
]
RUSSIAN = [
    "не",
    "работает",
    "принтер",
    "сервер",
    "пароль",
    "счёт",
    "ошибка",
    "доступ",
    "срочно",
    "помогите",
]


def messages(count: int, seed: int = 42) -> Iterator[bytes]:
    rng = random.Random(seed)
    start = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
    asked: list[tuple[int, str]] = []  # (n, sender) of the mails that open a ticket
    for n in range(1, count + 1):
        date = format_datetime(start + timedelta(seconds=17 * n))
        sender = f"customer{rng.randrange(count // 3 + 1)}@client{rng.randrange(50)}.example"
        kind = rng.random()
        if kind < 0.30 or kind >= 0.58:  # a question (or an auto-reply): a new ticket
            asked.append((n, sender))
        elif kind < 0.50 and n > 10 and asked:
            parent, sender = rng.choice(asked)
        elif kind < 0.55 and n > 10:
            ticket = rng.randrange(1, n // 3 + 2)
            if ticket <= len(asked):
                sender = asked[ticket - 1][1]
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randrange(20, 400)))
        headers = (
            f"From: Customer <{sender}>\r\nTo: support@example.com\r\n"
            f"Message-ID: <bench-{seed}-{n}@client.example>\r\nDate: {date}\r\n"
            "MIME-Version: 1.0\r\n"
        )
        if kind < 0.15:
            text = " ".join(rng.choice(RUSSIAN) for _ in range(rng.randrange(10, 200)))
            charset = rng.choice(["koi8-r", "windows-1251"])
            subject = Header("Срочно: " + text[:30], charset).encode()
            yield (
                headers + f"Subject: {subject}\r\nContent-Type: text/plain; charset={charset}"
                "\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
            ).encode() + text.encode(charset)
        elif kind < 0.30:
            html = f"<html><body><p>{words}</p><blockquote>old text</blockquote></body></html>"
            yield (
                headers + f"Subject: HTML question {n}\r\nContent-Type: text/html; "
                f"charset=utf-8\r\n\r\n{html}\r\n"
            ).encode()
        elif kind < 0.50 and n > 10 and asked:
            yield (
                headers + f"Subject: Re: question {parent}\r\n"
                f"In-Reply-To: <bench-{seed}-{parent}@client.example>\r\n"
                f"References: <bench-{seed}-{parent}@client.example>\r\n\r\n"
                f"Thanks, one more thing: {words}\r\n\r\nOn Monday, support wrote:\r\n"
                "> earlier answer\r\n> more\r\n"
            ).encode()
        elif kind < 0.55 and n > 10:
            yield (
                headers + f"Subject: RE: AW: [#{ticket}] question {ticket}\r\n"
                f"Content-Type: text/plain; charset=utf-8\r\n\r\n"
                f"Still broken: {words}\r\n\r\n-----Original Message-----\r\n"
                "From: Support\r\n> earlier answer\r\n"
            ).encode()
        elif kind < 0.58:
            yield bounce(headers, n, rng)
        elif kind < 0.62:
            yield (
                headers + "Subject: Automatic reply: out of office\r\n"
                "Auto-Submitted: auto-replied\r\n\r\nI am away until Monday.\r\n"
            ).encode()
        elif kind < 0.70:
            blob = "".join(
                rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef0123456789+/")
                for _ in range(rng.randrange(2000, 40000))
            )
            yield (
                headers + f"Subject: log file {n}\r\nContent-Type: multipart/mixed; boundary=x"
                f"\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\n{words}\r\n--x\r\n"
                "Content-Type: application/octet-stream; name=log.bin\r\n"
                "Content-Transfer-Encoding: base64\r\n\r\n"
                + "\r\n".join(blob[i : i + 76] for i in range(0, len(blob), 76))
                + "\r\n--x--\r\n"
            ).encode()
        else:
            yield (
                headers + f"Subject: Question about {rng.choice(WORDS)} {n}\r\n"
                f"Content-Type: text/plain; charset=utf-8\r\n\r\n{words}\r\n"
            ).encode()


def bounce(headers: str, n: int, rng: random.Random) -> bytes:
    """A delivery status notification for an acknowledgement of ours."""
    ours = f"<md.{rng.randrange(1, n + 1)}.{rng.getrandbits(64):016x}@example.com>"
    lost = f"customer{rng.randrange(1000)}@gone.example"
    headers = headers.replace(
        headers.split("\r\n")[0], "From: Mail Delivery System <MAILER-DAEMON@mx.example>"
    )
    return (
        headers + "Subject: Undelivered Mail Returned to Sender\r\nAuto-Submitted: auto-replied\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="dsn"\r\n\r\n'
        "--dsn\r\nContent-Type: text/plain\r\n\r\nI could not deliver your message.\r\n"
        "--dsn\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example\r\n\r\n"
        f"Final-Recipient: rfc822; {lost}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n"
        f"--dsn\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: support@example.com\r\n"
        f"To: {lost}\r\nMessage-ID: {ours}\r\nSubject: [#1] Re: question\r\n--dsn--\r\n"
    ).encode()
