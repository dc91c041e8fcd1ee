"""The one place where a failure becomes an IMAP answer.

How this works
--------------
Handlers and the store raise exceptions; the session calls :func:`to_tagged` in exactly one
``try/except`` around each command. Three kinds arrive here:

* :class:`CommandFailed` — a handler's own verdict with the status and response code the RFC
  asks for (``NO [TRYCREATE]`` for an APPEND to a missing mailbox, ``BAD`` for a sequence
  number past the end, ...). Its text is shown as is.
* ``postier.errors.MailError`` — domain failures from the store or the authenticator. Their
  text is written for users, so it is shown; the class picks the response code
  (RFC 9051 §7.1, RFC 5530): NotFound → NONEXISTENT, AlreadyExists → ALREADYEXISTS,
  OverQuota → OVERQUOTA (RFC 9208 §4.3.4), InvalidArgument → CANNOT, TryLater → UNAVAILABLE,
  AuthFailed → AUTHENTICATIONFAILED, ...
* anything else is a bug: logged with its traceback, answered ``NO [SERVERBUG]`` with a fixed
  text, so no internal detail ever reaches the client.
"""

from __future__ import annotations

import logging

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
from postier.imap.responses import ResponseCode, SimpleCode, Status, Tagged

__all__ = ["CommandFailed", "bad", "no", "to_tagged"]

log = logging.getLogger("postier.imap")

# Most specific first: the first matching class wins.
_CODES: tuple[tuple[type[MailError], SimpleCode], ...] = (
    (NotFound, SimpleCode.NONEXISTENT),
    (AlreadyExists, SimpleCode.ALREADYEXISTS),
    (OverQuota, SimpleCode.OVERQUOTA),
    (TooBig, SimpleCode.TOOBIG),
    (AuthFailed, SimpleCode.AUTHENTICATIONFAILED),
    (ReadOnly, SimpleCode.READ_ONLY),
    (PermissionDenied, SimpleCode.NOPERM),
    (TryLater, SimpleCode.UNAVAILABLE),
    (Conflict, SimpleCode.CANNOT),
    (InvalidArgument, SimpleCode.CANNOT),
)


class CommandFailed(Exception):
    """A handler's answer to a command it refuses: ``NO`` or ``BAD`` with an optional code."""

    def __init__(self, status: Status, text: str, code: ResponseCode | None = None) -> None:
        super().__init__(text)
        self.status = status
        self.text = text
        self.code = code


def no(text: str, code: ResponseCode | None = None) -> CommandFailed:
    return CommandFailed(Status.NO, text, code)


def bad(text: str, code: ResponseCode | None = None) -> CommandFailed:
    return CommandFailed(Status.BAD, text, code)


def to_tagged(tag: str, error: Exception) -> Tagged:
    """The tagged answer for a command that raised ``error``."""
    if isinstance(error, CommandFailed):
        return Tagged(tag, error.status, error.text, error.code)
    if isinstance(error, MailError):
        code = next((c for kind, c in _CODES if isinstance(error, kind)), None)
        return Tagged(tag, Status.NO, str(error) or "failed", code)
    log.error("IMAP command %s failed", tag, exc_info=error)
    return Tagged(tag, Status.NO, "internal server error; the error was logged",
                  SimpleCode.SERVERBUG)
