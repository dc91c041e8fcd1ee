"""The webmail as one ASGI application: routes, templates, and the one exception→HTTP mapping.

How this works: ``build_app`` assembles a Starlette app from the route families in routes/
(auth, mailboxes, messages, compose, settings) plus the live-update feed and the static files
shipped in the package. It is wrapped in ``RequestGuard`` (cross-site and oversized requests
never reach a route) and ``SecureHeaders`` (CSP and friends on every response, errors
included). ``web.http.serve_http`` runs it on each connection of the ``http``/``https``
listeners, in the server's event loop, with the same store and change bus as IMAP and SMTP.

Errors: routes raise ``postier.errors`` exceptions (NotFound, InvalidArgument, ...) or the
web's own (LoginRequired, CsrfRejected, RequestTooLarge); ``error_response`` is the only place
that turns them into a status and a page (or JSON for our scripts). A message of another
account is NotFound, exactly like one that does not exist. Unexpected exceptions become a
generic 500 and are logged with their traceback by web.http; their text is never shown.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import MutableMapping
from datetime import datetime
from importlib import resources
from typing import Any
from urllib.parse import quote

import jinja2
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from postier.errors import (
    AlreadyExists,
    AuthFailed,
    Conflict,
    InvalidArgument,
    MailError,
    NotFound,
    OverQuota,
    PermissionDenied,
    ReadOnly,
    TooBig,
    TryLater,
)
from postier.services import Services
from postier.web import formatting, live
from postier.web.context import Submitter, WebContext
from postier.web.folders import display_name
from postier.web.http import ASGIApp
from postier.web.pages import LoginRequired, is_fetch, session_or_none
from postier.web.routes import auth, compose, mailboxes, messages, settings
from postier.web.security import RequestGuard, SecureHeaders

__all__ = ["build_app", "error_response"]

log = logging.getLogger(__name__)

FORM_LIMIT = 1024 * 1024
UPLOAD_OVERHEAD = 1024 * 1024  # form fields and multipart framing around the attachments

_STATUS: tuple[tuple[type[Exception], int], ...] = (
    (LoginRequired, 401),
    (AuthFailed, 401),
    (PermissionDenied, 403),
    (ReadOnly, 403),
    (NotFound, 404),
    (AlreadyExists, 409),
    (Conflict, 409),
    (TooBig, 413),
    (InvalidArgument, 400),
    (OverQuota, 507),
    (TryLater, 503),
    (MailError, 400),
)
_TITLES = {400: "Bad request", 401: "Please log in", 403: "Not allowed", 404: "Not found",
           405: "Not allowed", 409: "Conflict", 413: "Too large", 500: "Something went wrong",
           503: "Try again later", 507: "Mailbox full"}


def error_response(request: Request, exc: Exception) -> Response:
    """The one mapping from an exception to what the browser gets."""
    if isinstance(exc, ClientDisconnect):
        return PlainTextResponse("", status_code=400)
    if isinstance(exc, HTTPException):
        status, message = exc.status_code, str(exc.detail)
        if status == 404:
            message = "There is nothing here."
    else:
        status = next((code for kind, code in _STATUS if isinstance(exc, kind)), 500)
        message = str(exc) if isinstance(exc, MailError) else ""
    if isinstance(exc, LoginRequired):
        if request.method == "GET" and not _for_scripts(request):
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return Response(status_code=303, headers={"location": f"/login?next={_quote(target)}"})
        message = "Your session has ended. Please log in again."
    if not message:
        message = _TITLES.get(status, "Something went wrong") + "."
    if _for_scripts(request):
        return JSONResponse({"error": message}, status_code=status)
    context: WebContext = request.app.state.web
    page = context.templates.get_template("error.html").render(
        request=request, session=None, user=None, csrf="", flashes=[], status=status,
        title=_TITLES.get(status, "Error"), message=message,
        logged_in=session_or_none(request) is not None)
    return HTMLResponse(page, status_code=status)


def _for_scripts(request: Request) -> bool:
    """Requests our scripts make (fetch, EventSource): JSON errors, never a login redirect."""
    return is_fetch(request) or request.url.path.startswith(("/api/", "/events"))


def _quote(path: str) -> str:
    return quote(path, safe="/")


async def _handle(request: Request, exc: Exception) -> Response:
    return error_response(request, exc)


def _static_versions() -> dict[str, str]:
    versions = {}
    for entry in resources.files("postier.web").joinpath("static").iterdir():
        if entry.is_file():
            versions[entry.name] = hashlib.sha256(entry.read_bytes()).hexdigest()[:10]
    return versions


def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("postier.web", "templates"),
        autoescape=True, trim_blocks=True, lstrip_blocks=True,
        undefined=jinja2.StrictUndefined)
    versions = _static_versions()

    def static(name: str) -> str:
        return f"/static/{name}?v={versions.get(name, '0')}"

    environment.globals["static"] = static
    environment.filters["shortdate"] = formatting.short_date
    environment.filters["fulldate"] = formatting.full_date
    environment.filters["isodate"] = lambda value: value.isoformat() \
        if isinstance(value, datetime) else ""
    environment.filters["filesize"] = formatting.file_size
    environment.filters["boxname"] = display_name
    environment.filters["linkify"] = lambda text: Markup(formatting.linkify(text))
    return environment


def build_app(services: Services, submit: Submitter) -> ASGIApp:
    context = WebContext(services, submit, _environment())
    routes: list[Route | Mount] = [
        *auth.ROUTES, *mailboxes.ROUTES, *messages.ROUTES, *compose.ROUTES, *settings.ROUTES,
        Route("/events", live.events),
        Mount("/static", StaticFiles(packages=[("postier.web", "static")]), name="static"),
    ]
    handlers: dict[Any, Any] = {kind: _handle for kind in
                                (MailError, LoginRequired, HTTPException, ClientDisconnect,
                                 Exception)}
    app = Starlette(routes=routes, exception_handlers=handlers)
    app.state.web = context
    upload_limit = services.config.limits.max_message_size + UPLOAD_OVERHEAD

    def limit_for(path: str) -> int:
        return upload_limit if path == "/compose" else FORM_LIMIT

    def reject(scope: MutableMapping[str, Any], exc: Exception) -> ASGIApp:
        request = Request(scope)
        request.scope["app"] = app
        return error_response(request, exc)

    return SecureHeaders(RequestGuard(app, limit_for, reject))
