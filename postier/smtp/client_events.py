"""The values the SMTP client machine (client.py) takes and returns. No I/O.

``MailTransaction`` is what the queue asks the machine to send: one envelope and one body.
The machine answers with events (h11 style): ``NeedData`` (write, then read with the timeout
named by ``wait``), ``TlsRequested`` (start TLS, then call ``tls_started``), ``Ready`` (idle: call
``send_mail`` or ``quit``), ``TransactionDone`` (one result per recipient) and ``Closed`` (the
session is over; ``reason`` says why when it ended badly).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from postier.smtp.client_replies import Extensions, RemoteReply

__all__ = [
    "ClientConfig",
    "Closed",
    "Event",
    "MailTransaction",
    "NeedData",
    "Outcome",
    "OutgoingRecipient",
    "Ready",
    "RecipientResult",
    "TlsPolicy",
    "TlsRequested",
    "TransactionDone",
    "Wait",
]


class TlsPolicy(enum.Enum):
    NONE = "none"  # never STARTTLS (the connection may already be TLS: implicit TLS)
    OPPORTUNISTIC = "opportunistic"  # STARTTLS when offered, plaintext otherwise (RFC 3207)
    REQUIRED = "required"  # no TLS, no mail: the session fails without STARTTLS


class Wait(enum.Enum):
    """Which RFC 5321 §4.5.3.2 timeout applies to the reply being awaited."""

    GREETING = "greeting"  # §4.5.3.2.1: 5 minutes
    COMMAND = "command"  # MAIL, RCPT, DATA initiation and the rest: 2-5 minutes
    DATA_END = "data_end"  # §4.5.3.2.6: 10 minutes after the final dot


@dataclass(frozen=True, slots=True)
class ClientConfig:
    local_hostname: str  # what we say in EHLO
    tls: TlsPolicy = TlsPolicy.OPPORTUNISTIC
    tls_active: bool = False  # implicit TLS: the connection is encrypted from the start
    username: str | None = None  # AUTH PLAIN or LOGIN after EHLO (RFC 4954)
    password: str | None = None


@dataclass(frozen=True, slots=True)
class OutgoingRecipient:
    address: str
    notify: tuple[str, ...] = ()  # RFC 3461 NOTIFY values, passed on when the remote has DSN
    orcpt: str | None = None  # "type;address", decoded


@dataclass(frozen=True, slots=True)
class MailTransaction:
    sender: str  # "" for the null reverse-path
    recipients: tuple[OutgoingRecipient, ...]
    body: bytes  # the message with CRLF line endings, not dot-stuffed
    envid: str | None = None
    ret: str | None = None  # FULL or HDRS
    body_type: str | None = None  # 7BIT, 8BITMIME or BINARYMIME
    smtputf8: bool = False


class Outcome(enum.StrEnum):
    DELIVERED = "delivered"  # the remote took responsibility (RFC 5321 §6.1)
    DEFERRED = "deferred"  # try again later
    FAILED = "failed"  # permanent: bounce


@dataclass(frozen=True, slots=True)
class RecipientResult:
    address: str
    outcome: Outcome
    status: str  # RFC 3463 enhanced status, e.g. "5.1.1"
    text: str  # the remote's reply, or what went wrong locally, readable
    reply: RemoteReply | None = None  # the remote's reply when there was one (Diagnostic-Code)


@dataclass(frozen=True, slots=True)
class NeedData:
    wait: Wait


@dataclass(frozen=True, slots=True)
class TlsRequested:
    pass


@dataclass(frozen=True, slots=True)
class Ready:
    extensions: Extensions
    tls_active: bool


@dataclass(frozen=True, slots=True)
class TransactionDone:
    results: tuple[RecipientResult, ...]  # same order as the transaction's recipients
    dsn_passed: bool  # the remote offered DSN, so it now owns success notices (RFC 3461 §5.2)


@dataclass(frozen=True, slots=True)
class Closed:
    reason: str | None  # None: a normal QUIT; otherwise why the session ended
    reply: RemoteReply | None = None  # the remote's reply that ended it, if any


Event = NeedData | TlsRequested | Ready | TransactionDone | Closed
