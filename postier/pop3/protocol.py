"""The POP3 server state machine (RFC 1939 with RFC 2449, 2595, 5034, 6856): bytes in, events
and responses out. No sockets, no store, no clock.

How this works (h11 style). The greeting is queued at construction. The session feeds bytes with
``receive_data`` (``b""`` when the peer closed), pulls events with ``next_event`` and writes what
``data_to_send`` returns. The machine answers by itself every command that needs no outside
knowledge: CAPA, USER, STLS, UTF8, NOOP, STAT, LIST, UIDL, DELE, RSET, QUIT before login, every
syntax error and every command in the wrong state (RFC 1939 §3: "-ERR" with a reason). The rest
become Decision events the session must answer before asking for the next event:

    PasswordLogin, SaslLogin  →  login_succeeded(maildrop) | login_failed(response)
                                 (SaslLogin: send_challenge, then SaslResponse/SaslCancelled)
    Retrieve (RETR, TOP)      →  send_message(content) | retrieve_failed(response)
    Update (QUIT)             →  update_done(response)

States (events.py): AUTHORIZATION → AUTHENTICATING → TRANSACTION → UPDATE → CLOSED, with
TLS_PENDING between STLS and the handshake. Answers to pipelined commands (RFC 2449 §6.6) pile up
until NeedData, when the session writes them in one go; FlushOutput asks for an earlier write when
they pass ``output_high_water``, so a flood of LIST commands cannot grow memory without bound.

Passwords only over TLS: without TLS (and unless the operator allows plaintext) USER, PASS and
AUTH are refused with [AUTH] naming STLS, and CAPA offers neither USER nor SASL, only STLS.
STLS (RFC 2595 §4): bytes already buffered when "+OK" is sent were pipelined in plaintext; they
are discarded, never executed, and counted as an error. After the handshake the session starts
over in AUTHORIZATION, forgetting USER and UTF8.

Errors: every -ERR counts, failed logins included; at ``max_errors`` the machine adds a last
-ERR and closes. Over-long lines, NUL and other control characters, and non-UTF-8 arguments get
a -ERR each and the next line is read normally.
"""

from __future__ import annotations

import base64
import itertools
from collections.abc import Iterator

from postier.net.deadline import Phase
from postier.pop3 import commands as c
from postier.pop3 import responses as r
from postier.pop3.events import (
    CloseReason,
    ConnectionClosed,
    Decision,
    Event,
    FlushOutput,
    NeedData,
    PasswordLogin,
    ProtocolConfig,
    Retrieve,
    SaslCancelled,
    SaslLogin,
    SaslResponse,
    State,
    TlsHandshakeRequired,
    Update,
)
from postier.pop3.maildrop import Maildrop, MaildropError
from postier.pop3.responses import Response
from postier.pop3.wire import (
    CHUNK_SIZE,
    LineReader,
    LineTooLong,
    stuffed_chunks,
    stuffed_response,
    top_of,
    wire_form,
)

__all__ = ["GREETING", "LocalProtocolError", "Pop3ServerProtocol"]

GREETING = r.ok("Postier POP3 server ready")  # no APOP timestamp: APOP is not offered
_AUTH_PREFIX = b"AUTH "
SINGLE_WRITE = 4 * CHUNK_SIZE  # larger messages go out in CHUNK_SIZE pieces


class LocalProtocolError(Exception):
    """The session used the machine wrongly (a bug on our side, never the client's)."""


class Pop3ServerProtocol:
    def __init__(self, config: ProtocolConfig) -> None:
        self.config = config
        self._reader = LineReader()
        self._out = bytearray(GREETING.to_bytes())
        self._state = State.AUTHORIZATION
        self._pending: Decision | None = None
        self._awaiting_sasl = False
        self._closed = ConnectionClosed(CloseReason.SERVER_CLOSED, State.AUTHORIZATION)
        self._tls_active = config.tls_active
        self._user: str | None = None
        self._utf8 = False
        self._errors = 0
        self._discarded = 0
        self._maildrop: Maildrop | None = None

    @property
    def state(self) -> State:
        return self._state

    @property
    def tls_active(self) -> bool:
        return self._tls_active

    @property
    def utf8(self) -> bool:
        """The client sent UTF8 (RFC 6856 §2)."""
        return self._utf8

    @property
    def maildrop(self) -> Maildrop | None:
        return self._maildrop

    @property
    def input_phase(self) -> Phase:
        """A partial line is buffered (LINE) or not (IDLE), for ``net/deadline.py``."""
        return Phase.LINE if self._reader.buffered else Phase.IDLE

    def receive_data(self, data: bytes) -> None:
        if self._state is not State.CLOSED or not data:
            self._reader.feed(data)

    def data_to_send(self) -> bytes:
        out = bytes(self._out)
        self._out.clear()
        return out

    def next_event(self) -> Event:
        if self._pending is not None and not self._awaiting_sasl:
            raise LocalProtocolError(f"answer {type(self._pending).__name__} before next_event()")
        while True:
            event = self._step()
            if event is not None:
                if isinstance(event, PasswordLogin | SaslLogin | Retrieve | Update):
                    self._pending = event
                return event

    # Answers to decisions ------------------------------------------------------------------

    def send_challenge(self, data: bytes) -> None:
        """One SASL server challenge (RFC 5034 §4: "+" SP base64)."""
        if self._state is State.CLOSED:
            return
        if not isinstance(self._pending, SaslLogin) or self._awaiting_sasl:
            raise LocalProtocolError("send_challenge() outside an AUTH exchange")
        self._out += b"+ " + base64.b64encode(data) + b"\r\n"
        self._awaiting_sasl = True

    def login_succeeded(self, maildrop: Maildrop) -> None:
        if self._take(PasswordLogin, SaslLogin) is None:
            return
        self._maildrop = maildrop
        self._state = State.TRANSACTION
        self._reply(r.ok(f"maildrop has {maildrop.visible_count} messages"
                         f" ({maildrop.visible_octets} octets)"))

    def login_failed(self, response: Response) -> None:
        if self._take(PasswordLogin, SaslLogin) is None:
            return
        self._state = State.AUTHORIZATION
        self._reply(response)

    def send_message(self, content: bytes) -> Iterator[bytes]:
        """Answer Retrieve with the message's stored bytes: returns every piece to write, in
        order, starting with the answers still buffered. A message up to ``SINGLE_WRITE``
        octets is one piece (one write, one system call); a larger one is stuffed a chunk at a
        time as the session writes, so memory stays at one wire form plus one chunk."""
        retrieve = self._take(Retrieve)
        if not isinstance(retrieve, Retrieve):
            return iter(())
        assert self._maildrop is not None
        wire = content
        if len(content) != retrieve.message.size or not content.endswith(b"\r\n"):
            # Not already in wire form. (The listed size is the wire form's: a body of that
            # length ending in CRLF has no bare LF, wire.py, so counting can be skipped.)
            wire = wire_form(content)
        if retrieve.lines is None:
            self._maildrop.mark_retrieved(retrieve.message.number)
            head = r.ok(f"{len(wire)} octets")
        else:
            wire = top_of(wire, retrieve.lines)
            head = r.ok("top of message follows")
        first = self.data_to_send() + head.to_bytes()
        if len(wire) <= SINGLE_WRITE:
            return iter((stuffed_response(first, wire),))
        return itertools.chain((first,), stuffed_chunks(wire))

    def retrieve_failed(self, response: Response) -> None:
        if self._take(Retrieve) is not None:
            self._reply(response)

    def update_done(self, response: Response | None = None) -> None:
        """Deletions applied (or not: a -ERR, RFC 1939 §6); says goodbye and closes."""
        if self._take(Update) is None:
            return
        assert self._maildrop is not None
        self._reply(response or r.ok("Postier POP3 server signing off"
                                     f" ({self._maildrop.visible_count} messages left)"))
        self._close(CloseReason.QUIT)

    def tls_started(self) -> int:
        """TLS is up: start over; return how many plaintext octets were discarded."""
        if self._state is not State.TLS_PENDING:
            raise LocalProtocolError("tls_started() without an accepted STLS")
        discarded = self._discarded + self._reader.discard()
        if discarded:
            self._count_error()
        self._discarded = 0
        self._tls_active = True
        self._user = None
        self._utf8 = False
        if self._state is State.TLS_PENDING:  # _count_error may have closed the connection
            self._state = State.AUTHORIZATION
        return discarded

    def close(self, response: Response | None = None) -> None:
        """End the session from our side. Autologout sends nothing (RFC 1939 §3)."""
        if self._state is not State.CLOSED:
            if response is not None:
                self._out += response.to_bytes()
            self._close(CloseReason.SERVER_CLOSED)

    # Reading -------------------------------------------------------------------------------

    def _step(self) -> Event | None:
        match self._state:
            case State.CLOSED:
                return self._closed
            case State.TLS_PENDING:
                return TlsHandshakeRequired()
        if self._awaiting_sasl:
            return self._read_sasl_response()
        if len(self._out) > self.config.output_high_water:
            return FlushOutput()
        return self._read_command()

    def _read_command(self) -> Event | None:
        # RFC 5034 §4: an AUTH line with an initial response may exceed the command limit.
        limit = self.config.max_line_length
        if self._reader.starts_with_keyword(_AUTH_PREFIX):
            limit = max(limit, self.config.max_sasl_line_length)
        line = self._reader.read_line(limit)
        if line is None:
            return self._need_input()
        if isinstance(line, LineTooLong):
            self._user = None
            self._reply(r.LINE_TOO_LONG)
            return None
        try:
            command = c.parse_command(line)
        except c.CommandError as error:
            self._user = None
            self._reply(r.err(str(error)))
            return None
        return self._dispatch(command)

    def _read_sasl_response(self) -> Event | None:
        line = self._reader.read_line(self.config.max_sasl_line_length)
        if line is None:
            return self._need_input()
        self._awaiting_sasl = False
        if isinstance(line, LineTooLong):
            return SaslCancelled("authentication response too long")
        if line.strip() == b"*":
            return SaslCancelled("authentication cancelled")
        try:
            return SaslResponse(c.decode_base64(line.strip()))
        except c.CommandError:
            return SaslCancelled("malformed base64 in authentication response")

    def _need_input(self) -> Event:
        return self._close(CloseReason.PEER_CLOSED) if self._reader.eof else NeedData()

    # Commands ------------------------------------------------------------------------------

    def _dispatch(self, command: c.Command) -> Event | None:
        user, self._user = self._user, None  # PASS must follow USER at once (RFC 1939 §7)
        match command:
            case c.Capa():
                authorization = self._state is State.AUTHORIZATION
                self._reply(r.capabilities(
                    self.config, authorization=authorization, tls_active=self._tls_active,
                    login_allowed=authorization and self._login_allowed()))
            case c.Quit():
                if self._state is State.TRANSACTION:
                    return self._enter_update()
                self._reply(r.BYE)
                return self._close(CloseReason.QUIT)
            case c.User() | c.Pass() | c.Auth() | c.Stls() | c.Utf8():
                if self._state is not State.AUTHORIZATION:
                    self._reply(r.NOT_IN_AUTHORIZATION)
                    return None
                return self._authorization(command, user)
            case _:
                if self._state is not State.TRANSACTION or self._maildrop is None:
                    self._reply(r.NOT_IN_TRANSACTION)
                    return None
                try:
                    return self._transaction(command, self._maildrop)
                except MaildropError as error:
                    self._reply(r.err(str(error)))
        return None

    def _authorization(self, command: c.User | c.Pass | c.Auth | c.Stls | c.Utf8,
                       user: str | None) -> Event | None:
        match command:
            case c.Stls():
                return self._start_tls()
            case c.Utf8():
                self._utf8 = True  # RFC 6856 §2
                self._reply(r.ok("UTF-8 mode enabled"))
                return None
        if not self._login_allowed():
            self._reply(r.AUTH_NEEDS_TLS)
            return None
        match command:
            case c.User(name=name):
                self._user = name
                self._reply(r.ok("send PASS"))
            case c.Pass(password=password):
                if user is None:
                    self._reply(r.NEED_USER)
                    return None
                self._state = State.AUTHENTICATING
                return PasswordLogin(user, password)
            case c.Auth(mechanism=None):
                self._reply(r.ok("SASL mechanisms follow", self.config.mechanisms))
            case c.Auth(mechanism=str(mechanism), initial_response=initial):
                if mechanism not in self.config.mechanisms:
                    self._reply(r.err(f"unsupported mechanism {mechanism[:40]}"))
                    return None
                self._state = State.AUTHENTICATING
                return SaslLogin(mechanism, initial)
        return None

    def _start_tls(self) -> Event | None:
        if self._tls_active:
            self._reply(r.ALREADY_TLS)
        elif not self.config.tls_available:
            self._reply(r.STLS_NOT_AVAILABLE)
        else:
            self._reply(r.STLS_OK)
            self._discarded = self._reader.discard()
            self._state = State.TLS_PENDING
        return None

    def _transaction(self, command: c.Command, maildrop: Maildrop) -> Event | None:
        match command:
            case c.Stat():
                self._reply(r.ok(f"{maildrop.visible_count} {maildrop.visible_octets}"))
            case c.List(number=None):
                self._reply(r.ok(f"{maildrop.visible_count} messages"
                                 f" ({maildrop.visible_octets} octets)",
                                 tuple(f"{m.number} {m.size}" for m in maildrop.visible())))
            case c.List(number=int(number)):
                self._reply(r.ok(f"{number} {maildrop.get(number).size}"))
            case c.Uidl(number=None):
                self._reply(r.ok("unique-id listing follows",
                                 tuple(f"{m.number} {m.unique_id}" for m in maildrop.visible())))
            case c.Uidl(number=int(number)):
                self._reply(r.ok(f"{number} {maildrop.get(number).unique_id}"))
            case c.Retr(number=number):
                return Retrieve(maildrop.get(number))
            case c.Top(number=number, lines=lines):
                return Retrieve(maildrop.get(number), lines)
            case c.Dele(number=number):
                maildrop.delete(number)
                self._reply(r.ok(f"message {number} deleted"))
            case c.Rset():
                maildrop.reset()
                self._reply(r.ok(f"maildrop has {maildrop.visible_count} messages"
                                 f" ({maildrop.visible_octets} octets)"))
            case c.Noop():
                self._reply(r.ok())
        return None

    def _enter_update(self) -> Update:
        assert self._maildrop is not None
        self._state = State.UPDATE
        return Update(self._maildrop.deleted_uids, self._maildrop.retrieved_uids)

    def _login_allowed(self) -> bool:
        return self._tls_active or self.config.allow_plaintext

    # Output and closing --------------------------------------------------------------------

    def _take(self, *kinds: type[Decision]) -> Decision | None:
        """The pending decision, now answered; None once the connection closed under it (the
        peer went away, too many errors): then the answer is moot and dropped."""
        if self._state is State.CLOSED:
            return None
        pending = self._pending
        if pending is None or not isinstance(pending, kinds):
            names = " or ".join(kind.__name__ for kind in kinds)
            raise LocalProtocolError(f"no {names} is pending")
        self._pending = None
        self._awaiting_sasl = False
        return pending

    def _reply(self, response: Response) -> None:
        self._out += response.to_bytes()
        if not response.ok:
            self._count_error()

    def _count_error(self) -> None:
        self._errors += 1
        if self._errors >= self.config.max_errors and self._state is not State.CLOSED:
            self._out += r.TOO_MANY_ERRORS.to_bytes()
            self._close(CloseReason.TOO_MANY_ERRORS)

    def _close(self, reason: CloseReason) -> ConnectionClosed:
        if self._state is not State.CLOSED:
            self._closed = ConnectionClosed(reason, self._state)
            self._state = State.CLOSED
            self._pending = None
            self._awaiting_sasl = False
        return self._closed
