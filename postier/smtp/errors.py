"""The one place where an exception becomes an SMTP reply.

How this works: two functions, one per kind of failure.

- ``command_reply`` turns a CommandError (the client sent a line that is not a valid command)
  into its 5xx reply; the machine (protocol.py) calls it.
- ``to_reply`` turns what domain and store code raise (``postier.errors``) into the reply that
  answers the command being executed; the session and the local submission path call it in
  exactly one ``except`` each. Anything else is a bug or an outage: it is logged with its
  traceback and becomes a temporary 451 4.3.0, so the client retries later and never sees
  internal text.

Temporary versus permanent follows what a retry could change: a full mailbox or a busy store
may accept the same message later (4xx); an unknown user or a refused relay will not (5xx).
"""

from __future__ import annotations

import logging

from postier.auth.sasl import UnsupportedMechanism
from postier.errors import (
    AuthFailed,
    InvalidArgument,
    MailError,
    NotFound,
    OverQuota,
    PermissionDenied,
    TooBig,
    TryLater,
)
from postier.smtp import commands as c
from postier.smtp import replies as r
from postier.smtp.replies import Reply

__all__ = ["command_reply", "to_reply"]

log = logging.getLogger(__name__)

# Order matters: the first matching class wins, so subclasses come before their bases.
_MAIL_ERRORS: tuple[tuple[type[MailError], Reply], ...] = (
    (UnsupportedMechanism, r.MECHANISM_UNRECOGNIZED),  # 504 5.5.4, RFC 4954 §4
    (OverQuota, r.OVER_QUOTA_TEMPORARY),  # 452 4.2.2: the user may make room
    (NotFound, r.NO_SUCH_USER),  # 550 5.1.1
    (TryLater, r.LOCAL_ERROR),  # 451 4.3.0
    (TooBig, r.MESSAGE_TOO_BIG),  # 552 5.3.4
    (AuthFailed, r.AUTH_FAILED),  # 535 5.7.8
    (PermissionDenied, r.NOT_PERMITTED),  # 550 5.7.1
    (InvalidArgument, r.PARAMETER_SYNTAX),  # 501 5.5.4
)


def to_reply(exc: BaseException, *, authenticating: bool = False) -> Reply:
    """The reply for an exception raised while executing a command.

    ``authenticating``: during AUTH a temporary failure is 454 4.7.0 (RFC 4954 §6), not 451."""
    if isinstance(exc, MailError):
        if authenticating and isinstance(exc, TryLater):
            return r.TEMPORARY_AUTH_FAILURE
        for kind, reply in _MAIL_ERRORS:
            if isinstance(exc, kind):
                return reply
    log.error("unexpected error, answering 451", exc_info=exc)
    return r.TEMPORARY_AUTH_FAILURE if authenticating else r.LOCAL_ERROR


def command_reply(error: c.CommandError) -> Reply:
    """The reply to a line that does not parse (RFC 5321 §4.2.4, RFC 3463 for the detail)."""
    message = str(error)
    match error:
        case c.UnknownParameter():
            return r.PARAMETER_UNRECOGNIZED
        case c.Utf8NotPermitted():
            return r.ADDRESS_NEEDS_SMTPUTF8
        case c.PathError():
            return Reply(501, "5.1.7" if error.reverse_path else "5.1.3", message)
        case c.Base64Error():
            return r.AUTH_LINE_INVALID
        case c.ArgumentError():
            return Reply(501, "5.5.4", message)
        case c.CommandNotImplemented():
            return r.COMMAND_NOT_IMPLEMENTED
    return r.COMMAND_UNRECOGNIZED
