"""Headers every response carries, and the checks every request passes before routing.

``SecureHeaders`` wraps the whole application (error pages included) and adds, unless a route
set its own: a strict Content-Security-Policy (``APP_CSP``: scripts, styles, images, frames and
connections from this origin only, no inline script or style, no plugins, no <base>, forms
only to this origin, never framed), nosniff, a referrer for this site only (links in mail must
not leak webmail URLs; with "no-referrer" browsers would send ``Origin: null`` on our own
forms), no caching of private pages, and HSTS over TLS. Routes that serve mail content set
stricter policies of their own (``frame_csp``, ``DOWNLOAD_CSP``).

``RequestGuard`` refuses, before any route runs, unsafe methods (POST, ...) coming from another
site (``Origin`` or ``Sec-Fetch-Site``: the browser's word), and bodies larger than the route
allows — at once from Content-Length, or while reading for chunked bodies.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from typing import Any

from postier.errors import PermissionDenied, TooBig
from postier.web.http import ASGIApp, Message, Receive, Send

__all__ = ["APP_CSP", "DOWNLOAD_CSP", "RequestGuard", "RequestTooLarge", "SecureHeaders",
           "frame_csp"]

APP_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
           "font-src 'self'; connect-src 'self'; frame-src 'self'; object-src 'none'; "
           "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
DOWNLOAD_CSP = "default-src 'none'; sandbox; frame-ancestors 'none'"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def frame_csp(remote_images: bool) -> str:
    """The sanitized mail document: no script at all, inline styles, images as allowed, and a
    sandbox (opaque origin) even if someone opens its URL outside the frame."""
    images = "data: https: http:" if remote_images else "data:"
    return ("sandbox allow-popups allow-popups-to-escape-sandbox; default-src 'none'; "
            f"style-src 'unsafe-inline'; img-src {images}; font-src data:; "
            "form-action 'none'; base-uri 'none'; frame-ancestors 'self'")


class RequestTooLarge(TooBig):
    pass


class SecureHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: MutableMapping[str, Any], receive: Receive,
                       send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        secure = scope.get("scheme") == "https"
        static = str(scope.get("path", "")).startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(bytes(k), bytes(v)) for k, v in message.get("headers", ())]
                present = {k.lower() for k, _ in headers}
                defaults = [
                    (b"content-security-policy", APP_CSP.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"same-origin"),
                    (b"x-frame-options", b"DENY"),
                    (b"cross-origin-opener-policy", b"same-origin"),
                    (b"cross-origin-resource-policy", b"same-origin"),
                    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
                    (b"cache-control", b"no-cache" if static else b"no-store"),
                ]
                if secure:
                    defaults.append((b"strict-transport-security", b"max-age=15552000"))
                headers += [(k, v) for k, v in defaults if k not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self._app(scope, receive, send_with_headers)


class RequestGuard:
    """``limit_for(path)``: the largest body a route accepts, in bytes."""

    def __init__(self, app: ASGIApp, limit_for: Callable[[str], int],
                 reject: Callable[[MutableMapping[str, Any], Exception], ASGIApp]) -> None:
        self._app = app
        self._limit_for = limit_for
        self._reject = reject

    async def __call__(self, scope: MutableMapping[str, Any], receive: Receive,
                       send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in _SAFE_METHODS:
            await self._app(scope, receive, send)
            return
        headers = {k.lower(): v for k, v in scope["headers"]}
        if not _same_site(headers):
            error: Exception = PermissionDenied(
                "This request came from another site and was refused.")
            await self._reject(scope, error)(scope, receive, send)
            return
        limit = self._limit_for(scope["path"])
        declared = headers.get(b"content-length", b"0")
        if not declared.isdigit() or int(declared) > limit:
            await self._reject(scope, _too_large(limit))(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise _too_large(limit)
            return message

        await self._app(scope, limited_receive, send)


def _too_large(limit: int) -> RequestTooLarge:
    return RequestTooLarge(f"This upload is too large: the server accepts at most "
                           f"{_megabytes(limit)} per request.")


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB" if size >= 1024 * 1024 else f"{size // 1024} KB"


def _same_site(headers: dict[bytes, bytes]) -> bool:
    fetch_site = headers.get(b"sec-fetch-site")
    if fetch_site is not None and fetch_site not in (b"same-origin", b"none"):
        return False
    origin = headers.get(b"origin")
    if origin is None or origin == b"null":
        return origin is None  # "null": a sandboxed document (a mail!) posting a form
    # Host only, not the scheme: behind a TLS-terminating proxy the browser's origin is https
    # while this listener sees plain HTTP.
    _, _, origin_host = origin.partition(b"://")
    return origin_host.lower() == headers.get(b"host", b"").lower()
