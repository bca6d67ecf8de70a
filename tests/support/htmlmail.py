"""HTML mail as clients send it: an agent's Outlook reply with a pasted screenshot, a
customer's Gmail-style HTML-only mail; and a real PNG to paste."""

from __future__ import annotations

import struct
import zlib
from email.message import EmailMessage
from email.policy import SMTP


def png(width: int = 120, height: int = 80, rgb: tuple[int, int, int] = (220, 60, 40)) -> bytes:
    """A real PNG of one colour (the browser test checks it is drawn)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + bytes(rgb) * width
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


SCREENSHOT_CID = "image001.png@01DB4A2C.5E3F0A10"
LOGO_CID = "logo.png@desk.example.com"

OUTLOOK_HTML = """<html xmlns:o="urn:schemas-microsoft-com:office:office"><head>
<meta http-equiv="Content-Type" content="text/html; charset=utf-8">
<meta name="Generator" content="Microsoft Word 15 (filtered medium)">
<style><!-- p.MsoNormal {{margin:0cm; font-size:11.0pt; font-family:"Calibri",sans-serif;}}
--></style></head>
<body lang="EN-US" link="#0563C1" style="word-wrap:break-word">
<div class="WordSection1">
{commands}<p class="MsoNormal">Hello Alice,<o:p></o:p></p>
<p class="MsoNormal"><o:p>&nbsp;</o:p></p>
<p class="MsoNormal">Please restart the printer <b>with the blue button</b>, as in this
screenshot:<o:p></o:p></p>
<p class="MsoNormal"><img width="120" height="80" style="width:1.25in;height:.8333in"
id="Picture_x0020_1" src="cid:{cid}" alt="screenshot"><o:p></o:p></p>
<p class="MsoNormal">See also <a href="https://help.example.com/printer">the printer
guide</a>.<o:p></o:p></p>
<p class="MsoNormal"><o:p>&nbsp;</o:p></p>
<div><div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm">
<p class="MsoNormal"><b>From:</b> Example Support &lt;support@example.com&gt;<br>
<b>Sent:</b> Friday, November 20, 2026 9:00 AM<br>
<b>To:</b> Bob Agent &lt;bob@example.com&gt;<br>
<b>Subject:</b> [#{n}] New ticket: Printer on fire<o:p></o:p></p></div></div>
<p class="MsoNormal"><img src="cid:{logo}" alt="Example Support">It burns.<o:p></o:p></p>
</div></body></html>
"""

OUTLOOK_TEXT = """{commands}Hello Alice,

Please restart the printer with the blue button, as in this screenshot:
[cid:{cid}]
See also the printer guide<https://help.example.com/printer>.

From: Example Support <support@example.com>
Sent: Friday, November 20, 2026 9:00 AM
To: Bob Agent <bob@example.com>
Subject: [#{n}] New ticket: Printer on fire

It burns.
"""


def outlook_reply(n: int, *, commands: str = "", msgid: str = "<olk1@example.com>") -> bytes:
    """Bob's Outlook reply to a notification: multipart/related with the screenshot he
    pasted, the quoted notification (with the desk's logo) below a border-top rule."""
    message = EmailMessage(policy=SMTP)
    message["From"] = "Bob Agent <bob@example.com>"
    message["To"] = f"support+{n}@example.com"
    message["Subject"] = f"RE: [#{n}] New ticket: Printer on fire"
    message["Message-ID"] = msgid
    message["X-Mailer"] = "Microsoft Outlook 16.0"
    html_commands = "".join(
        f'<p class="MsoNormal">{line}<o:p></o:p></p>\n' for line in commands.splitlines()
    )
    message.set_content(OUTLOOK_TEXT.format(commands=commands, cid=SCREENSHOT_CID, n=n))
    message.add_alternative(
        OUTLOOK_HTML.format(commands=html_commands, cid=SCREENSHOT_CID, logo=LOGO_CID, n=n),
        subtype="html",
    )
    html = next(p for p in message.iter_parts() if p.get_content_type() == "text/html")
    assert isinstance(html, EmailMessage)
    html.add_related(
        png(),
        "image",
        "png",
        cid=f"<{SCREENSHOT_CID}>",
        filename="image001.png",
        disposition="inline",
    )
    html.add_related(
        png(40, 20, (30, 30, 200)),
        "image",
        "png",
        cid=f"<{LOGO_CID}>",
        filename="logo.png",
        disposition="inline",
    )
    return message.as_bytes()


def html_only_customer_mail(
    msgid: str = "<h1@example.org>", body: str = "", sender: str = "Alice <alice@example.org>"
) -> bytes:
    """A customer's HTML-only mail (as some webmail and phone clients send), with a
    photo pasted in and a PDF attached."""
    message = EmailMessage(policy=SMTP)
    message["From"] = sender
    message["To"] = "support@example.com"
    message["Subject"] = "Printer on fire"
    message["Message-ID"] = msgid
    message.set_content(
        body
        or '<div dir="ltr"><p>Hello,</p><p>the printer <b>is on fire</b>:</p>'
        '<p><img src="cid:photo1@example.org" alt="photo"></p>'
        '<p><img src="https://tracker.example/open.gif" width="1" height="1"></p>'
        "<script>alert(1)</script><p>Alice</p></div>",
        subtype="html",
    )
    message.add_related(png(60, 40, (240, 140, 0)), "image", "png", cid="<photo1@example.org>")
    message.add_attachment(
        b"%PDF-1.4\n" + b"x" * 24_000, "application", "pdf", filename="invoice.pdf"
    )
    return message.as_bytes()
