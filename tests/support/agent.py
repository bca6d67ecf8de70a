"""Agents' replies as their mail clients write them (Outlook, Thunderbird)."""

from __future__ import annotations

THUNDERBIRD = """{commands}Please restart the printer, that fixes it.

Bob

On 20.11.2026 09:00, Example Support wrote:
> [#{n}] Printer on fire
> It burns.
"""


OUTLOOK = """{commands}Please restart the printer, that fixes it.

-----Original Message-----
From: Example Support <support@example.com>
Sent: Friday, November 20, 2026 9:00 AM
To: Bob Agent <bob@example.com>
Subject: [#{n}] New ticket: Printer on fire

It burns.
"""


def agent_reply(n: int, style: str, commands: str = "", msgid: str = "<bob1@example.com>") -> bytes:
    body = (THUNDERBIRD if style == "thunderbird" else OUTLOOK).format(commands=commands, n=n)
    return (
        f"From: Bob Agent <bob@example.com>\r\nTo: support+{n}@example.com\r\n"
        f"Subject: Re: [#{n}] New ticket: Printer on fire\r\nMessage-ID: {msgid}\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n" + body.replace("\n", "\r\n")
    ).encode()
