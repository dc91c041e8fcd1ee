"""What the SMTP server machine reports, and how it is configured. Values only, no logic.

How this works: protocol.py's SmtpServerProtocol returns one of these events from
``next_event()`` (see its docstring for what the session does with each). ``Decision`` events wait
for the session's answer (accept or a reply); NeedData, TlsHandshakeRequired and ConnectionClosed
tell the session what to do with the connection. ProtocolConfig is fixed per connection: which
extensions to offer and which limits to enforce.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from postier.smtp import commands as c

__all__ = [
    "AuthResponse", "ClientConnected", "CloseReason", "ConnectionClosed", "Decision", "Envelope",
    "Event", "MessageReceived", "NeedData", "ProtocolConfig", "State", "TlsHandshakeRequired",
]


@dataclass(frozen=True, slots=True)
class ProtocolConfig:
    hostname: str
    # CRLF included. RFC 5321 §4.5.3.1.4 guarantees 512, which ESMTP parameters outgrow.
    max_line_length: int = 1000
    max_message_size: int = 36_700_160
    max_recipients: int = 100  # RFC 5321 §4.5.3.1.8 asks for at least 100
    max_errors: int = 10
    tls_available: bool = False  # a certificate is loaded, STARTTLS can be offered
    tls_active: bool = False  # implicit TLS (RFC 8314 port 465): STARTTLS is never offered
    require_tls: bool = False  # MAIL refused until TLS is active
    auth_mechanisms: tuple[str, ...] = ()
    allow_plaintext_auth: bool = False  # offer AUTH before TLS (tests, trusted networks)
    require_auth_for_mail: bool = False  # submission: MAIL refused until authenticated
    eight_bit_mime: bool = True
    smtputf8: bool = True
    chunking: bool = True  # CHUNKING and BINARYMIME (RFC 3030)
    dsn: bool = False  # RFC 3461 parameters; the queue must then honour them

    def __post_init__(self) -> None:
        if not self.hostname or not self.hostname.isprintable() or " " in self.hostname:
            raise ValueError("hostname must be one printable word")
        if self.max_line_length < 512:
            raise ValueError("max_line_length must be at least 512 (RFC 5321 §4.5.3.1.4)")
        if self.max_message_size < 0 or self.max_recipients < 1 or self.max_errors < 1:
            raise ValueError("limits must be positive")
        if self.smtputf8 and not self.eight_bit_mime:
            raise ValueError("SMTPUTF8 requires 8BITMIME (RFC 6531)")
        if any(m != m.upper() for m in self.auth_mechanisms):
            raise ValueError("auth_mechanisms must be upper case")


class State(enum.Enum):
    CONNECTED = "connected"  # greeting not sent yet
    REFUSED = "refused"  # 554 greeting sent: only QUIT is honoured (RFC 5321 §3.1)
    NEED_HELO = "need-helo"
    READY = "ready"  # greeted, no mail transaction
    MAIL = "mail"  # sender accepted, no recipient yet
    RCPT = "rcpt"  # at least one recipient accepted
    DATA = "data"  # reading the DATA body
    BDAT = "bdat"  # BDAT chunks accepted, LAST not yet seen
    AUTH = "auth"  # waiting for a SASL response line
    TLS_PENDING = "tls-pending"  # 220 sent for STARTTLS, handshake not done
    CLOSED = "closed"


class CloseReason(enum.Enum):
    QUIT = "quit"
    PEER_CLOSED = "peer-closed"
    TOO_MANY_ERRORS = "too-many-errors"
    SERVER_CLOSED = "server-closed"  # a 421 or close() from the session


@dataclass(frozen=True, slots=True)
class NeedData:
    pass


@dataclass(frozen=True, slots=True)
class ClientConnected:
    """Answer with accept() (220 greeting), 554 to refuse service, or 421 to close at once."""


@dataclass(frozen=True, slots=True)
class AuthResponse:
    data: bytes  # one decoded SASL client response


@dataclass(frozen=True, slots=True)
class Envelope:
    helo: str
    esmtp: bool
    mail_from: c.MailFrom
    recipients: tuple[c.RcptTo, ...]
    tls: bool
    authenticated: bool
    chunked: bool  # received with BDAT


@dataclass(frozen=True, slots=True)
class MessageReceived:
    data: bytes = field(repr=False)
    envelope: Envelope


@dataclass(frozen=True, slots=True)
class TlsHandshakeRequired:
    pass


@dataclass(frozen=True, slots=True)
class ConnectionClosed:
    reason: CloseReason
    state: State  # where the conversation was, e.g. DATA for a client that vanished mid-message


Decision = (
    ClientConnected | c.Helo | c.Ehlo | c.MailFrom | c.RcptTo | c.StartTls | c.Auth | AuthResponse
    | MessageReceived
)
Event = NeedData | TlsHandshakeRequired | ConnectionClosed | Decision
