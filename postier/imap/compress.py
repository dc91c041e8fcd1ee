"""COMPRESS=DEFLATE (RFC 4978): a Connection that inflates what it reads, deflates what it writes.

How this works
--------------
After ``tag OK`` to COMPRESS, both directions are one raw DEFLATE stream each (RFC 1951, no
zlib header: ``wbits=-15``). Every write ends with a sync flush (RFC 4978 §4) so the client can
decode each response as soon as it arrives. Reads are bounded: one read returns at most
``READ_SIZE`` inflated octets and keeps the rest of the input for the next read, so a small
"zip bomb" cannot make the server inflate gigabytes at once; the IMAP machine's own limits
then apply to the inflated bytes as to any others. The bytes the client sent after the
COMPRESS command, already compressed, are passed in as ``pending``.

Input that is not valid DEFLATE raises :class:`CorruptStream` (a ConnectionError: no command
can be read any more); the output side still works, so the session sends a compressed
``* BYE`` before closing. Later reads return ``b""``.
"""

from __future__ import annotations

import ssl
import zlib

from postier.net.connection import Connection

__all__ = ["CorruptStream", "DeflateConnection"]

READ_SIZE = 64 * 1024


class CorruptStream(ConnectionError):
    """The client's compressed stream cannot be inflated."""


class DeflateConnection:
    def __init__(self, inner: Connection, pending: bytes = b"") -> None:
        self._inner = inner
        self.listener = inner.listener
        self.peer_ip = inner.peer_ip
        self.peer_port = inner.peer_port
        self.local_port = inner.local_port
        self._inflater = zlib.decompressobj(-15)
        self._deflater = zlib.compressobj(6, zlib.DEFLATED, -15)
        self._tail = pending  # compressed input not yet inflated
        self._eof = False

    @property
    def tls_active(self) -> bool:
        return self._inner.tls_active

    async def read(self, timeout: float | None = None) -> bytes:
        while True:
            if self._tail:
                try:
                    data = self._inflater.decompress(self._tail, READ_SIZE)
                except zlib.error as error:
                    self._tail, self._eof = b"", True  # nothing more is read
                    raise CorruptStream(f"invalid compressed data: {error}") from None
                self._tail = self._inflater.unconsumed_tail
                if data:
                    return data
                if self._tail:
                    continue
            if self._eof:
                return b""
            received = await self._inner.read(timeout)
            if not received:
                self._eof = True
                return b""
            self._tail = received

    async def write(self, data: bytes) -> None:
        await self._inner.write(self._deflater.compress(data)
                                + self._deflater.flush(zlib.Z_SYNC_FLUSH))

    async def start_tls(self, context: ssl.SSLContext) -> None:
        raise RuntimeError("TLS cannot start after compression (RFC 4978 §5)")

    async def close(self) -> None:
        await self._inner.close()
