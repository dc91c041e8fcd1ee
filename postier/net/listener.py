"""Listeners: bind addresses, accept connections, enforce connection limits, hand off sessions.

How this works: each configured listener name (smtp, imaps, ...) becomes a ``ListenerSpec`` with a
TLS mode and a session handler. ``Listeners.start`` binds every address (implicit-TLS listeners
complete the handshake before the handler runs). Each accepted connection is counted against a
global and a per-IP limit; over the limit, the spec's ``refuse`` callback writes the protocol's
"too busy" line and the connection closes. ``stop`` closes the sockets, then gives running
sessions a grace period before cancelling them.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import ssl
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from postier.config import HostPort
from postier.net.connection import Connection, StreamConnection

__all__ = ["ListenerSpec", "Listeners", "TlsMode"]

log = logging.getLogger(__name__)
Handler = Callable[[Connection], Awaitable[None]]


class TlsMode(enum.Enum):
    NONE = "none"  # plain, no STARTTLS (HTTP behind a proxy, for instance)
    STARTTLS = "starttls"  # plain first; the protocol offers an upgrade
    IMPLICIT = "implicit"  # TLS from the first byte (RFC 8314)


@dataclass(frozen=True, slots=True)
class ListenerSpec:
    name: str
    addresses: tuple[HostPort, ...]
    tls: TlsMode
    handler: Handler
    refuse: Callable[[Connection], Awaitable[None]] | None = None


@dataclass(frozen=True, slots=True)
class Bound:
    name: str
    host: str
    port: int
    tls: TlsMode


class Listeners:
    def __init__(self, tls_context: ssl.SSLContext | None, *, max_connections: int,
                 max_per_ip: int) -> None:
        self._tls_context = tls_context
        self._max_connections = max_connections
        self._max_per_ip = max_per_ip
        self._servers: list[asyncio.Server] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._per_ip: Counter[str] = Counter()
        self.bound: list[Bound] = []

    @property
    def active_connections(self) -> int:
        return len(self._tasks)

    async def start(self, specs: list[ListenerSpec]) -> None:
        for spec in specs:
            for address in spec.addresses:
                await self._bind(spec, address)

    async def _bind(self, spec: ListenerSpec, address: HostPort) -> None:
        context = self._tls_context if spec.tls is TlsMode.IMPLICIT else None
        if spec.tls is TlsMode.IMPLICIT and context is None:
            raise RuntimeError(f"listener {spec.name} needs a TLS certificate")

        async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await self._serve(spec, StreamConnection(reader, writer, spec.name))

        try:
            server = await asyncio.start_server(
                accept, host=address.host or None, port=address.port, ssl=context,
                ssl_handshake_timeout=30 if context else None, reuse_address=True,
                backlog=1024)
        except OSError as exc:
            raise OSError(exc.errno, f"cannot listen on {address} for {spec.name}: "
                          f"{exc.strerror}") from exc
        self._servers.append(server)
        seen: set[tuple[str, int]] = set()
        for sock in server.sockets:
            host, port = sock.getsockname()[:2]
            if (host, port) not in seen:
                seen.add((host, port))
                self.bound.append(Bound(spec.name, host, port, spec.tls))

    async def _serve(self, spec: ListenerSpec, conn: Connection) -> None:
        task = asyncio.current_task()
        assert task is not None
        ip = conn.peer_ip
        over = (len(self._tasks) >= self._max_connections
                or self._per_ip[ip] >= self._max_per_ip)
        self._tasks.add(task)
        self._per_ip[ip] += 1
        try:
            if over:
                log.warning("%s: refusing %s: too many connections", spec.name, ip)
                if spec.refuse is not None:
                    await spec.refuse(conn)
            else:
                await spec.handler(conn)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s: session with %s failed", spec.name, ip)
        finally:
            self._tasks.discard(task)
            self._per_ip[ip] -= 1
            if self._per_ip[ip] <= 0:
                del self._per_ip[ip]
            await conn.close()

    def port_of(self, name: str) -> int:
        for bound in self.bound:
            if bound.name == name:
                return bound.port
        raise KeyError(name)

    async def stop(self, grace: float = 5.0) -> None:
        for server in self._servers:
            server.close()
        if self._tasks:
            _done, pending = await asyncio.wait(set(self._tasks), timeout=grace)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=grace)
        for server in self._servers:
            await server.wait_closed()
        self._servers.clear()
