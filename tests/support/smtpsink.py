"""An aiosmtpd SMTP sink on loopback that keeps what it receives.

``fail_with`` makes it answer every DATA with that reply, to drive retry
tests; ``auth`` makes it require a login.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.support.need import free_port


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes


@dataclass
class SinkHandler:
    messages: list[Received] = field(default_factory=list)
    fail_with: str | None = None

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.fail_with:
            return self.fail_with
        self.messages.append(
            Received(
                envelope.mail_from or "", list(envelope.rcpt_tos), bytes(envelope.content or b"")
            )
        )
        return "250 OK stored"


class Sink:
    def __init__(self, auth: tuple[str, str] | None = None, smtputf8: bool = True) -> None:
        self.handler = SinkHandler()
        self.port = free_port()
        self.host = "127.0.0.1"
        kwargs: dict[str, Any] = {}
        if auth is not None:

            def check(
                server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
            ) -> AuthResult:
                ok = (
                    isinstance(data, LoginPassword)
                    and (data.login.decode(), data.password.decode()) == auth
                )
                return AuthResult(success=ok, handled=False)

            kwargs = {"authenticator": check, "auth_required": True, "auth_require_tls": False}
        # aiosmtpd offers SMTPUTF8 unless told not to; a relay without it is common.
        kwargs["enable_SMTPUTF8"] = smtputf8
        self.kwargs = kwargs
        self.controller = Controller(self.handler, hostname=self.host, port=self.port, **kwargs)
        self.stopped = False

    @property
    def messages(self) -> list[Received]:
        return self.handler.messages

    def start(self) -> Sink:
        """Listen; after stop(), again on the same port with the same handler (what it got)."""
        if self.stopped:
            self.controller = Controller(
                self.handler, hostname=self.host, port=self.port, **self.kwargs
            )
            self.stopped = False
        with warnings.catch_warnings():
            # AUTH without TLS is what the login tests want, on loopback only.
            warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS")
            self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()
        self.stopped = True
