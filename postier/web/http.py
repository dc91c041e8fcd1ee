"""HTTP/1.1 over a Postier ``Connection``, into an ASGI application.

How this works: ``serve_http`` owns one connection. The sans-I/O h11 machine frames requests and
responses; this module only reads, feeds and writes. Each request becomes one ASGI "http" cycle
(``_Cycle``): ``receive`` hands out the request body as h11 parses it, then waits for the peer to
disconnect (so a streaming response — the live-update feed — ends when the tab closes); ``send``
turns ``http.response.*`` messages into h11 events. When both sides are done and neither asked to
close, the next request is served on the same connection (keep-alive).

Why this and not uvicorn or hypercorn: every listener in Postier hands its sessions a
``net.Connection`` only after net/listener.py accepted the socket, counted it against the global
and per-IP connection limits and, for ``https``, completed the TLS handshake with the certificate
that SIGHUP reloads. Those servers want to own the socket or the transport: uvicorn's protocol
classes would have to be attached underneath the Connection (bypassing its TLS and limits) and
hypercorn serves a listening socket of its own. h11 is the same well-kept machine uvicorn and
hypercorn use, so the parsing is theirs; what is here is the small, tested glue, and the web
app runs in the same event loop as IMAP, SMTP and POP3, over the same store and change bus.

Limits: request heads up to ``HttpLimits.max_head_bytes`` (431 beyond), idle keep-alive and
slow-body timeouts, and a bound on what is buffered while a response streams. The size of a
request body is the application's business (it knows which routes take uploads).
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import h11

from postier.net.connection import Connection

__all__ = ["ASGIApp", "HttpLimits", "serve_http"]

log = logging.getLogger(__name__)

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[MutableMapping[str, Any], Receive, Send], Awaitable[None]]

_PIPELINE_BUFFER = 64 * 1024  # bytes of a next request we accept while a response streams
_BARE_CSP = "default-src 'none'; frame-ancestors 'none'"  # for the answers made here


@dataclass(frozen=True, slots=True)
class HttpLimits:
    max_head_bytes: int = 32 * 1024  # request line + header fields
    first_request_timeout: float = 30.0  # a new connection must send its first request by then
    keepalive_timeout: float = 75.0  # idle time between requests
    body_timeout: float = 60.0  # silence while a request body is being sent
    drain_timeout: float = 5.0  # reading an unwanted body so the client sees our answer


class _Closed(Exception):
    """The peer went away or broke the protocol; nothing more can be written."""


async def serve_http(conn: Connection, app: ASGIApp, limits: HttpLimits | None = None) -> None:
    """Serve requests on ``conn`` until either side closes. Never raises for peer behaviour."""
    limits = limits or HttpLimits()
    machine = h11.Connection(h11.SERVER, max_incomplete_event_size=limits.max_head_bytes)
    timeout = limits.first_request_timeout
    while True:
        try:
            event = await _next_event(conn, machine, timeout)
        except h11.RemoteProtocolError as exc:
            await _send_error(conn, machine, exc.error_status_hint)
            return
        except (_Closed, TimeoutError):
            return
        if not isinstance(event, h11.Request):
            return  # ConnectionClosed, or anything unexpected between requests
        if _head_size(event) > limits.max_head_bytes:
            # h11 bounds heads that arrive in pieces; one that arrived whole is measured here.
            await _send_error(conn, machine, 431)
            return
        cycle = _Cycle(conn, machine, event, limits)
        await cycle.run(app)
        if not await cycle.finish():
            return
        machine.start_next_cycle()
        timeout = limits.keepalive_timeout


async def _next_event(conn: Connection, machine: h11.Connection, timeout: float | None) -> Any:
    while True:
        event = machine.next_event()
        if event is not h11.NEED_DATA:
            return event
        if machine.their_state is h11.CLOSED:
            return h11.ConnectionClosed()
        machine.receive_data(await conn.read(timeout))


async def _send_error(conn: Connection, machine: h11.Connection, status: int) -> None:
    """A bare error answer to a request h11 refused, then close."""
    if machine.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
        return
    body = f"{status} {http.HTTPStatus(status).phrase}\n".encode()
    try:
        data = machine.send(h11.Response(status_code=status, headers=[
            ("content-type", "text/plain; charset=utf-8"), ("content-length", str(len(body))),
            ("content-security-policy", _BARE_CSP), ("x-content-type-options", "nosniff"),
            ("connection", "close")]))
        data = (data or b"") + (machine.send(h11.Data(data=body)) or b"")
        data += machine.send(h11.EndOfMessage()) or b""
        await conn.write(data)
    except (h11.LocalProtocolError, ConnectionError, OSError):
        pass


def _head_size(request: h11.Request) -> int:
    return len(request.target) + sum(len(k) + len(v) + 4 for k, v in request.headers)


def _target(request: h11.Request) -> tuple[bytes, bytes]:
    """(path, query) of the request target; absolute-form targets lose their scheme and host."""
    target = bytes(request.target)
    if target.startswith((b"http://", b"https://")):
        slash = target.find(b"/", target.find(b"//") + 2)
        target = target[slash:] if slash >= 0 else b"/"
    path, _, query = target.partition(b"?")
    return path, query


class _Cycle:
    """One request and its response."""

    def __init__(self, conn: Connection, machine: h11.Connection, request: h11.Request,
                 limits: HttpLimits) -> None:
        self._conn = conn
        self._machine = machine
        self._request = request
        self._limits = limits
        self._head = request.method == b"HEAD"
        self._body_done = False
        self._continue_sent = False
        self._status: int | None = None
        self._headers: list[tuple[bytes, bytes]] = []
        self.response_started = False
        self.response_complete = False
        self.disconnected = asyncio.Event()
        self._watcher: asyncio.Task[None] | None = None

    def scope(self) -> dict[str, Any]:
        request, conn = self._request, self._conn
        path, query = _target(request)
        host = next((v.decode("latin-1") for k, v in request.headers if k == b"host"), "")
        return {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": request.http_version.decode("ascii"),
            "method": request.method.decode("ascii"),
            "scheme": "https" if conn.tls_active else "http",
            "path": unquote(path.decode("latin-1"), encoding="utf-8", errors="replace"),
            "raw_path": path,
            "query_string": query,
            "root_path": "",
            "headers": [(bytes(k), bytes(v)) for k, v in request.headers],
            "client": (conn.peer_ip, conn.peer_port),
            "server": (host.rsplit(":", 1)[0] if host else "", conn.local_port),
            "state": {},
        }

    async def run(self, app: ASGIApp) -> None:
        path, _ = _target(self._request)
        if not path.startswith(b"/"):
            await self._answer_plain(400, b"Bad request target\n")
            return
        try:
            await app(self.scope(), self.receive, self.send)
        except asyncio.CancelledError:
            raise
        except _Closed:
            pass
        except Exception:
            log.exception("web: request %s %s failed", self._request.method.decode(),
                          path.decode("latin-1")[:200])
            if not self.response_started:
                await self._answer_plain(500, b"Internal server error\n")
        else:
            if not self.response_started:
                await self._answer_plain(500, b"No response\n")
        finally:
            await self._stop_watching()

    async def finish(self) -> bool:
        """After the app: True when the connection can serve another request."""
        machine = self._machine
        if not self.response_complete or machine.our_state is not h11.DONE:
            return False
        if machine.their_state is h11.SEND_BODY:
            # The app answered without reading the whole body: a GET's empty one (h11 still has
            # its end to deliver), or an upload refused with 413. Read the rest, within a time
            # bound, so the client sees our answer instead of a reset connection.
            await self._drain()
        return machine.their_state is h11.DONE

    async def _drain(self) -> None:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(self._limits.drain_timeout):
                while not isinstance(await _next_event(self._conn, self._machine, None),
                                     h11.EndOfMessage | h11.ConnectionClosed):
                    pass

    async def receive(self) -> Message:
        if self.response_complete or self.disconnected.is_set():
            return {"type": "http.disconnect"}
        if not self._body_done:
            return await self._receive_body()
        self._start_watching()
        await self.disconnected.wait()
        return {"type": "http.disconnect"}

    async def _receive_body(self) -> Message:
        machine = self._machine
        if machine.they_are_waiting_for_100_continue and not self._continue_sent:
            self._continue_sent = True
            await self._write(machine.send(h11.InformationalResponse(status_code=100,
                                                                     headers=[])))
        try:
            event = await _next_event(self._conn, machine, self._limits.body_timeout)
        except (h11.RemoteProtocolError, TimeoutError, _Closed):
            self.disconnected.set()
            return {"type": "http.disconnect"}
        if isinstance(event, h11.Data):
            return {"type": "http.request", "body": bytes(event.data), "more_body": True}
        if isinstance(event, h11.EndOfMessage):
            self._body_done = True
            return {"type": "http.request", "body": b"", "more_body": False}
        self.disconnected.set()
        return {"type": "http.disconnect"}

    def _start_watching(self) -> None:
        if self._watcher is None:
            self._watcher = asyncio.create_task(self._watch())

    async def _watch(self) -> None:
        """Read while the response is produced: EOF means the client left. Bytes of a pipelined
        next request are kept in the machine for the next cycle (up to a bound)."""
        machine = self._machine
        while not self.response_complete:
            if len(machine.trailing_data[0]) > _PIPELINE_BUFFER:
                return  # stop reading; TCP flow control holds the client back
            try:
                data = await self._conn.read()
            except Exception:
                data = b""
            try:
                machine.receive_data(data)
            except RuntimeError:
                pass
            if not data:
                self.disconnected.set()
                return

    async def _stop_watching(self) -> None:
        watcher, self._watcher = self._watcher, None
        if watcher is not None and not watcher.done():
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher

    async def send(self, message: Message) -> None:
        if self.disconnected.is_set() or self.response_complete:
            return  # ASGI < 2.4: sending after a disconnect is a no-op
        kind = message["type"]
        if kind == "http.response.start":
            if self.response_started or self._status is not None:
                raise RuntimeError("response already started")
            self._status = int(message["status"])
            self._headers = [(bytes(k), bytes(v)) for k, v in message.get("headers", ())]
            return
        if kind != "http.response.body":
            return
        if self._status is None:
            raise RuntimeError("http.response.body before http.response.start")
        machine = self._machine
        out = b""
        if not self.response_started:
            self.response_started = True
            reason = http.HTTPStatus(self._status).phrase.encode() \
                if self._status in http.HTTPStatus._value2member_map_ else b""
            out += machine.send(h11.Response(status_code=self._status, headers=self._headers,
                                             reason=reason)) or b""
        body = bytes(message.get("body", b""))
        if body and not self._head:
            out += machine.send(h11.Data(data=body)) or b""
        if not message.get("more_body", False):
            out += machine.send(h11.EndOfMessage()) or b""
            self.response_complete = True
        if out:
            await self._write(out)

    async def _write(self, data: bytes | None) -> None:
        if not data:
            return
        try:
            await self._conn.write(data)
        except (ConnectionError, OSError) as exc:
            self.disconnected.set()
            raise _Closed() from exc

    async def _answer_plain(self, status: int, body: bytes) -> None:
        with contextlib.suppress(_Closed, h11.LocalProtocolError):
            await self.send({"type": "http.response.start", "status": status, "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"content-security-policy", _BARE_CSP.encode()),
                (b"x-content-type-options", b"nosniff"),
                (b"connection", b"close")]})
            await self.send({"type": "http.response.body", "body": body})
