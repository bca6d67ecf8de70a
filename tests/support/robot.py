"""An autoresponder as a relay: it answers every mail the desk sends, as mail loops do.

It is the desk's SMTP relay (an aiosmtpd sink); for each mail it takes, a
thread answers to the desk's own listener, without Auto-Submitted or
Precedence headers, the way a badly made robot does:

- ``same``: from the address it was sent to, "Re: <subject>", In-Reply-To
  the mail, the same short text each time (a customer's or an agent's
  mailbox with a home-made autoresponder);
- ``varied``: the same, with a new number in the text each time (so that it
  is not the same text again);
- ``fresh``: from a new address each time, a new subject, no references,
  quoting the mail it got with its headers (a robot behind a rotating
  sender, or a chain of forwarders).
"""

from __future__ import annotations

import itertools
import smtplib
import threading
from email import message_from_bytes, policy

from tests.support.smtpsink import Received, Sink


class Robot(Sink):
    def __init__(self, desk_port: int, style: str, limit: int = 5000) -> None:
        super().__init__()
        self.desk_port, self.style, self.limit = desk_port, style, limit
        self.answered = 0
        self.counter = itertools.count(1)
        self.lock = threading.Lock()
        handler = self.handler
        original = handler.handle_DATA

        async def answer_data(server, session, envelope):  # type: ignore[no-untyped-def]
            reply = await original(server, session, envelope)
            threading.Thread(target=self._answer, args=(handler.messages[-1],), daemon=True).start()
            return reply

        handler.handle_DATA = answer_data  # type: ignore[method-assign]

    def _answer(self, got: Received) -> None:
        with self.lock:
            if self.answered >= self.limit:
                return
            self.answered += 1
            n = next(self.counter)
        mail = message_from_bytes(got.data, policy=policy.default)
        if self.style in ("same", "varied"):
            sender = got.rcpt_tos[0]
            subject = f"Re: {mail['Subject']}"
            headers = f"In-Reply-To: {mail['Message-ID']}\r\nReferences: {mail['Message-ID']}\r\n"
            body = "Thank you for your message. We will get back to you soon.\r\n"
            if self.style == "varied":
                body = f"Ticket {n} received, thank you. We will get back to you soon.\r\n"
        else:
            sender = f"robot{n}@loop{n % 7}.example"
            subject = f"Your message {n}"
            headers = ""
            quoted = got.data.decode("utf-8", "replace").replace("\r\n", "\r\n> ")
            body = f"Thank you for your message.\r\n\r\n> {quoted}\r\n"
        raw = (
            f"From: {sender}\r\nTo: support@example.com\r\nSubject: {subject}\r\n"
            f"Message-ID: <robot-{n}@loop.example>\r\n{headers}"
            f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}"
        ).encode()
        try:
            with smtplib.SMTP("127.0.0.1", self.desk_port, timeout=10) as client:
                client.sendmail(sender, ["support@example.com"], raw)
        except (OSError, smtplib.SMTPException):
            pass  # the desk is stopping
