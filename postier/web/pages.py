"""Helpers every route uses: the current session, CSRF-checked forms, rendering, redirects.

Every state-changing route reads its body through ``read_form``, which checks the session's
CSRF token (form field ``csrf`` or header ``X-CSRF-Token``) before the route sees a single
field; a request whose Origin is another site is refused earlier, in security.py. GET routes
never change anything.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse

from postier.errors import InvalidArgument, PermissionDenied
from postier.web.context import web_context
from postier.web.sessions import WebSession, cookie_name, tokens_match

__all__ = ["CsrfRejected", "LoginRequired", "form_int", "form_ints", "form_str", "is_fetch",
           "is_secure", "local_url", "read_form", "redirect", "render", "require_session",
           "session_or_none"]

MAX_FIELD = 64 * 1024


class LoginRequired(Exception):
    """No valid session: pages redirect to the login form, scripts get 401."""


class CsrfRejected(PermissionDenied):
    def __init__(self) -> None:
        super().__init__("This form has expired or was not sent from this site. "
                         "Reload the page and try again.")


def is_secure(request: Request) -> bool:
    return request.url.scheme == "https"


def session_or_none(request: Request) -> WebSession | None:
    token = request.cookies.get(cookie_name(is_secure(request)))
    return web_context(request).sessions.get(token)


def require_session(request: Request) -> WebSession:
    session = session_or_none(request)
    if session is None:
        raise LoginRequired()
    return session


async def read_form(request: Request, session: WebSession, *, max_files: int = 0,
                    max_part_size: int = MAX_FIELD) -> FormData:
    form = await request.form(max_files=max_files, max_fields=1000, max_part_size=max_part_size)
    token = request.headers.get("x-csrf-token") or form.get("csrf")
    if not isinstance(token, str) or not tokens_match(session.csrf, token):
        raise CsrfRejected()
    return form


def form_str(form: FormData, name: str, default: str = "") -> str:
    value = form.get(name)
    return value if isinstance(value, str) else default


def form_int(form: FormData, name: str) -> int:
    try:
        return int(form_str(form, name))
    except ValueError:
        raise InvalidArgument(f"missing or invalid {name}") from None


def form_ints(form: FormData, name: str) -> list[int]:
    values = []
    for value in form.getlist(name):
        if isinstance(value, str) and value.isdigit() and len(value) < 12:
            values.append(int(value))
    return values


def is_fetch(request: Request) -> bool:
    """A request made by our scripts (they all send this header)."""
    return request.headers.get("x-requested-with") == "fetch"


def local_url(value: str | None, default: str) -> str:
    """Only same-site paths: no scheme, no host, no "//" or "/\\" (open redirects)."""
    if (not value or not value.startswith("/") or value.startswith(("//", "/\\"))
            or any(ord(ch) < 0x21 for ch in value)):
        return default
    return value


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def render(request: Request, template: str, session: WebSession | None, *, status: int = 200,
           **values: Any) -> HTMLResponse:
    context = web_context(request)
    full_page = not template.startswith("_")  # fragments (live refresh) leave flashes alone
    page = context.templates.get_template(template).render(
        request=request, session=session, user=session.principal if session else None,
        csrf=session.csrf if session else "",
        flashes=session.take_flashes() if session and full_page else [], **values)
    return HTMLResponse(page, status_code=status)
