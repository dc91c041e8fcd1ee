"""The SMTP server state machine (RFC 5321 with ESMTP extensions): bytes in, events and replies out.

Why hand-written rather than aiosmtpd: aiosmtpd interleaves parsing with socket I/O, answers with
raw reply strings through hooks found by method name, lacks BDAT/CHUNKING, and hands over mail one
callback at a time, which makes a whole-envelope, group-committed delivery awkward.

How this works (h11 style). The session feeds bytes with ``receive_data`` (``b""`` when the peer
closed) and pulls events with ``next_event``; replies collect in a buffer that ``data_to_send``
drains. Events are of three kinds:

- NeedData: write ``data_to_send()``, read, feed. Replies to pipelined commands (RFC 2920) pile up
  until then, which is exactly when RFC 2920 §3.2 requires them to be flushed.
- Decisions: ClientConnected, Helo, Ehlo, MailFrom, RcptTo, StartTls, Auth, AuthResponse and
  MessageReceived. The session must answer each with ``accept()`` (the usual positive reply) or
  ``send(reply)`` before asking for the next event. The reply moves the machine: 2xx accepts (sender
  set, recipient added, TLS or authentication begun), 334 continues SASL, anything else refuses.
- TlsHandshakeRequired and ConnectionClosed: write ``data_to_send()``, then start TLS and call
  ``tls_started()``, or close the connection.

The machine answers by itself everything that needs no outside knowledge: syntax and sequence
errors (RFC 5321 §4.3.2), NOOP, RSET, HELP, VRFY (252, §3.5.3), EXPN (502), QUIT, DATA (354), BDAT
chunks before the last, SASL cancellation, too many recipients, SIZE above the limit, oversized or
bare-CR/LF messages (see wire.py), and the rules ProtocolConfig sets (TLS or AUTH before MAIL).
Any BDAT with a valid size has its chunk read even when refused, so binary data is never taken for
commands. States: CONNECTED → NEED_HELO → READY → MAIL → RCPT → DATA or BDAT → READY.

Errors: every 5xx reply, the session's included, counts; at ``max_errors`` the machine adds
421 4.7.0 and closes. 4xx replies do not count: greylisting or too many recipients are not abuse.
Any 421 closes the connection (RFC 5321 §3.8).

The event classes, the states and ProtocolConfig live in events.py and are re-exported here.

STARTTLS (RFC 3207 §4.2): when the 220 is sent, bytes already buffered are plaintext the client
pipelined after STARTTLS; they are discarded, never executed (CVE-2011-0411), counted as an error,
and ``tls_started()`` reports how many there were. The client must then EHLO again, and any
authentication is forgotten.
"""

from __future__ import annotations

from postier.net.deadline import Phase
from postier.smtp import commands as c
from postier.smtp import replies as r
from postier.smtp.errors import command_reply
from postier.smtp.events import (
    AuthResponse,
    ClientConnected,
    CloseReason,
    ConnectionClosed,
    Decision,
    Envelope,
    Event,
    MessageReceived,
    NeedData,
    ProtocolConfig,
    State,
    TlsHandshakeRequired,
)
from postier.smtp.replies import Reply
from postier.smtp.wire import LineTooLong, MessageBody, WireReader

__all__ = [
    "AuthResponse", "ClientConnected", "CloseReason", "ConnectionClosed", "Decision", "Envelope",
    "Event", "LocalProtocolError", "MessageReceived", "NeedData", "ProtocolConfig",
    "SmtpServerProtocol", "State", "TlsHandshakeRequired",
]

_SASL_LINE_LENGTH = 12288  # RFC 4954 §4: AUTH lines and SASL responses may be this long
_PARAM_EXTENSION = {
    "SIZE": "SIZE", "BODY": "8BITMIME", "SMTPUTF8": "SMTPUTF8", "AUTH": "AUTH",
    "RET": "DSN", "ENVID": "DSN", "NOTIFY": "DSN", "ORCPT": "DSN",
}


class LocalProtocolError(Exception):
    """The session used the machine wrongly (a bug on our side, never the client's)."""


class _Transaction:
    __slots__ = ("body", "mail_from", "recipients")

    def __init__(self, mail_from: c.MailFrom) -> None:
        self.mail_from = mail_from
        self.recipients: list[c.RcptTo] = []
        self.body: MessageBody | None = None


class _Chunk:
    """A BDAT chunk being read; ``rejection`` is sent once it has been read and dropped."""

    __slots__ = ("last", "rejection", "remaining", "size")

    def __init__(self, command: c.Bdat, rejection: Reply | None) -> None:
        self.size = self.remaining = command.size
        self.last = command.last
        self.rejection = rejection


class SmtpServerProtocol:
    def __init__(self, config: ProtocolConfig) -> None:
        self.config = config
        self._wire = WireReader()
        self._out = bytearray()
        self._state = State.CONNECTED
        self._pending: Decision | None = None
        self._closed = ConnectionClosed(CloseReason.SERVER_CLOSED, State.CONNECTED)
        self._tls_active = config.tls_active
        self._authenticated = False
        self._helo: str | None = None
        self._esmtp = False
        self._errors = 0
        self._transaction: _Transaction | None = None
        self._chunk: _Chunk | None = None
        self._discarded = 0

    @property
    def state(self) -> State:
        return self._state

    @property
    def tls_active(self) -> bool:
        return self._tls_active

    @property
    def authenticated(self) -> bool:
        return self._authenticated

    @property
    def helo_domain(self) -> str | None:
        return self._helo

    @property
    def input_phase(self) -> Phase:
        """Where the client is in the stream, for the read deadline (``net/deadline.py``)."""
        if self._state is State.DATA or self._chunk is not None:
            return Phase.PAYLOAD
        return Phase.LINE if self._wire.buffered else Phase.IDLE

    def receive_data(self, data: bytes) -> None:
        if self._wire.eof:
            raise LocalProtocolError("receive_data() after end of input")
        if self._state is not State.CLOSED or not data:
            self._wire.feed(data)

    def data_to_send(self) -> bytes:
        out = bytes(self._out)
        self._out.clear()
        return out

    def next_event(self) -> Event:
        if self._pending is not None:
            raise LocalProtocolError(f"answer {type(self._pending).__name__} before next_event()")
        while True:
            event = self._step()
            if event is not None:
                if isinstance(event, Decision):
                    self._pending = event
                return event

    def accept(self) -> None:
        """Answer the pending decision with its usual positive reply. For Auth and AuthResponse
        that is 235: call it only once the credentials have been verified."""
        hostname = self.config.hostname
        match self._pending:
            case None:
                raise LocalProtocolError("no decision is pending")
            case ClientConnected():
                reply = r.greeting(hostname)
            case c.Helo():
                reply = r.helo(hostname)
            case c.Ehlo():
                reply = r.ehlo(hostname, self._capabilities())
            case c.MailFrom():
                reply = r.SENDER_OK
            case c.RcptTo():
                reply = r.RECIPIENT_OK
            case c.StartTls():
                reply = r.READY_FOR_TLS
            case c.Auth() | AuthResponse():
                reply = r.AUTH_SUCCEEDED
            case MessageReceived():
                reply = r.OK
        self.send(reply)

    def send(self, reply: Reply) -> None:
        """Answer the pending decision; the reply's code decides the transition."""
        pending = self._pending
        if pending is None:
            raise LocalProtocolError("no decision is pending; use close() to end the session")
        sasl = isinstance(pending, c.Auth | AuthResponse)
        if reply.code == 354 or (reply.code == 334 and not sasl):
            raise LocalProtocolError(f"{reply.code} is not an answer to {type(pending).__name__}")
        self._pending = None
        self._reply(reply)
        if self._state is not State.CLOSED:
            self._advance(pending, reply)

    def tls_started(self) -> int:
        """TLS is up: forget the plaintext session; return how many octets were discarded."""
        if self._state is not State.TLS_PENDING:
            raise LocalProtocolError("tls_started() without an accepted STARTTLS")
        discarded = self._discarded + self._wire.discard()
        if discarded:
            self._errors += 1
        self._discarded = 0
        self._tls_active = True
        self._authenticated = False
        self._helo, self._esmtp = None, False
        self._transaction = None
        self._state = State.NEED_HELO
        return discarded

    def close(self, reply: Reply | None = None) -> None:
        """End the session from our side (timeout, shutdown), normally with a 421."""
        if self._state is not State.CLOSED:
            if reply is not None:
                self._out += reply.to_bytes()
            self._close(CloseReason.SERVER_CLOSED)

    def _advance(self, pending: Decision, reply: Reply) -> None:
        accepted = reply.is_positive
        match pending:
            case ClientConnected():
                self._state = State.NEED_HELO if accepted else State.REFUSED
            case c.Helo() | c.Ehlo() if accepted:
                self._transaction = None
                self._helo, self._esmtp = pending.domain, isinstance(pending, c.Ehlo)
                self._state = State.READY
            case c.MailFrom() if accepted:
                self._transaction = _Transaction(pending)
                self._state = State.MAIL
            case c.RcptTo() if accepted and self._transaction is not None:
                self._transaction.recipients.append(pending)
                self._state = State.RCPT
            case c.StartTls() if accepted:
                self._discarded = self._wire.discard()
                self._state = State.TLS_PENDING
            case c.Auth() | AuthResponse():
                self._state = State.AUTH if reply.code == 334 else State.READY
                self._authenticated = accepted
            case MessageReceived():
                self._reset_transaction()

    def _step(self) -> Event | None:
        """Make progress; None means "something was handled internally, go on"."""
        match self._state:
            case State.CLOSED:
                return self._closed
            case State.CONNECTED:
                return ClientConnected()
            case State.TLS_PENDING:
                return TlsHandshakeRequired()
        if self._chunk is not None:
            return self._read_chunk(self._chunk)
        if self._state is State.DATA:
            return self._read_data()
        if self._state is State.AUTH:
            return self._read_sasl_response()
        return self._read_command()

    def _need_input(self) -> Event:
        return self._close(CloseReason.PEER_CLOSED) if self._wire.eof else NeedData()

    def _close(self, reason: CloseReason) -> ConnectionClosed:
        if self._state is not State.CLOSED:
            self._closed = ConnectionClosed(reason, self._state)
            self._state = State.CLOSED
            self._pending = self._transaction = self._chunk = None
        return self._closed

    def _reply(self, reply: Reply) -> None:
        self._out += reply.to_bytes()
        if reply.code == 421:
            self._close(CloseReason.SERVER_CLOSED)
        elif reply.is_permanent_failure:
            self._errors += 1
            if self._errors >= self.config.max_errors:
                self._out += r.too_many_errors(self.config.hostname).to_bytes()
                self._close(CloseReason.TOO_MANY_ERRORS)

    def _reset_transaction(self) -> None:
        self._transaction = None
        if self._state in (State.MAIL, State.RCPT, State.DATA, State.BDAT):
            self._state = State.READY

    def _capabilities(self) -> list[str]:
        config = self.config
        capabilities = ["PIPELINING", f"SIZE {config.max_message_size}"]
        if config.eight_bit_mime:
            capabilities.append("8BITMIME")
        if config.smtputf8:
            capabilities.append("SMTPUTF8")
        capabilities.append("ENHANCEDSTATUSCODES")
        if config.tls_available and not self._tls_active:
            capabilities.append("STARTTLS")
        if self._auth_offered():
            capabilities.append(" ".join(("AUTH", *config.auth_mechanisms)))
        if config.chunking:
            capabilities += ["CHUNKING", "BINARYMIME"]
        if config.dsn:
            capabilities.append("DSN")
        return capabilities

    def _auth_offered(self) -> bool:
        config = self.config
        return bool(config.auth_mechanisms) and (self._tls_active or config.allow_plaintext_auth)

    def _offered(self, extension: str) -> bool:
        # Extensions exist only for clients that said EHLO (RFC 5321 §2.2.1).
        return self._esmtp and any(
            line.split(" ")[0] == extension for line in self._capabilities()
        )

    def _params_offered(self, params: dict[str, str | None]) -> bool:
        for keyword, value in params.items():
            binary = keyword == "BODY" and (value or "").upper() == c.BodyType.BINARY_MIME
            if not self._offered("BINARYMIME" if binary else _PARAM_EXTENSION[keyword]):
                return False
        return True

    def _read_command(self) -> Event | None:
        limit = self.config.max_line_length
        if self._wire.peek(5).upper() == b"AUTH ":
            limit = max(limit, _SASL_LINE_LENGTH)
        line = self._wire.read_line(limit)
        if line is None:
            return self._need_input()
        if isinstance(line, LineTooLong):
            self._reply(r.LINE_TOO_LONG)
            return None
        transaction = self._transaction
        try:
            # Without a transaction RCPT is refused as out of sequence, so do not let a UTF-8
            # address turn that into a 553.
            command = c.parse_command(
                line, smtputf8=transaction is None or transaction.mail_from.smtputf8
            )
        except c.CommandError as error:
            self._reply(command_reply(error))
            return None
        rejection, event = self._dispatch(command)
        if rejection is not None:
            self._reply(rejection)
        return event

    def _dispatch(self, command: c.Command) -> tuple[Reply | None, Event | None]:
        """Return (reply to send now, event to hand to the session)."""
        state = self._state
        match command:
            case c.Quit():
                self._reply(r.closing(self.config.hostname))
                return None, self._close(CloseReason.QUIT)
            case c.Bdat():
                # Read (maybe drop) the chunk in every case: its octets must never become commands.
                self._chunk = _Chunk(command, self._start_chunk(command))
                return None, None
            case _ if state is State.REFUSED:
                return r.BAD_SEQUENCE, None
            case c.Noop():
                return r.OK, None
            case c.Help():
                return r.HELP, None
            case c.Vrfy():
                return r.VRFY_CANNOT_VERIFY, None
            case c.Expn():
                return r.EXPN_DISABLED, None
            case c.Rset():
                self._reset_transaction()
                return r.RESET_OK, None
            case c.Helo() | c.Ehlo():
                return None, command
            case _ if self._helo is None:
                return r.NEED_HELO, None
            case c.StartTls():
                return self._decide(command, self._starttls_rejection())
            case c.Auth():
                return self._decide(command, self._auth_rejection(command))
            case c.MailFrom():
                return self._decide(command, self._mail_rejection(command))
            case c.RcptTo():
                return self._decide(command, self._rcpt_rejection(command))
            case c.Data():
                return self._start_data(), None
        return r.COMMAND_NOT_IMPLEMENTED, None

    @staticmethod
    def _decide(command: Decision, rejection: Reply | None) -> tuple[Reply | None, Event | None]:
        return (rejection, None) if rejection is not None else (None, command)

    def _starttls_rejection(self) -> Reply | None:
        if self._tls_active:
            return r.TLS_ALREADY_ACTIVE
        if not self.config.tls_available:
            return r.COMMAND_NOT_IMPLEMENTED
        return None if self._state is State.READY else r.MAIL_IN_PROGRESS

    def _auth_rejection(self, command: c.Auth) -> Reply | None:
        if not self.config.auth_mechanisms:
            return r.AUTH_NOT_AVAILABLE
        if not self._auth_offered():
            return r.ENCRYPTION_REQUIRED
        if not self._esmtp:
            return r.BAD_SEQUENCE  # RFC 4954 §4: AUTH is an EHLO extension
        if self._authenticated:
            return r.ALREADY_AUTHENTICATED
        if self._state is not State.READY:
            return r.MAIL_IN_PROGRESS
        if command.mechanism not in self.config.auth_mechanisms:
            return r.MECHANISM_UNRECOGNIZED
        return None

    def _mail_rejection(self, command: c.MailFrom) -> Reply | None:
        config = self.config
        if self._state is not State.READY:
            return r.MAIL_IN_PROGRESS
        if config.require_tls and not self._tls_active:
            return r.STARTTLS_FIRST
        if config.require_auth_for_mail and not self._authenticated:
            return r.AUTH_REQUIRED
        if not self._params_offered(command.params):
            return r.PARAMETER_UNRECOGNIZED
        size = command.size
        return r.MESSAGE_TOO_BIG if size is not None and size > config.max_message_size else None

    def _rcpt_rejection(self, command: c.RcptTo) -> Reply | None:
        transaction = self._transaction
        if transaction is None or self._state not in (State.MAIL, State.RCPT):
            return r.NEED_MAIL if transaction is None else r.BAD_SEQUENCE
        if not self._params_offered(command.params):
            return r.PARAMETER_UNRECOGNIZED
        if len(transaction.recipients) >= self.config.max_recipients:
            return r.TOO_MANY_RECIPIENTS  # RFC 5321 §4.5.3.1.10: 452, the client retries later
        return None

    def _sequence_rejection(self) -> Reply | None:
        """Why neither DATA nor BDAT may start a body now (RFC 5321 §3.3)."""
        if self._state is State.MAIL:
            return r.NO_VALID_RECIPIENTS
        return None if self._state in (State.RCPT, State.BDAT) else r.NEED_MAIL

    def _start_data(self) -> Reply:
        transaction = self._transaction
        rejection = self._sequence_rejection()
        if rejection is not None or transaction is None:
            return rejection or r.NEED_MAIL
        if self._state is State.BDAT:
            return r.DATA_AFTER_BDAT
        if transaction.mail_from.body is c.BodyType.BINARY_MIME:
            return r.BINARYMIME_NEEDS_BDAT  # RFC 3030 §3
        transaction.body = MessageBody(self.config.max_message_size)
        self._wire.start_message_data()
        self._state = State.DATA
        return r.START_MAIL_INPUT

    def _start_chunk(self, command: c.Bdat) -> Reply | None:
        """Accept a BDAT chunk into the transaction, or return the reply refusing it."""
        transaction = self._transaction
        if self._helo is None or self._state is State.REFUSED:
            return r.NEED_HELO if self._helo is None else r.BAD_SEQUENCE
        if not self._offered("CHUNKING"):
            return r.COMMAND_NOT_IMPLEMENTED
        rejection = self._sequence_rejection()
        if rejection is not None or transaction is None:
            return rejection or r.NEED_MAIL
        received = transaction.body.size if transaction.body is not None else 0
        if received + command.size > self.config.max_message_size:
            self._reset_transaction()  # RFC 3030 §2: a failed chunk ends the transaction
            return r.MESSAGE_TOO_BIG
        if transaction.body is None:
            binary = transaction.mail_from.body is c.BodyType.BINARY_MIME
            transaction.body = MessageBody(
                self.config.max_message_size, check_line_endings=not binary
            )
            self._state = State.BDAT
        return None

    def _read_chunk(self, chunk: _Chunk) -> Event | None:
        if chunk.remaining:
            piece = self._wire.read_bytes(chunk.remaining)
            if not piece:
                return self._need_input()
            chunk.remaining -= len(piece)
            if chunk.rejection is None and self._transaction and self._transaction.body:
                self._transaction.body.append(piece)
            return None
        self._chunk = None
        if chunk.rejection is not None:
            self._reply(chunk.rejection)
            return None
        if not chunk.last:
            self._reply(r.chunk_received(chunk.size))
            return None
        return self._finish_message()

    def _read_data(self) -> Event | None:
        transaction = self._transaction
        assert transaction is not None and transaction.body is not None
        if not self._wire.read_message_data(transaction.body):
            return self._need_input()
        return self._finish_message()

    def _finish_message(self) -> Event | None:
        transaction = self._transaction
        assert transaction is not None and transaction.body is not None
        body = transaction.body
        data = body.finish()
        if body.too_big or body.bare_line_ending:
            self._reset_transaction()
            self._reply(r.MESSAGE_TOO_BIG if body.too_big else r.BARE_LINE_ENDING)
            return None
        envelope = Envelope(
            helo=self._helo or "",
            esmtp=self._esmtp,
            mail_from=transaction.mail_from,
            recipients=tuple(transaction.recipients),
            tls=self._tls_active,
            authenticated=self._authenticated,
            chunked=self._state is State.BDAT,
        )
        return MessageReceived(data, envelope)

    def _read_sasl_response(self) -> Event | None:
        line = self._wire.read_line(_SASL_LINE_LENGTH)
        if line is None:
            return self._need_input()
        self._state = State.READY  # the answer to AuthResponse may put it back to AUTH
        if isinstance(line, LineTooLong):
            self._reply(r.LINE_TOO_LONG)
            return None
        try:
            data = c.parse_sasl_response(line)
        except c.CommandError:
            self._reply(r.AUTH_LINE_INVALID)
            return None
        if data is None:
            self._reply(r.AUTH_CANCELLED)  # RFC 4954 §4: "*" cancels the exchange
            return None
        return AuthResponse(data)

