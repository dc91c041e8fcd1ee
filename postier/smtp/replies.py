"""SMTP replies: one value type, and every reply the server sends, named in one place.

How this works: a Reply is a three-digit code, an optional enhanced status code and one or more
lines of text. ``to_bytes()`` renders RFC 5321 §4.2: every line but the last is ``code-text``, the
last is ``code SP text``. With ENHANCEDSTATUSCODES (RFC 2034 §3) the enhanced code (RFC 3463
``class.subject.detail``) starts the text of every line, the continuation lines included. RFC 2034
§3 exempts the greeting and the HELO/EHLO replies, so those carry ``enhanced=None``; so do the
intermediate 334 and 354 replies, which have no enhanced class.

Invariants checked at construction: the code is 2xx-5xx, the enhanced class matches the code's
first digit, and no text line contains CR, LF or NUL, so a string that came from a client can never
inject a reply line.

Callers never write reply text inline: the session and policy pick a constant or a factory below.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "ADDRESS_FORM_REFUSED",
    "ADDRESS_NEEDS_SMTPUTF8",
    "ALREADY_AUTHENTICATED",
    "AUTH_CANCELLED",
    "AUTH_FAILED",
    "AUTH_LINE_INVALID",
    "AUTH_NOT_AVAILABLE",
    "AUTH_REQUIRED",
    "AUTH_SUCCEEDED",
    "BAD_RECIPIENT_ADDRESS",
    "BAD_SEQUENCE",
    "BARE_LINE_ENDING",
    "BINARYMIME_NEEDS_BDAT",
    "COMMAND_NOT_IMPLEMENTED",
    "COMMAND_UNRECOGNIZED",
    "DATA_AFTER_BDAT",
    "ENCRYPTION_REQUIRED",
    "EXPN_DISABLED",
    "HELP",
    "INSUFFICIENT_STORAGE",
    "LINE_TOO_LONG",
    "LOCAL_ERROR",
    "MAIL_IN_PROGRESS",
    "MECHANISM_UNRECOGNIZED",
    "MESSAGE_TOO_BIG",
    "NEED_HELO",
    "NEED_MAIL",
    "NOT_PERMITTED",
    "NO_SUCH_USER",
    "NO_VALID_RECIPIENTS",
    "NULL_SENDER_REFUSED",
    "OK",
    "OVER_QUOTA",
    "OVER_QUOTA_TEMPORARY",
    "PARAMETER_NOT_IMPLEMENTED",
    "PARAMETER_SYNTAX",
    "PARAMETER_UNRECOGNIZED",
    "READY_FOR_TLS",
    "RECIPIENT_OK",
    "RELAY_DENIED",
    "RESET_OK",
    "SENDER_NOT_OWNED",
    "SENDER_OK",
    "STARTTLS_FIRST",
    "START_MAIL_INPUT",
    "SYNTAX_ERROR",
    "TEMPORARY_AUTH_FAILURE",
    "TLS_ALREADY_ACTIVE",
    "TLS_NOT_AVAILABLE",
    "TOO_MANY_RECIPIENTS",
    "TRANSACTION_FAILED",
    "VRFY_CANNOT_VERIFY",
    "Reply",
    "auth_challenge",
    "authentication_deferred",
    "authentication_refused",
    "chunk_received",
    "closing",
    "ehlo",
    "greeting",
    "helo",
    "queued",
    "refused",
    "shutting_down",
    "timeout",
    "too_many_connections",
    "too_many_errors",
]

_ENHANCED = re.compile(r"[245]\.[0-9]{1,3}\.[0-9]{1,3}")
_FORBIDDEN_IN_TEXT = re.compile(r"[\r\n\x00]")


@dataclass(frozen=True, slots=True)
class Reply:
    code: int
    enhanced: str | None
    text: str | tuple[str, ...]

    def __post_init__(self) -> None:
        if not 200 <= self.code <= 599:
            raise ValueError(f"reply code {self.code} is not 2xx-5xx")
        if self.enhanced is not None and not (
            _ENHANCED.fullmatch(self.enhanced) and self.enhanced[0] == str(self.code)[0]
        ):
            raise ValueError(f"enhanced code {self.enhanced!r} does not fit reply {self.code}")
        if not self.lines:
            raise ValueError("a reply needs at least one line of text")
        if any(_FORBIDDEN_IN_TEXT.search(line) for line in self.lines):
            raise ValueError("reply text must not contain CR, LF or NUL")

    @property
    def lines(self) -> tuple[str, ...]:
        return (self.text,) if isinstance(self.text, str) else self.text

    @property
    def is_positive(self) -> bool:
        return 200 <= self.code < 300

    @property
    def is_permanent_failure(self) -> bool:
        return self.code >= 500

    def to_bytes(self) -> bytes:
        prefix = f"{self.enhanced} " if self.enhanced else ""
        lines = self.lines
        last = len(lines) - 1
        rendered = "".join(
            f"{self.code}{' ' if i == last else '-'}{prefix}{line}\r\n"
            for i, line in enumerate(lines)
        )
        # UTF-8 because RFC 6531 §3.7.4 lets replies echo SMTPUTF8 addresses.
        return rendered.encode("utf-8")


# Connection-level replies. 421 means "closing the channel" (RFC 5321 §3.8); the machine closes
# the connection after sending any 421.
def greeting(hostname: str) -> Reply:
    return Reply(220, None, f"{hostname} ESMTP ready")


def refused(hostname: str) -> Reply:
    """RFC 5321 §3.1: refuse service at connect; the client may only QUIT afterwards."""
    return Reply(554, "5.7.1", f"{hostname} no SMTP service here")


def closing(hostname: str) -> Reply:
    return Reply(221, "2.0.0", f"{hostname} closing connection")


def shutting_down(hostname: str) -> Reply:
    return Reply(421, "4.3.2", f"{hostname} service shutting down, try again later")


def timeout(hostname: str) -> Reply:
    return Reply(421, "4.4.2", f"{hostname} timeout, closing connection")


def too_many_errors(hostname: str) -> Reply:
    return Reply(421, "4.7.0", f"{hostname} too many errors, closing connection")


def too_many_connections(hostname: str) -> Reply:
    """Sent instead of the greeting when the listener is over its connection limits."""
    return Reply(421, "4.7.0", f"{hostname} too many connections, try again later")


def helo(hostname: str) -> Reply:
    return Reply(250, None, hostname)


def ehlo(hostname: str, capabilities: Iterable[str]) -> Reply:
    """RFC 5321 §4.1.1.1: the first line names the server, each further line is one keyword."""
    return Reply(250, None, (hostname, *capabilities))


def queued(queue_id: str) -> Reply:
    return Reply(250, "2.0.0", f"OK queued as {queue_id}")


def authentication_refused(reason: str) -> Reply:
    """DMARC p=reject (RFC 7489 §6.6.2 suggests 5.7.1) or SPF fail (RFC 7372: 5.7.23)."""
    enhanced = "5.7.23" if reason.startswith("SPF") else "5.7.1"
    return Reply(550, enhanced, _printable(reason))


def authentication_deferred(reason: str) -> Reply:
    """A policy that would reject hinges on a DNS lookup that failed: try again later."""
    return Reply(451, "4.4.3", _printable(reason) + ", try again later")


def _printable(text: str) -> str:
    return "".join(c if " " <= c <= "~" else "?" for c in text)[:200]


def chunk_received(size: int) -> Reply:
    return Reply(250, "2.0.0", f"{size} octets received")


def auth_challenge(challenge: bytes) -> Reply:
    """RFC 4954 §4: ``334 SP base64``; an empty challenge is ``334 `` with nothing after it."""
    return Reply(334, None, base64.b64encode(challenge).decode("ascii"))


OK = Reply(250, "2.0.0", "OK")
RESET_OK = Reply(250, "2.0.0", "Reset OK")
SENDER_OK = Reply(250, "2.1.0", "Sender OK")
RECIPIENT_OK = Reply(250, "2.1.5", "Recipient OK")
HELP = Reply(214, "2.0.0", "See RFC 5321")
VRFY_CANNOT_VERIFY = Reply(
    252, "2.0.0", "Cannot VRFY user, but will accept message and attempt delivery"
)
READY_FOR_TLS = Reply(220, "2.0.0", "Ready to start TLS")
AUTH_SUCCEEDED = Reply(235, "2.7.0", "Authentication successful")
START_MAIL_INPUT = Reply(354, None, "End data with <CR><LF>.<CR><LF>")

LOCAL_ERROR = Reply(451, "4.3.0", "Local error in processing, try again later")
INSUFFICIENT_STORAGE = Reply(452, "4.3.1", "Insufficient system storage")
OVER_QUOTA_TEMPORARY = Reply(452, "4.2.2", "Mailbox full, try again later")
TOO_MANY_RECIPIENTS = Reply(452, "4.5.3", "Too many recipients")
TLS_NOT_AVAILABLE = Reply(454, "4.7.0", "TLS not available due to temporary reason")
TEMPORARY_AUTH_FAILURE = Reply(454, "4.7.0", "Temporary authentication failure")  # RFC 4954 §6

SYNTAX_ERROR = Reply(500, "5.5.2", "Syntax error")
COMMAND_UNRECOGNIZED = Reply(500, "5.5.2", "Syntax error, command unrecognized")
LINE_TOO_LONG = Reply(500, "5.5.6", "Line too long")
AUTH_LINE_INVALID = Reply(501, "5.5.2", "Cannot decode base64 response")
AUTH_CANCELLED = Reply(501, "5.0.0", "Authentication cancelled")
PARAMETER_SYNTAX = Reply(501, "5.5.4", "Syntax error in parameters or arguments")
COMMAND_NOT_IMPLEMENTED = Reply(502, "5.5.1", "Command not implemented")
EXPN_DISABLED = Reply(502, "5.5.1", "EXPN not available")
AUTH_NOT_AVAILABLE = Reply(502, "5.5.1", "AUTH not available")
BAD_SEQUENCE = Reply(503, "5.5.1", "Bad sequence of commands")
NEED_HELO = Reply(503, "5.5.1", "Send HELO or EHLO first")
NEED_MAIL = Reply(503, "5.5.1", "Send MAIL first")
MAIL_IN_PROGRESS = Reply(503, "5.5.1", "Mail transaction in progress")
DATA_AFTER_BDAT = Reply(503, "5.5.1", "DATA and BDAT cannot be mixed in one transaction")
BINARYMIME_NEEDS_BDAT = Reply(503, "5.5.1", "BODY=BINARYMIME requires BDAT")
ALREADY_AUTHENTICATED = Reply(503, "5.5.1", "Already authenticated")
TLS_ALREADY_ACTIVE = Reply(503, "5.5.1", "TLS already active")
PARAMETER_NOT_IMPLEMENTED = Reply(504, "5.5.4", "Command parameter not implemented")
MECHANISM_UNRECOGNIZED = Reply(504, "5.5.4", "Unrecognized authentication mechanism")
AUTH_REQUIRED = Reply(530, "5.7.0", "Authentication required")
STARTTLS_FIRST = Reply(530, "5.7.0", "Must issue a STARTTLS command first")
AUTH_FAILED = Reply(535, "5.7.8", "Authentication credentials invalid")
ENCRYPTION_REQUIRED = Reply(
    538, "5.7.11", "Encryption required for requested authentication mechanism"
)
NO_SUCH_USER = Reply(550, "5.1.1", "No such user")
RELAY_DENIED = Reply(550, "5.7.1", "Relay access denied")
ADDRESS_FORM_REFUSED = Reply(
    550, "5.7.1", "Address form not accepted: source route, %, ! or quoted @ in local part"
)
NOT_PERMITTED = Reply(550, "5.7.1", "Not permitted")
BARE_LINE_ENDING = Reply(550, "5.6.11", "Message contains bare CR or bare LF")
OVER_QUOTA = Reply(552, "5.2.2", "Mailbox full")
MESSAGE_TOO_BIG = Reply(552, "5.3.4", "Message size exceeds fixed maximum message size")
ADDRESS_NEEDS_SMTPUTF8 = Reply(553, "5.6.7", "Non-ASCII address requires SMTPUTF8")
BAD_RECIPIENT_ADDRESS = Reply(553, "5.1.3", "Bad recipient address syntax")
SENDER_NOT_OWNED = Reply(553, "5.7.1", "Sender address not owned by the authenticated user")
NULL_SENDER_REFUSED = Reply(553, "5.7.1", "Null sender not allowed for authenticated submission")
TRANSACTION_FAILED = Reply(554, "5.5.0", "Transaction failed")
NO_VALID_RECIPIENTS = Reply(554, "5.5.1", "No valid recipients")
PARAMETER_UNRECOGNIZED = Reply(555, "5.5.4", "Parameter not recognized or not implemented")
