"""Webmail sessions: random tokens in a cookie, state in memory, one CSRF token per session.

How this works: a successful login creates a ``WebSession`` under a fresh 256-bit random token
(never reused, so a token planted before login is worthless: no session fixation). The browser
holds only the token, in an HttpOnly, SameSite=Lax cookie that is also Secure and ``__Host-``
prefixed when the request came over TLS. Everything else stays on the server, in this process's
memory: restarting Postier ends every session and users log in again. Sessions end after
``idle_timeout`` without a request, after ``max_age`` in any case, and at logout.

CSRF: each session has a synchronizer token that every state-changing request must echo (form
field ``csrf`` or header ``X-CSRF-Token``); it is compared in constant time. The login form,
which has no session yet, uses a double-submit token instead: a random value in a short-lived
cookie that the form must repeat.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from postier.types import Principal

__all__ = ["SessionStore", "WebSession", "cookie_name", "tokens_match"]

_SESSION_COOKIE = "postier_session"
LOGIN_COOKIE = "postier_login"


def cookie_name(secure: bool) -> str:
    """``__Host-`` cookies must be Secure, host-only and for path /: browsers enforce it."""
    return f"__Host-{_SESSION_COOKIE}" if secure else _SESSION_COOKIE


def tokens_match(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected.encode(), (given or "").encode())


@dataclass
class WebSession:
    token: str
    principal: Principal
    csrf: str
    created: float
    last_seen: float
    flashes: list[tuple[str, str]] = field(default_factory=list)  # (level, text) for next page

    def flash(self, text: str, level: str = "info") -> None:
        self.flashes.append((level, text))
        del self.flashes[:-5]

    def take_flashes(self) -> list[tuple[str, str]]:
        flashes, self.flashes = self.flashes, []
        return flashes


class SessionStore:
    def __init__(self, *, idle_timeout: float = 8 * 3600, max_age: float = 7 * 24 * 3600,
                 max_sessions: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        self._sessions: dict[str, WebSession] = {}
        self._idle_timeout = idle_timeout
        self._max_age = max_age
        self._max_sessions = max_sessions
        self._clock = clock

    def __len__(self) -> int:
        return len(self._sessions)

    def create(self, principal: Principal) -> WebSession:
        now = self._clock()
        self._purge(now)
        if len(self._sessions) >= self._max_sessions:
            oldest = min(self._sessions.values(), key=lambda s: s.last_seen)
            del self._sessions[oldest.token]
        session = WebSession(secrets.token_urlsafe(32), principal, secrets.token_urlsafe(32),
                             now, now)
        self._sessions[session.token] = session
        return session

    def get(self, token: str | None) -> WebSession | None:
        if not token:
            return None
        session = self._sessions.get(token)
        if session is None:
            return None
        now = self._clock()
        if self._expired(session, now):
            del self._sessions[token]
            return None
        session.last_seen = now
        return session

    def end(self, token: str) -> None:
        self._sessions.pop(token, None)

    def _expired(self, session: WebSession, now: float) -> bool:
        return (now - session.last_seen > self._idle_timeout
                or now - session.created > self._max_age)

    def _purge(self, now: float) -> None:
        for token in [t for t, s in self._sessions.items() if self._expired(s, now)]:
            del self._sessions[token]
