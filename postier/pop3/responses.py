"""POP3 responses: one value type, and the fixed texts the server sends, named in one place.

How this works: a Response is a status (+OK or -ERR), an optional response code (RFC 2449 §8:
``[IN-USE]``, ``[LOGIN-DELAY]``, ``[SYS/TEMP]``, ``[SYS/PERM]``; RFC 3206: ``[AUTH]``) and one line
of text. ``lines`` makes it a multi-line response (CAPA, LIST, UIDL, AUTH without arguments):
each line is byte-stuffed and the response ends with "." (RFC 1939 §3). The server's status
line, code included, stays within the 512 octets RFC 2449 §4 allows.

Invariant checked at construction: no text contains CR, LF or NUL, so a string that came from a
client can never inject a response line.
"""

from __future__ import annotations

from dataclasses import dataclass

from postier.pop3.events import ProtocolConfig

__all__ = [
    "ALREADY_TLS",
    "AUTH_NEEDS_TLS",
    "BUSY",
    "BYE",
    "LINE_TOO_LONG",
    "NEED_USER",
    "NOT_IN_AUTHORIZATION",
    "NOT_IN_TRANSACTION",
    "NO_SUCH_MESSAGE",
    "STLS_NOT_AVAILABLE",
    "STLS_OK",
    "TEMPORARY_FAILURE",
    "TOO_MANY_ERRORS",
    "Response",
    "capabilities",
    "err",
    "ok",
]

_MAX_STATUS_LINE = 510  # RFC 2449 §4: 512 octets including CRLF
_FORBIDDEN = str.maketrans("", "", "\r\n\x00")


@dataclass(frozen=True, slots=True)
class Response:
    ok: bool
    text: str = ""
    code: str | None = None  # without brackets: "IN-USE", "SYS/TEMP", "AUTH"
    lines: tuple[str, ...] | None = None  # a multi-line body; () is an empty one

    def __post_init__(self) -> None:
        for value in (self.text, self.code or "", *(self.lines or ())):
            if any(c in value for c in "\r\n\x00"):
                raise ValueError("a response may not contain CR, LF or NUL")

    def to_bytes(self) -> bytes:
        status = "+OK" if self.ok else "-ERR"
        parts = [status]
        if self.code:
            parts.append(f"[{self.code}]")
        if self.text:
            parts.append(self.text)
        line = " ".join(parts).encode()[:_MAX_STATUS_LINE]
        if self.lines is None:
            return line + b"\r\n"
        body = b"".join((b"." + item if item.startswith(b".") else item) + b"\r\n"
                        for item in (entry.encode() for entry in self.lines))
        return line + b"\r\n" + body + b".\r\n"


def ok(text: str = "", lines: tuple[str, ...] | None = None) -> Response:
    return Response(True, text, None, lines)


def err(text: str, code: str | None = None) -> Response:
    """A -ERR; client-supplied text is stripped of line breaks first."""
    return Response(False, text.translate(_FORBIDDEN), code)


def capabilities(config: ProtocolConfig, *, authorization: bool, tls_active: bool,
                 login_allowed: bool) -> Response:
    """CAPA (RFC 2449 §5). Login capabilities appear only where a login is possible: in the
    AUTHORIZATION state, under TLS or with plaintext allowed."""
    lines = ["TOP", "UIDL"]
    if login_allowed:
        lines.append("USER")
        if config.mechanisms:
            lines.append("SASL " + " ".join(config.mechanisms))
    if authorization and config.tls_available and not tls_active:
        lines.append("STLS")
    lines += ["PIPELINING", "RESP-CODES", "AUTH-RESP-CODE"]
    # RFC 2449 §6.7: messages left in the maildrop are never deleted by the server.
    lines.append("EXPIRE NEVER")
    if config.login_delay:
        lines.append(f"LOGIN-DELAY {config.login_delay}")
    # RFC 6856 §2: "USER" says USER and PASS take UTF-8, which matters only where they work.
    lines.append("UTF8 USER" if login_allowed else "UTF8")
    lines.append("IMPLEMENTATION Postier")
    return ok("capability list follows", tuple(lines))


BYE = ok("Postier POP3 server signing off")
STLS_OK = ok("Begin TLS negotiation")  # RFC 2595 §4
ALREADY_TLS = err("TLS is already active")
STLS_NOT_AVAILABLE = err("STLS is not available here")
AUTH_NEEDS_TLS = err("send STLS first: passwords are accepted only over TLS", "AUTH")
NEED_USER = err("send USER first")
NOT_IN_AUTHORIZATION = err("not allowed after login")
NOT_IN_TRANSACTION = err("log in first (USER and PASS, or AUTH)")
NO_SUCH_MESSAGE = err("no such message")
LINE_TOO_LONG = err("line too long")
TOO_MANY_ERRORS = err("too many errors, closing connection", "SYS/PERM")
BUSY = err("too many connections, try again later", "SYS/TEMP")
TEMPORARY_FAILURE = err("temporary failure, please try again later", "SYS/TEMP")
