"""The SMTP client state machine (RFC 5321 with ESMTP extensions), driven by the outbound queue.

How this works (h11 style, the mirror image of protocol.py). The driver feeds what the server
sends with ``receive_data`` (``b""`` when it closed), writes whatever ``data_to_send`` returns,
and pulls events with ``next_event`` (see client_events.py):

- ``NeedData(wait)``: write, then read with the timeout RFC 5321 §4.5.3.2 sets for ``wait``. On a
  timeout call ``timed_out()``; on a socket error ``connection_lost(reason)``.
- ``TlsRequested``: the server said 220 to STARTTLS. Any bytes it sent after that reply are
  discarded here, never read as replies after the handshake (RFC 3207 §4.2; the client side of
  the STARTTLS injection bugs). Start TLS, then call ``tls_started()``; the machine says EHLO again.
- ``Ready``: the session is set up (greeting, EHLO or HELO, STARTTLS, AUTH). Call
  ``send_mail(transaction)`` — as often as there are messages for this server — or ``quit()``.
- ``TransactionDone``: one ``RecipientResult`` per recipient. Report it durably *before* asking for
  the next event, so that a crash after the remote's 250 does not send the message again.
- ``Closed``: the session is over; close the connection. ``reason`` is None after a normal QUIT.

Transactions. MAIL carries SIZE (RFC 1870), BODY (RFC 6152, RFC 3030), SMTPUTF8 (RFC 6531) and
RET/ENVID (RFC 3461) when the server offers them; RCPT carries NOTIFY/ORCPT when it offers DSN.
With PIPELINING (RFC 2920 §3.1) MAIL, every RCPT and DATA go in one write and the replies are
matched in order; without it each command waits for its reply. A RCPT 4xx defers that recipient,
a 5xx fails it; the reply to the end of data applies to every accepted recipient (RFC 5321 §4.2.5
has no per-recipient answer there). When no recipient was accepted, DATA is not sent, or — when
pipelined and answered 354 anyway — the data is ended at once with a lone dot (RFC 2920 §3.1).
A transaction that did not end with the data is cleaned up with RSET before the next one.

Refused before sending anything, as permanent failures: a message needing SMTPUTF8 to a server
without it (5.6.7, RFC 6531 §3.2), a BINARYMIME body to a server without BINARYMIME and CHUNKING
(5.6.3, RFC 3030 §3), a message above the server's SIZE limit (5.3.4, RFC 1870 §6). An 8-bit body
to a server without 8BITMIME is sent as it is (no 7-bit downgrade; most servers take it).

Failures. Garbage from the server, a reply of the wrong shape, a 421 (RFC 5321 §3.8), an EOF, a
timeout: the current transaction ends with its unresolved recipients deferred and a readable
reason, then ``Closed`` with that reason. The machine never raises for the remote's faults;
``LocalProtocolError`` means the driver called it out of turn. It knows nothing of sockets,
clocks, DNS or the queue.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass

from postier.smtp.client_commands import (
    REPLY_LABELS,
    b64,
    dot_stuff,
    mail_line,
    normalize_line_endings,
    rcpt_line,
    refusal,
    result_of,
    xtext_encode,
)
from postier.smtp.client_events import (
    ClientConfig,
    Closed,
    Event,
    MailTransaction,
    NeedData,
    Outcome,
    OutgoingRecipient,
    Ready,
    RecipientResult,
    TlsPolicy,
    TlsRequested,
    TransactionDone,
    Wait,
)
from postier.smtp.client_replies import Extensions, RemoteProtocolError, RemoteReply, ReplyReader

__all__ = [
    "ClientConfig", "Closed", "Event", "Extensions", "LocalProtocolError", "MailTransaction",
    "NeedData", "Outcome", "OutgoingRecipient", "Ready", "RecipientResult", "RemoteReply",
    "SmtpClientProtocol", "TlsPolicy", "TlsRequested", "TransactionDone", "Wait", "dot_stuff",
    "normalize_line_endings", "xtext_encode",
]

class LocalProtocolError(Exception):
    """The driver used the machine wrongly (a bug on our side, never the server's)."""


class _State(enum.Enum):
    SETUP = "setup"  # greeting, EHLO/HELO, STARTTLS, AUTH
    TLS_HANDSHAKE = "tls_handshake"
    READY = "ready"
    TRANSACTION = "transaction"
    QUIT = "quit"
    CLOSED = "closed"


@dataclass(slots=True)
class _Transaction:
    mail: MailTransaction
    pipelined: bool
    results: list[RecipientResult | None]
    accepted: list[int]
    next_rcpt: int = 0  # RCPT commands sent
    rcpt_replies: int = 0  # RCPT replies read: replies come in command order (RFC 2920 §3.1)
    mail_failed: bool = False


class SmtpClientProtocol:
    def __init__(self, config: ClientConfig) -> None:
        self.config = config
        self._reader = ReplyReader()
        self._out = bytearray()
        self._state = _State.SETUP
        self._pending: deque[str] = deque(["greeting"])
        self._events: deque[Event] = deque()
        self._tls_active = config.tls_active
        self._tried_tls = False
        self._authenticated = False
        self._auth_login = False
        self._extensions = Extensions()
        self._transaction: _Transaction | None = None
        self._closed: Closed | None = None

    # Driver API ---------------------------------------------------------------------------

    @property
    def extensions(self) -> Extensions:
        return self._extensions

    @property
    def tls_active(self) -> bool:
        return self._tls_active

    def receive_data(self, data: bytes) -> None:
        if self._state is not _State.CLOSED:
            self._reader.feed(data)

    def data_to_send(self) -> bytes:
        out = bytes(self._out)
        self._out.clear()
        return out

    def next_event(self) -> Event:
        while True:
            if self._events:
                return self._events.popleft()
            if self._state is _State.CLOSED:
                assert self._closed is not None
                return self._closed
            if self._state is _State.TLS_HANDSHAKE:
                return TlsRequested()
            if self._state is _State.READY and not self._pending:
                return Ready(self._extensions, self._tls_active)
            try:
                reply = self._reader.next_reply()
            except RemoteProtocolError as exc:
                self._fail(f"protocol error from the server: {exc}", status="4.5.0")
                continue
            if reply is None:
                if self._reader.eof:
                    if self._state is _State.QUIT:
                        self._close(None)
                    else:
                        self._fail(f"connection closed by the server while waiting for "
                                   f"{self._waiting_for()}")
                    continue
                return NeedData(self._wait())
            self._handle(reply)

    def timed_out(self) -> None:
        if self._state is _State.QUIT:
            self._close(None)
        elif self._state is not _State.CLOSED:
            self._fail(f"timeout waiting for {self._waiting_for()}")

    def connection_lost(self, reason: str) -> None:
        if self._state is _State.QUIT:
            self._close(None)
        elif self._state is not _State.CLOSED:
            self._fail(reason)

    def tls_started(self) -> None:
        if self._state is not _State.TLS_HANDSHAKE:
            raise LocalProtocolError("tls_started() without TlsRequested")
        self._tls_active = True
        self._extensions = Extensions()  # RFC 3207 §4.2: forget everything learnt before TLS
        self._state = _State.SETUP
        self._command("EHLO", f"EHLO {self.config.local_hostname}")

    def send_mail(self, mail: MailTransaction) -> None:
        if self._state is not _State.READY or self._pending:
            raise LocalProtocolError(f"send_mail() in state {self._state.value}")
        if not mail.recipients:
            raise LocalProtocolError("a transaction needs at least one recipient")
        refused = refusal(self._extensions, mail)
        if refused is not None:
            status, text = refused
            self._events.append(TransactionDone(
                tuple(RecipientResult(r.address, Outcome.FAILED, status, text)
                      for r in mail.recipients), dsn_passed=False))
            return
        pipelined = "PIPELINING" in self._extensions
        self._transaction = _Transaction(mail, pipelined, [None] * len(mail.recipients), [])
        self._state = _State.TRANSACTION
        self._command("MAIL", mail_line(self._extensions, mail))
        if pipelined:
            for index in range(len(mail.recipients)):
                self._command("RCPT", rcpt_line(self._extensions, mail.recipients[index]))
            self._transaction.next_rcpt = len(mail.recipients)
            self._send_data_command()

    def quit(self) -> None:
        if self._state is not _State.READY or self._pending:
            raise LocalProtocolError(f"quit() in state {self._state.value}")
        self._state = _State.QUIT
        self._command("QUIT", "QUIT")

    # Replies ------------------------------------------------------------------------------

    def _handle(self, reply: RemoteReply) -> None:
        if not self._pending:
            self._fail(f"unexpected reply from the server: {reply}", reply, status="4.5.0")
            return
        kind = self._pending.popleft()
        if reply.code == 421 and kind != "QUIT":
            # RFC 5321 §3.8: the server is closing; whatever it answered stays unanswered.
            self._fail(f"the server closed the session: {reply}", reply)
            return
        if self._state is _State.SETUP:
            self._handle_setup(kind, reply)
        elif self._state is _State.TRANSACTION:
            self._handle_transaction(kind, reply)
        elif self._state is _State.QUIT:
            self._close(None)

    def _handle_setup(self, kind: str, reply: RemoteReply) -> None:
        if kind == "greeting":
            if reply.code != 220:
                self._refuse_session(f"the server refused the session: {reply}", reply)
            else:
                self._command("EHLO", f"EHLO {self.config.local_hostname}")
        elif kind in ("EHLO", "HELO"):
            if reply.code == 250:
                self._extensions = Extensions.parse(reply) if kind == "EHLO" else Extensions()
                self._after_hello()
            elif kind == "EHLO" and reply.code in (500, 502) and not self._tls_active:
                self._command("HELO", f"HELO {self.config.local_hostname}")  # RFC 5321 §3.2
            else:
                self._refuse_session(f"the server refused {kind}: {reply}", reply)
        elif kind == "STARTTLS":
            if reply.code == 220:
                self._reader.discard()
                self._state = _State.TLS_HANDSHAKE
            elif self.config.tls is TlsPolicy.REQUIRED:
                self._refuse_session(f"STARTTLS failed: {reply}", reply)
            else:
                self._tried_tls = True
                self._after_hello()
        elif kind == "AUTH_USER" and reply.code == 334:
            self._command("AUTH_PASS", b64(self.config.password or ""))
        elif kind == "AUTH" and reply.code == 334 and self._auth_login:
            self._command("AUTH_USER", b64(self.config.username or ""))
        elif kind in ("AUTH", "AUTH_PASS") and reply.code == 235:
            self._authenticated = True
            self._after_hello()
        else:
            self._refuse_session(f"authentication failed: {reply}", reply)

    def _after_hello(self) -> None:
        config = self.config
        if config.tls is not TlsPolicy.NONE and not self._tls_active and not self._tried_tls:
            if "STARTTLS" in self._extensions:
                self._command("STARTTLS", "STARTTLS")
                return
            if config.tls is TlsPolicy.REQUIRED:
                self._refuse_session("the server does not offer STARTTLS, which is required")
                return
        if config.username is not None and not self._authenticated:
            if not self._tls_active and config.tls is not TlsPolicy.NONE:
                self._refuse_session("refusing to send the password without TLS")
                return
            mechanisms = self._extensions.auth_mechanisms
            if "PLAIN" in mechanisms:
                secret = f"\0{config.username}\0{config.password or ''}"
                self._command("AUTH", f"AUTH PLAIN {b64(secret)}")
            elif "LOGIN" in mechanisms:
                self._auth_login = True
                self._command("AUTH", "AUTH LOGIN")
            else:
                self._refuse_session("the server offers neither AUTH PLAIN nor AUTH LOGIN")
            return
        self._state = _State.READY

    def _handle_transaction(self, kind: str, reply: RemoteReply) -> None:
        tx = self._transaction
        assert tx is not None
        if kind == "MAIL":
            if not reply.is_positive:
                tx.mail_failed = True
                for index, recipient in enumerate(tx.mail.recipients):
                    tx.results[index] = result_of(recipient.address, reply)
                if not tx.pipelined:
                    self._finish()
            else:
                self._next_rcpt()
        elif kind == "RCPT":
            index = tx.rcpt_replies
            tx.rcpt_replies += 1
            if not tx.mail_failed:
                if reply.is_positive:
                    tx.accepted.append(index)
                else:
                    tx.results[index] = result_of(tx.mail.recipients[index].address, reply)
            if not tx.pipelined:
                self._next_rcpt()
        elif kind == "DATA":
            if reply.code == 354:
                if tx.accepted and not tx.mail_failed:
                    self._send(dot_stuff(tx.mail.body))
                    self._pending.append("BODY")
                else:
                    self._send(b".\r\n")
                    self._pending.append("DISCARD")
            else:
                self._apply_to_accepted(reply, final=False)
                self._reset_or_finish()
        elif kind in ("BODY", "BDAT"):
            self._apply_to_accepted(reply, final=True)
            if reply.code // 100 == 2:
                self._finish()
            else:
                self._reset_or_finish()
        elif kind == "DISCARD":
            self._reset_or_finish()
        elif kind == "RSET":
            self._finish()

    def _next_rcpt(self) -> None:
        tx = self._transaction
        assert tx is not None
        if tx.pipelined:
            return
        if tx.next_rcpt < len(tx.mail.recipients):
            self._command("RCPT", rcpt_line(self._extensions, tx.mail.recipients[tx.next_rcpt]))
            tx.next_rcpt += 1
        elif tx.accepted:
            self._send_data_command()
        else:
            self._command("RSET", "RSET")

    def _send_data_command(self) -> None:
        tx = self._transaction
        assert tx is not None
        if tx.mail.body_type == "BINARYMIME":
            body = tx.mail.body
            self._command("BDAT", f"BDAT {len(body)} LAST")
            self._send(body)  # RFC 3030 §2: BDAT carries the octets as they are, no dots
        else:
            self._command("DATA", "DATA")

    def _apply_to_accepted(self, reply: RemoteReply, *, final: bool) -> None:
        """The reply to DATA (``final`` False) or to the data itself decides for every
        recipient the server accepted. Only the reply to the data can mean delivered."""
        tx = self._transaction
        assert tx is not None
        if tx.mail_failed:
            return
        for index in tx.accepted:
            address = tx.mail.recipients[index].address
            if reply.is_positive and not final:
                tx.results[index] = RecipientResult(
                    address, Outcome.DEFERRED, "4.5.0", f"unexpected reply to DATA: {reply}", reply)
            else:
                tx.results[index] = result_of(address, reply)

    def _reset_or_finish(self) -> None:
        tx = self._transaction
        assert tx is not None
        if tx.mail_failed:
            self._finish()
        else:
            self._command("RSET", "RSET")  # the server may still hold the transaction open

    def _finish(self) -> None:
        tx = self._transaction
        assert tx is not None
        results = tuple(
            result or RecipientResult(tx.mail.recipients[i].address, Outcome.DEFERRED, "4.5.0",
                                      "the server gave no verdict for this recipient")
            for i, result in enumerate(tx.results))
        self._events.append(TransactionDone(results, "DSN" in self._extensions))
        self._transaction = None
        self._pending.clear()
        self._state = _State.READY

    # Failure and closing ------------------------------------------------------------------

    def _fail(self, reason: str, reply: RemoteReply | None = None, *,
              status: str = "4.4.2") -> None:
        tx = self._transaction
        if tx is not None:
            if reply is not None and reply.is_transient:
                status = reply.status
            for index, result in enumerate(tx.results):
                if result is None:
                    tx.results[index] = RecipientResult(
                        tx.mail.recipients[index].address, Outcome.DEFERRED, status, reason, reply)
            self._finish()
        self._close(reason, reply)

    def _refuse_session(self, reason: str, reply: RemoteReply | None = None) -> None:
        """Setup failed: say QUIT politely (RFC 5321 §3.1) without waiting for its reply."""
        self._send(b"QUIT\r\n")
        self._close(reason, reply)

    def _close(self, reason: str | None, reply: RemoteReply | None = None) -> None:
        self._state = _State.CLOSED
        self._pending.clear()
        self._closed = Closed(reason, reply)

    # Output -------------------------------------------------------------------------------

    def _command(self, kind: str, line: str) -> None:
        self._send(line.encode("utf-8") + b"\r\n")
        self._pending.append(kind)

    def _send(self, data: bytes) -> None:
        self._out += data

    def _waiting_for(self) -> str:
        return REPLY_LABELS.get(self._pending[0], "a reply") if self._pending else "a reply"

    def _wait(self) -> Wait:
        head = self._pending[0] if self._pending else ""
        if head == "greeting":
            return Wait.GREETING
        return Wait.DATA_END if head in ("BODY", "BDAT") else Wait.COMMAND
