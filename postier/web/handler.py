"""The webmail's entry points for the composition root: one handler per listener.

``web_handler`` builds the ASGI application once per listener (``http`` and ``https`` each
have their own sessions: a session opened over TLS is never usable over plain HTTP) and serves
each accepted connection with web/http.py. ``web_refuser`` answers connections over the limits
of net/listener.py with a plain 503.
"""

from __future__ import annotations

from postier.net.connection import Connection
from postier.services import ConnectionHandler, Services
from postier.web.app import build_app
from postier.web.context import Submitter
from postier.web.http import serve_http

__all__ = ["web_handler", "web_refuser"]

_BUSY = (b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\n"
         b"content-security-policy: default-src 'none'; frame-ancestors 'none'\r\n"
         b"x-content-type-options: nosniff\r\n"
         b"retry-after: 10\r\nconnection: close\r\ncontent-length: 36\r\n\r\n"
         b"Too many connections; retry shortly\n")


def web_handler(services: Services, submit: Submitter) -> ConnectionHandler:
    app = build_app(services, submit)

    async def handle(conn: Connection) -> None:
        await serve_http(conn, app)

    return handle


def web_refuser(services: Services) -> ConnectionHandler:
    async def refuse(conn: Connection) -> None:
        try:
            await conn.write(_BUSY)
        except (ConnectionError, OSError):
            pass

    return refuse
