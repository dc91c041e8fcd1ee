"""An in-memory Connection for session tests: no sockets, deterministic, same API.

``MemoryConnection`` is the server's end; the test drives the ``MemoryPeer`` (``send``,
``read_until``, ``close``). STARTTLS is simulated by flipping ``tls_active`` — real TLS is
exercised by the end-to-end tests over sockets.
"""

from __future__ import annotations

import asyncio
import ssl

__all__ = ["MemoryConnection", "MemoryPeer", "memory_pair"]


class MemoryConnection:
    def __init__(self, listener: str, peer_ip: str, tls: bool) -> None:
        self.listener = listener
        self.peer_ip = peer_ip
        self.peer_port = 40000
        self.local_port = 0
        self._tls = tls
        self.inbound: asyncio.Queue[bytes] = asyncio.Queue()
        self.outbound = bytearray()
        self.outbound_event = asyncio.Event()
        self.closed = False

    @property
    def tls_active(self) -> bool:
        return self._tls

    async def read(self, timeout: float | None = None) -> bytes:
        if self.closed:
            return b""
        async with asyncio.timeout(timeout):
            return await self.inbound.get()

    async def write(self, data: bytes) -> None:
        if self.closed:
            raise ConnectionResetError("connection closed")
        self.outbound += data
        self.outbound_event.set()

    async def start_tls(self, context: ssl.SSLContext) -> None:
        self._tls = True

    async def close(self) -> None:
        self.closed = True
        self.outbound_event.set()


class MemoryPeer:
    """The client's end of a MemoryConnection."""

    def __init__(self, connection: MemoryConnection) -> None:
        self.connection = connection
        self._seen = 0

    def send(self, data: bytes) -> None:
        self.connection.inbound.put_nowait(data)

    def close(self) -> None:
        self.connection.inbound.put_nowait(b"")

    async def read_until(self, marker: bytes, timeout: float = 5.0) -> bytes:
        """Everything the server wrote since the last call, up to and including ``marker``."""
        async with asyncio.timeout(timeout):
            while True:
                index = self.connection.outbound.find(marker, self._seen)
                if index >= 0:
                    end = index + len(marker)
                    chunk = bytes(self.connection.outbound[self._seen:end])
                    self._seen = end
                    return chunk
                if self.connection.closed:
                    raise ConnectionResetError("server closed the connection: "
                                               + bytes(self.connection.outbound[self._seen:])
                                               .decode(errors="replace"))
                self.connection.outbound_event.clear()
                await self.connection.outbound_event.wait()


def memory_pair(listener: str = "test", peer_ip: str = "192.0.2.1",
                tls: bool = False) -> tuple[MemoryConnection, MemoryPeer]:
    connection = MemoryConnection(listener, peer_ip, tls)
    return connection, MemoryPeer(connection)
