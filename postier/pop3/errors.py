"""The one place where an exception becomes a POP3 -ERR response.

How this works: the session calls ``to_response`` in exactly one ``except`` per decision (login,
retrieve). Response codes follow RFC 2449 §8 and RFC 3206:

- [AUTH]: the credentials were refused (wrong password, unknown or disabled user). The text is
  the authenticator's, which never tells which of those it was.
- [IN-USE]: the credentials were right but another POP3 session holds the maildrop.
- [LOGIN-DELAY]: the credentials were right but the last login was too recent (RFC 2449 §8.1.2).
- [SYS/TEMP]: a store outage or any unexpected error; the client may retry as is. Unexpected
  errors are logged with their traceback and their text is never shown.

A cancelled SASL exchange or an unknown mechanism gets a plain -ERR: nothing is wrong with the
user's credentials (RFC 5034 §4). A message that vanished under a RETR gets a plain -ERR too.
"""

from __future__ import annotations

import logging

from postier.auth import SaslCancelled, UnsupportedMechanism
from postier.errors import AuthFailed, MailError, NotFound, TryLater
from postier.pop3 import responses as r
from postier.pop3.responses import Response

__all__ = ["LoginTooSoon", "MaildropInUse", "to_response"]

log = logging.getLogger(__name__)


class MaildropInUse(TryLater):
    """Another POP3 session has the account's maildrop (RFC 1939 §4 exclusive access)."""


class LoginTooSoon(TryLater):
    """The account logged in less than LOGIN-DELAY seconds ago."""


def to_response(exc: BaseException) -> Response:
    match exc:
        case MaildropInUse():
            return r.err(str(exc) or "maildrop is in use by another POP3 session", "IN-USE")
        case LoginTooSoon():
            return r.err(str(exc) or "logged in too recently", "LOGIN-DELAY")
        case UnsupportedMechanism():
            return r.err("unsupported authentication mechanism")
        case SaslCancelled():
            return r.err(str(exc) or "authentication cancelled")
        case AuthFailed():
            return r.err(str(exc) or "authentication failed", "AUTH")
        case NotFound():
            return r.err(str(exc) or "no longer exists")
        case TryLater():
            return r.err(str(exc) or "temporary failure", "SYS/TEMP")
        case MailError():
            # Expected, user-visible, but nothing POP3 can act on: retrying may help.
            return r.err(str(exc), "SYS/TEMP")
    log.error("unexpected error in a POP3 session", exc_info=exc)
    return r.TEMPORARY_FAILURE
