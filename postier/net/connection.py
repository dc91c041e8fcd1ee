"""Connection: the only socket API a protocol session sees.

How this works: a thin wrapper over asyncio streams that adds what every mail protocol needs —
read with a timeout, write with back-pressure (``drain``), an in-place STARTTLS upgrade, and the
facts a policy needs (peer address, listener name, whether TLS is active). Sessions never touch
sockets, so tests can substitute ``net.memory`` pairs.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from typing import Protocol

__all__ = ["Connection", "StreamConnection"]

log = logging.getLogger(__name__)

READ_SIZE = 64 * 1024


class Connection(Protocol):
    listener: str
    peer_ip: str
    peer_port: int
    local_port: int

    @property
    def tls_active(self) -> bool: ...
    async def read(self, timeout: float | None = None) -> bytes: ...
    async def write(self, data: bytes) -> None: ...
    async def start_tls(self, context: ssl.SSLContext) -> None: ...
    async def close(self) -> None: ...


class StreamConnection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 listener: str) -> None:
        self._reader = reader
        self._writer = writer
        self.listener = listener
        peer = writer.get_extra_info("peername") or ("", 0)
        sock = writer.get_extra_info("sockname") or ("", 0)
        self.peer_ip = str(peer[0])
        self.peer_port = int(peer[1])
        self.local_port = int(sock[1])
        self._tls = writer.get_extra_info("sslcontext") is not None

    @property
    def tls_active(self) -> bool:
        return self._tls

    async def read(self, timeout: float | None = None) -> bytes:
        """Up to 64 KiB; b"" when the peer closed. Raises TimeoutError after ``timeout``."""
        try:
            async with asyncio.timeout(timeout):
                return await self._reader.read(READ_SIZE)
        except (ConnectionError, ssl.SSLError):
            return b""

    async def write(self, data: bytes) -> None:
        self._writer.write(data)
        await self._writer.drain()

    async def start_tls(self, context: ssl.SSLContext) -> None:
        # Plaintext the client sent after its STARTTLS/STLS but which the session has not read
        # yet sits in the reader's buffer; after the upgrade it would be read as if it came over
        # TLS (CVE-2011-0411 command injection). RFC 3207 §4.2: discard it. StreamReader has no
        # public way to drop its buffer, hence the private attribute.
        buffered: bytearray = self._reader._buffer  # type: ignore[attr-defined]
        if buffered:
            log.warning("discarding %d plaintext bytes sent before the TLS handshake from %s",
                        len(buffered), self.peer_ip)
            buffered.clear()
        await self._writer.start_tls(context)
        self._tls = True

    async def close(self) -> None:
        if self._writer.is_closing():
            return
        self._writer.close()
        try:
            async with asyncio.timeout(5):
                await self._writer.wait_closed()
        except (TimeoutError, ConnectionError, ssl.SSLError):
            # close() waits to send what is buffered; a peer that stopped reading would keep
            # the socket and that buffer forever.
            self._writer.transport.abort()
