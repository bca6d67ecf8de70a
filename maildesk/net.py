"""Network helpers shared by the IMAP source and the SMTP sender."""

from __future__ import annotations

import socket
import ssl
from pathlib import Path


def tls_context(verify: bool, ca_file: Path | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    if not verify:
        # Only for servers with self-signed certificates the admin chose to trust.
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


# What OpenSSL says when the other side answered in plain text to our TLS hello.
_NOT_TLS = frozenset({"WRONG_VERSION_NUMBER", "UNKNOWN_PROTOCOL", "RECORD_LAYER_FAILURE"})


def connection_problem(exc: BaseException) -> str:
    """A network error as a short phrase an admin can act on."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"certificate not trusted ({exc.verify_message}); set tls_ca_file or tls_verify"
    if isinstance(exc, socket.timeout | TimeoutError):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, socket.gaierror):
        return f"unknown host ({exc.strerror})"
    if isinstance(exc, ssl.SSLError) and exc.reason in _NOT_TLS:
        return (
            f"the server did not answer with TLS ({exc.reason}): this port speaks plain "
            'text; use security = "starttls" (IMAP 143, SMTP 587) or the TLS port '
            '(IMAP 993, SMTP 465) with security = "tls"'
        )
    text = str(exc).strip()
    if text.startswith(("b'", 'b"')):
        text = text[2:-1]
    return text or type(exc).__name__
