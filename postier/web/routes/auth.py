"""Login and logout.

The login form has no session yet, so it is protected by a double-submit token: GET /login sets
a random value in a short-lived, HttpOnly, SameSite=Strict cookie scoped to /login and puts the
same value in the form; POST /login accepts only when both agree (a cross-site page can neither
read the cookie nor set it). Passwords are checked by the shared Authenticator, so the webmail
is throttled exactly like IMAP, POP3 and SMTP AUTH: after a few failures from an address or
against an account, every attempt waits, right or wrong. A successful login starts a new
session under a new token (no fixation).
"""

from __future__ import annotations

import secrets

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from postier.errors import AuthFailed
from postier.web.context import web_context
from postier.web.pages import (
    CsrfRejected,
    form_str,
    is_secure,
    local_url,
    read_form,
    redirect,
    render,
    require_session,
    session_or_none,
)
from postier.web.sessions import LOGIN_COOKIE, cookie_name, tokens_match

__all__ = ["ROUTES"]

_MAX_CREDENTIAL = 1024


async def home(request: Request) -> Response:
    if session_or_none(request) is None:
        return redirect("/login")
    return redirect("/mail")


def _login_page(request: Request, *, error: str = "", status: int = 200,
                username: str = "") -> Response:
    token = secrets.token_urlsafe(24)
    response = render(request, "login.html", None, status=status, error=error,
                      login_token=token, username=username,
                      next=local_url(request.query_params.get("next"), "/mail"))
    response.set_cookie(LOGIN_COOKIE, token, max_age=3600, path="/login",
                        secure=is_secure(request), httponly=True, samesite="strict")
    return response


async def login_form(request: Request) -> Response:
    if session_or_none(request) is not None:
        return redirect(local_url(request.query_params.get("next"), "/mail"))
    return _login_page(request)


async def login(request: Request) -> Response:
    form = await request.form(max_files=0, max_fields=10, max_part_size=4 * _MAX_CREDENTIAL)
    if not tokens_match(request.cookies.get(LOGIN_COOKIE, ""), form_str(form, "login_token")):
        raise CsrfRejected()
    username = form_str(form, "username").strip()[:_MAX_CREDENTIAL]
    password = form_str(form, "password")[:_MAX_CREDENTIAL]
    context = web_context(request)
    client = request.client.host if request.client else ""
    try:
        principal = await context.services.authenticator.authenticate_password(
            username, password, client)
    except AuthFailed:
        return _login_page(request, error="Wrong address or password.", status=401,
                           username=username)
    old = request.cookies.get(cookie_name(is_secure(request)))
    if old:
        context.sessions.end(old)
    session = context.sessions.create(principal)
    response = redirect(local_url(form_str(form, "next"), "/mail"))
    response.set_cookie(cookie_name(is_secure(request)), session.token, path="/",
                        secure=is_secure(request), httponly=True, samesite="lax")
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


async def logout(request: Request) -> Response:
    session = require_session(request)
    await read_form(request, session)
    web_context(request).sessions.end(session.token)
    response = redirect("/login")
    response.delete_cookie(cookie_name(is_secure(request)), path="/",
                           secure=is_secure(request), httponly=True, samesite="lax")
    return response


ROUTES = [
    Route("/", home),
    Route("/login", login_form, methods=["GET"]),
    Route("/login", login, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
]
