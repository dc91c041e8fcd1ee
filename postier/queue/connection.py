"""An outbound TCP connection for the SMTP client: connect, read, write, STARTTLS, close.

How this works: asyncio streams with a timeout on every step, and socket and TLS errors turned
into ``ConnectionFailed`` with a message an administrator can read in ``postier queue show``
("mx.example.org[192.0.2.1]:25: connection refused"). Large writes go in blocks, each with its
own timeout, like RFC 5321 §4.5.3.2.5's per-block data timeout, so a slow but moving transfer of
a big message is not cut off while a stalled one is.
"""

from __future__ import annotations

import asyncio
import ssl

__all__ = ["ConnectionFailed", "SmtpConnection", "describe_error"]

_READ_SIZE = 64 * 1024
_WRITE_BLOCK = 64 * 1024


class ConnectionFailed(Exception):
    """Connecting, reading, writing or the TLS handshake failed; the text says how."""


def describe_error(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate not accepted: {exc.verify_message or exc}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {exc.reason or exc}"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ConnectionResetError):
        return "connection reset by the server"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc) or type(exc).__name__


class SmtpConnection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 label: str) -> None:
        self._reader = reader
        self._writer = writer
        self.label = label  # "host[address]:port", for messages

    @classmethod
    async def open(cls, host: str, address: str, port: int, *, timeout: float,
                   tls: ssl.SSLContext | None = None) -> SmtpConnection:
        """Connect to ``address`` (``host`` names it in messages and TLS SNI); ``tls`` makes
        the connection TLS from the start (implicit TLS, RFC 8314)."""
        label = f"{host}[{address}]:{port}" if host != address else f"{address}:{port}"
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(
                    address, port, ssl=tls, server_hostname=host if tls else None)
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            raise ConnectionFailed(f"{label}: {describe_error(exc)}") from exc
        return cls(reader, writer, label)

    async def read(self, timeout: float) -> bytes:
        """Up to 64 KiB; b"" when the server closed. Raises TimeoutError or ConnectionFailed."""
        try:
            async with asyncio.timeout(timeout):
                return await self._reader.read(_READ_SIZE)
        except TimeoutError:
            raise
        except (OSError, ssl.SSLError) as exc:
            raise ConnectionFailed(describe_error(exc)) from exc

    async def write(self, data: bytes, timeout: float) -> None:
        try:
            for start in range(0, len(data), _WRITE_BLOCK):
                self._writer.write(data[start:start + _WRITE_BLOCK])
                async with asyncio.timeout(timeout):
                    await self._writer.drain()
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            raise ConnectionFailed(f"sending failed: {describe_error(exc)}") from exc

    async def start_tls(self, context: ssl.SSLContext, server_hostname: str,
                        timeout: float) -> None:
        try:
            async with asyncio.timeout(timeout):
                await self._writer.start_tls(context, server_hostname=server_hostname)
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            raise ConnectionFailed(f"TLS handshake failed: {describe_error(exc)}") from exc

    async def close(self) -> None:
        if self._writer.is_closing():
            return
        self._writer.close()
        try:
            async with asyncio.timeout(5):
                await self._writer.wait_closed()
        except (OSError, TimeoutError, ssl.SSLError):
            pass
