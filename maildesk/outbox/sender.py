"""Delivery to the relay (or the spool folder). Connections only, for now."""

from __future__ import annotations

import smtplib

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
        raise RelayUnavailable(f"cannot connect to {where}: {_why(exc)}") from exc
    try:
        client.ehlo()
        if smtp.security == "starttls":
            client.starttls(context=context)
            client.ehlo()
        if smtp.username is not None:
            client.login(smtp.username, password or "")
    except smtplib.SMTPAuthenticationError as exc:
        _close(client)
        raise RelayUnavailable(f"login to {where} as {smtp.username} failed: {_why(exc)}") from exc
    except (OSError, smtplib.SMTPException) as exc:
        _close(client)
        raise RelayUnavailable(f"{where}: {_why(exc)}") from exc
    return client


def probe_relay(smtp: Smtp, password: str | None) -> str:
    """Connect and log in, for `maildesk check --connect`; returns the greeting name."""
    client = open_relay(smtp, password)
    try:
        return client.ehlo_resp.decode(errors="replace").splitlines()[0] if client.ehlo_resp else ""
    finally:
        _close(client)


def _close(client: smtplib.SMTP) -> None:
    try:
        client.quit()
    except (OSError, smtplib.SMTPException):
        client.close()


def _why(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        error = exc.smtp_error
        text = error.decode(errors="replace") if isinstance(error, bytes) else str(error)
        return f"{exc.smtp_code} {text}"
    return connection_problem(exc)
