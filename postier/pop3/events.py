"""What the POP3 server machine reports, and how it is configured. Values only, no logic.

How this works: protocol.py's Pop3ServerProtocol returns one of these from ``next_event()``.
``Decision`` events wait for the session's answer before the next event may be asked for (see the
protocol docstring for each answer); the others tell the session what to do with the connection.
ProtocolConfig is fixed per connection.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from postier.pop3.maildrop import MaildropMessage
from postier.types import Uid

__all__ = [
    "CloseReason",
    "ConnectionClosed",
    "Decision",
    "Event",
    "FlushOutput",
    "NeedData",
    "PasswordLogin",
    "ProtocolConfig",
    "Retrieve",
    "SaslCancelled",
    "SaslLogin",
    "SaslResponse",
    "State",
    "TlsHandshakeRequired",
    "Update",
]


@dataclass(frozen=True, slots=True)
class ProtocolConfig:
    tls_available: bool = False  # a certificate is loaded: STLS can be offered
    tls_active: bool = False  # implicit TLS (pop3s, RFC 8314): STLS is never offered
    allow_plaintext: bool = False  # passwords and AUTH before TLS (operator's explicit choice)
    mechanisms: tuple[str, ...] = ("SCRAM-SHA-256", "PLAIN", "LOGIN")
    login_delay: int = 0  # seconds; 0: LOGIN-DELAY is not advertised (RFC 2449 §6.5)
    max_line_length: int = 512  # CRLF included; RFC 2449 §4 requires at least 255
    max_sasl_line_length: int = 12288  # one base64 SASL response
    max_errors: int = 20
    output_high_water: int = 256 * 1024  # ask the session to flush pipelined answers above this

    def __post_init__(self) -> None:
        if self.max_line_length < 255:
            raise ValueError("max_line_length must be at least 255 (RFC 2449 §4)")
        if self.max_errors < 1 or self.login_delay < 0:
            raise ValueError("limits must be positive")
        if any(m != m.upper() for m in self.mechanisms):
            raise ValueError("mechanisms must be upper case")


class State(enum.Enum):
    AUTHORIZATION = "authorization"  # RFC 1939 §4: greeting sent, not logged in
    AUTHENTICATING = "authenticating"  # PASS or AUTH being decided by the session
    TLS_PENDING = "tls-pending"  # "+OK" sent for STLS, handshake not done
    TRANSACTION = "transaction"  # RFC 1939 §5: logged in, maildrop open
    UPDATE = "update"  # RFC 1939 §6: QUIT received, deletions being applied
    CLOSED = "closed"


class CloseReason(enum.Enum):
    QUIT = "quit"
    PEER_CLOSED = "peer-closed"
    TOO_MANY_ERRORS = "too-many-errors"
    SERVER_CLOSED = "server-closed"


@dataclass(frozen=True, slots=True)
class NeedData:
    """Write ``data_to_send()``, read, feed ``receive_data``."""


@dataclass(frozen=True, slots=True)
class FlushOutput:
    """Pipelined answers piled up: write ``data_to_send()`` before asking for the next event."""


@dataclass(frozen=True, slots=True)
class TlsHandshakeRequired:
    """Write ``data_to_send()``, run the TLS handshake, then call ``tls_started()``."""


@dataclass(frozen=True, slots=True)
class PasswordLogin:
    """USER + PASS. Answer with ``login_succeeded(maildrop)`` or ``login_failed(response)``."""

    username: str
    password: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class SaslLogin:
    """AUTH mechanism [initial-response] (RFC 5034). While it is pending the session may call
    ``send_challenge`` and then read the client's SaslResponse or SaslCancelled; it ends with
    ``login_succeeded`` or ``login_failed``."""

    mechanism: str
    initial_response: bytes | None = field(repr=False)


@dataclass(frozen=True, slots=True)
class SaslResponse:
    data: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class SaslCancelled:
    """The client answered "*" (RFC 5034 §4) or sent something that is not base64."""

    reason: str


@dataclass(frozen=True, slots=True)
class Retrieve:
    """RETR (lines None) or TOP. Answer with ``send_message(content)`` or ``retrieve_failed``."""

    message: MaildropMessage
    lines: int | None = None


@dataclass(frozen=True, slots=True)
class Update:
    """QUIT in the TRANSACTION state (RFC 1939 §6): apply the deletions, then ``update_done``."""

    deleted: tuple[Uid, ...]
    retrieved: tuple[Uid, ...]  # RETR'd during the session, deleted or not


@dataclass(frozen=True, slots=True)
class ConnectionClosed:
    reason: CloseReason
    state: State  # where the conversation was when it ended


Decision = PasswordLogin | SaslLogin | Retrieve | Update
Event = (NeedData | FlushOutput | TlsHandshakeRequired | SaslResponse | SaslCancelled
         | ConnectionClosed | Decision)
