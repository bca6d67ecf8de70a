"""IMAP connections for one configured mailbox."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError

from maildesk.config.model import Mailbox
from maildesk.net import connection_problem, tls_context


class MailboxUnavailable(Exception):
    """The mailbox cannot be reached or logged into; the message says why."""


@dataclass(frozen=True)
class FolderStatus:
    folder: str
    uidvalidity: int
    messages: int
    capabilities: tuple[str, ...]


def open_mailbox(box: Mailbox, password: str | None) -> IMAPClient:
    """Connect and log in with the mailbox's security setting."""
    where = f"{box.host}:{box.effective_port}"
    context = tls_context(box.tls_verify, box.tls_ca_file)
    try:
        client = IMAPClient(
            box.host,
            port=box.effective_port,
            ssl=box.security == "tls",
            ssl_context=context,
            timeout=box.timeout,
        )
    except (OSError, IMAPClientError) as exc:
        raise MailboxUnavailable(f"cannot connect to {where}: {connection_problem(exc)}") from exc
    try:
        if box.security == "starttls":
            client.starttls(context)
        client.login(box.username, password or "")
    except LoginError as exc:
        _close(client)
        raise MailboxUnavailable(
            f"login to {where} as {box.username} failed: {connection_problem(exc)}"
        ) from exc
    except (OSError, IMAPClientError) as exc:
        _close(client)
        raise MailboxUnavailable(f"{where}: {connection_problem(exc)}") from exc
    return client


def probe_mailbox(box: Mailbox, password: str | None) -> FolderStatus:
    """Log in and look at the folder, for `maildesk check --connect`."""
    client = open_mailbox(box, password)
    try:
        info = client.select_folder(box.folder, readonly=True)
        caps = tuple(c.decode() if isinstance(c, bytes) else str(c) for c in client.capabilities())
        return FolderStatus(
            folder=box.folder,
            uidvalidity=int(info[b"UIDVALIDITY"]),
            messages=int(info[b"EXISTS"]),
            capabilities=caps,
        )
    except (OSError, IMAPClientError) as exc:
        raise MailboxUnavailable(f'folder "{box.folder}": {connection_problem(exc)}') from exc
    finally:
        _close(client)


def _close(client: IMAPClient) -> None:
    with contextlib.suppress(OSError, IMAPClientError):
        client.logout()
