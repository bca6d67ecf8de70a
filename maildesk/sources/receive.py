"""SMTP DATA received to a spool file, and stored a few messages at a time.

aiosmtpd keeps a message being received as a list of its lines (a 25 MB mail
is 340,000 bytearrays, about three times its size) and starts storing every
message the moment it has arrived. Here a message is written to a temporary
file as it comes (in memory up to SPOOL_IN_MEMORY), so that clients still
sending cost disk, not memory; only ``slots`` messages at once are read back
and stored (the memory-hungry part: parsing and the database). A message
waits for a slot up to SLOT_WAIT (RFC 5321 gives the client 10 minutes for
the final reply), then is answered 451 so that the MTA retries.

Lines of any length are accepted (RFC 5321 limits them to 1,000 octets, but
a receiver should be liberal: Outlook's HTML has longer ones).
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from typing import IO, Any

from aiosmtpd.smtp import syntax

log = logging.getLogger("maildesk.inbound")
SPOOL_IN_MEMORY = 256 * 1024  # a message larger than this goes to a temporary file
READ_LIMIT = 64 * 1024  # the stream's buffer; a longer line is read in pieces
SLOT_WAIT = 300.0  # seconds a received message waits to be stored before 451
DATA_DEADLINE = 600.0  # seconds a client may take to send one message
BUSY = "451 4.3.2 Too many messages arriving at once, please try again later"
TOO_BIG = "552 5.3.4 Message too big for this system"


class Spooled:
    """Mixin for aiosmtpd's SMTP and LMTP: DATA to a spool file, stored in a slot."""

    line_length_limit = READ_LIMIT
    gate: asyncio.Semaphore  # shared by every session of the listener (inbound.py)

    @syntax("DATA")
    async def smtp_DATA(self, arg: str) -> None:
        server: Any = self  # aiosmtpd's SMTP, which this is mixed into
        if await server.check_helo_needed() or await server.check_auth_needed("DATA"):
            return
        if not server.envelope.rcpt_tos:
            await server.push("503 Error: need RCPT command")
            return
        if arg:
            await server.push("501 Syntax: DATA")
            return
        await server.push("354 End data with <CR><LF>.<CR><LF>")
        with tempfile.SpooledTemporaryFile(SPOOL_IN_MEMORY, prefix="maildesk-in-") as spool:
            try:
                fits = await asyncio.wait_for(self._receive(spool), DATA_DEADLINE)
            except TimeoutError:
                log.warning("a message took over %.0fs to arrive; connection closed", DATA_DEADLINE)
                server.transport.close()
                return
            if not fits:
                server._set_post_data_state()
                await server.push(TOO_BIG)
                return
            status = await self._store(spool)
        server._set_post_data_state()
        await server.push(status)

    async def _receive(self, spool: IO[bytes]) -> bool:
        """Lines until the lone dot, transparency undone (RFC 5321 4.5.2), into the
        spool; False if it grew past the size limit (the rest is read and dropped)."""
        server: Any = self
        reader: asyncio.StreamReader = server._reader
        limit: int | None = server.data_size_limit
        size, fits, start_of_line = 0, True, True
        pending = bytearray()
        while True:
            try:
                piece = await reader.readuntil(b"\r\n")
            except asyncio.LimitOverrunError as long:
                piece = await reader.read(long.consumed)  # part of a long line
            except asyncio.IncompleteReadError:
                raise ConnectionResetError("connection lost during DATA") from None
            if start_of_line and piece == b".\r\n":
                break
            if start_of_line and piece.startswith(b"."):
                piece = piece[1:]
            start_of_line = piece.endswith(b"\r\n")
            size += len(piece)
            if limit and size > limit:
                fits = False
            if fits:
                pending += piece
                if len(pending) >= 1024 * 1024:
                    spool.write(pending)
                    pending.clear()
        if fits:
            spool.write(pending)
        return fits

    async def _store(self, spool: IO[bytes]) -> str:
        """The message to the handler once a slot is free; its status line."""
        server: Any = self
        try:
            await asyncio.wait_for(self.gate.acquire(), SLOT_WAIT)
        except TimeoutError:
            log.warning("a message waited %.0fs to be stored; answered 451", SLOT_WAIT)
            return BUSY
        try:
            spool.seek(0)
            server.envelope.content = server.envelope.original_content = spool.read()
            status = await server.event_handler.handle_DATA(server, server.session, server.envelope)
            return str(status)
        finally:
            self.gate.release()
