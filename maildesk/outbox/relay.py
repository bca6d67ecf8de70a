"""Talking to the relay: connect and log in, and hand over one mail in two steps.

``start_data`` sends the envelope and the content; ``end_data`` sends the
final dot, after which the relay owns the mail. The sender records the mail
as sent in a transaction it opened before ``end_data``, so that the moment
the relay may have the mail and we have not written it down is as short as
it can be (a crash then resends that one mail, with the same Message-ID).
"""

from __future__ import annotations

import contextlib
import re
import smtplib
import socket

from maildesk.config.model import Smtp
from maildesk.net import connection_problem, tls_context


class RelayUnavailable(Exception):
    """The relay cannot be reached or refuses our login; the message says why."""


def open_relay(smtp: Smtp, password: str | None) -> smtplib.SMTP:
    """Connect, secure and log in as configured."""
    assert smtp.host is not None, "open_relay is for a relay, not spool_dir"
    where = f"{smtp.host}:{smtp.effective_port}"
    context = tls_context(smtp.tls_verify, smtp.tls_ca_file)
    try:
        client: smtplib.SMTP
        if smtp.security == "tls":
            client = smtplib.SMTP_SSL(
                smtp.host, smtp.effective_port, timeout=smtp.timeout, context=context
            )
        else:
            client = smtplib.SMTP(smtp.host, smtp.effective_port, timeout=smtp.timeout)
    except (OSError, smtplib.SMTPException) as exc:
        raise RelayUnavailable(f"cannot connect to {where}: {why(exc)}") from exc
    if client.sock is not None:
        with contextlib.suppress(OSError):
            # The final dot goes as its own small write (see start_data/end_data):
            # without this, Nagle's algorithm holds it back until the ACK, ~40 ms a mail.
            client.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        client.ehlo()
        if smtp.security == "starttls":
            client.starttls(context=context)
            client.ehlo()
        if smtp.username is not None:
            client.login(smtp.username, password or "")
    except smtplib.SMTPAuthenticationError as exc:
        close(client)
        raise RelayUnavailable(f"login to {where} as {smtp.username} failed: {why(exc)}") from exc
    except (OSError, smtplib.SMTPException) as exc:
        close(client)
        raise RelayUnavailable(f"{where}: {why(exc)}") from exc
    return client


def probe_relay(smtp: Smtp, password: str | None) -> str:
    """Connect and log in, for `maildesk check --connect`; returns the greeting name."""
    client = open_relay(smtp, password)
    try:
        return client.ehlo_resp.decode(errors="replace").splitlines()[0] if client.ehlo_resp else ""
    finally:
        close(client)


def close(client: smtplib.SMTP) -> None:
    try:
        client.quit()
    except (OSError, smtplib.SMTPException):
        client.close()


def why(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        error = exc.smtp_error
        text = error.decode(errors="replace") if isinstance(error, bytes) else str(error)
        return f"{exc.smtp_code} {text}"
    return connection_problem(exc)


class Permanent(str):
    """An error no retry can mend (an address that cannot be written for this relay)."""


def envelope_address(address: str, smtputf8: bool) -> str | None:
    """The address as the relay can take it: as it is if ASCII; a non-ASCII domain as
    IDNA ("xn--"); a non-ASCII local part only over SMTPUTF8. None if it cannot go."""
    if address.isascii():
        return address
    if smtputf8:
        return address
    local, _, domain = address.rpartition("@")
    if not local.isascii():
        return None
    try:
        return f"{local}@{domain.encode('idna').decode('ascii')}"
    except UnicodeError:
        return None


def start_data(relay: smtplib.SMTP, sender: str, recipients: list[str], raw: bytes) -> str | None:
    """MAIL, RCPT, DATA and the content without the final dot; an error text, or None.

    Recipients the relay refuses while others are accepted are dropped, as
    smtplib.sendmail does; all refused is an error. Non-ASCII addresses go with
    SMTPUTF8 when the relay offers it, else with IDNA domains; one that can go
    neither way is refused here, with the reason (a Permanent error if none can go).
    """
    try:
        relay.ehlo_or_helo_if_needed()
        utf8 = relay.does_esmtp and relay.has_extn("smtputf8")
        options = [f"size={len(raw)}"] if relay.does_esmtp and relay.has_extn("size") else []
        header_end = raw.find(b"\r\n\r\n")
        needs_utf8 = (
            not all(a.isascii() for a in (sender, *recipients))
            or not raw[: header_end if header_end >= 0 else len(raw)].isascii()
        )
        if utf8 and needs_utf8:
            options.append("SMTPUTF8")
        code, reply = relay.mail(envelope_address(sender, utf8) or sender, options)
        if code != 250:
            return _refused(relay, code, reply)
        refused, unwritable = [], 0
        for recipient in recipients:
            address = envelope_address(recipient, utf8)
            if address is None:
                unwritable += 1
                refused.append(f"{recipient}: a non-ASCII address, and the relay has no SMTPUTF8")
                continue
            code, reply = relay.rcpt(address)
            if code not in (250, 251):
                refused.append(f"{recipient}: {code} {reply.decode(errors='replace')}")
        if len(refused) == len(recipients):
            relay.rset()
            text = "all recipients refused: " + "; ".join(refused)
            return Permanent(text) if unwritable == len(recipients) else text
        code, reply = relay.docmd("DATA")
        if code != 354:
            return _refused(relay, code, reply)
        body = re.sub(rb"\r\n|\r|\n", b"\r\n", raw)
        body = re.sub(rb"(?m)^\.", b"..", body)
        if not body.endswith(b"\r\n"):
            body += b"\r\n"
        relay.send(body)
    except (smtplib.SMTPException, OSError) as exc:
        return why(exc)
    except UnicodeError as exc:  # an address or command the relay cannot be sent
        relay.close()
        return Permanent(f"cannot be written for the relay: {exc}")
    return None


def end_data(relay: smtplib.SMTP) -> str | None:
    """The final dot; None when the relay took the mail, else why not."""
    try:
        relay.send(b".\r\n")
        code, reply = relay.getreply()
    except (smtplib.SMTPException, OSError) as exc:
        return why(exc)
    if code != 250:
        return _refused(relay, code, reply)
    return None


def _refused(relay: smtplib.SMTP, code: int, reply: bytes) -> str:
    if code == 421:
        relay.close()
    else:
        try:
            relay.rset()
        except (smtplib.SMTPException, OSError):
            relay.close()
    return f"{code} {reply.decode(errors='replace')}"


def usable(relay: smtplib.SMTP) -> bool:
    """Whether the connection still works after an error (a refusal keeps it)."""
    if relay.sock is None:
        return False
    try:
        return relay.noop()[0] == 250
    except (smtplib.SMTPException, OSError):
        return False
