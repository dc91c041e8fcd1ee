"""ImapServerProtocol: the sans-I/O IMAP server machine (RFC 9051, RFC 3501).

How this works
--------------
The session feeds received bytes with :meth:`~ImapServerProtocol.receive_data` and pulls
events with :meth:`~ImapServerProtocol.next_event` until it gets :class:`NeedData`::

    NeedData            read more and call receive_data (b"" when the peer closed)
    AwaitingLiteral     write Continuation(...) so the client sends the literal, or answer
                        the command and call refuse_literal() (the client sends no octets)
    Command(tag, cmd)   execute; write responses with send(); after StartTls or Compress the
                        machine pauses (Paused) until start_tls(), start_compression() or
                        resume() says what happened to the stream
    ParseFailure        write answer(event): "tag BAD ..." (or "* BAD ..." without a tag)
    LiteralTooBig       write answer(event): "tag NO [TOOBIG]" or "tag BAD [TOOBIG]"
    ProtocolViolation   write answer(event) (a BYE) and close
    IdleDone            after expect_idle_done(tag): the client ended IDLE
    AuthenticateData    after expect_sasl_response(tag): one decoded SASL response
    AuthenticateCancelled  the client sent "*" (RFC 9051 §6.2.2): answer tag BAD
    ConnectionClosed    the peer is gone, or the machine decided to close

The machine holds what framing needs and nothing else: no mailbox, no login state, no clock.
Which commands are allowed in which state is the session's decision.

Two switches change the byte stream under the machine. After STARTTLS, bytes the client sent
before the TLS handshake must never be read as commands (RFC 9051 §6.2.1; the STARTTLS
command-injection class of bugs): :meth:`start_tls` drops them and says whether there were any.
After COMPRESS (RFC 4978 §3) buffered bytes are already compressed: :meth:`start_compression`
returns them for the session to inflate and feed back.

:meth:`send` counts answers: a run of ``max_consecutive_bad`` BAD responses (hostile or
hopelessly confused client) appends ``* BYE`` and sets :attr:`should_close`.
"""

from __future__ import annotations

from dataclasses import dataclass

from postier.imap.commands import Compress, ImapCommand, StartTls
from postier.imap.parsing import SEARCH_CHARSETS, ParseError, decode_base64, parse_command
from postier.imap.responses import (
    BadCharsetCode,
    Bye,
    Response,
    ResponseCode,
    SimpleCode,
    Status,
    Tagged,
    UntaggedStatus,
    serialize,
)
from postier.imap.wire import (
    AwaitingLiteral,
    CommandFramer,
    ConnectionClosed,
    FramedCommand,
    Limits,
    LiteralTooBig,
    NeedData,
    ProtocolViolation,
    RawLine,
)
from postier.net.deadline import Phase

__all__ = [
    "AuthenticateCancelled",
    "AuthenticateData",
    "AwaitingLiteral",
    "Command",
    "ConnectionClosed",
    "Event",
    "IdleDone",
    "ImapServerProtocol",
    "Limits",
    "LiteralTooBig",
    "NeedData",
    "ParseFailure",
    "Paused",
    "ProtocolViolation",
    "answer",
]


@dataclass(frozen=True, slots=True)
class Command:
    tag: str
    command: ImapCommand


@dataclass(frozen=True, slots=True)
class ParseFailure:
    tag: str | None
    message: str
    code: str | None = None  # e.g. "BADCHARSET"
    no: bool = False  # answer NO rather than BAD (RFC 9051 §6.4.4 unknown charset)


@dataclass(frozen=True, slots=True)
class IdleDone:
    pass


@dataclass(frozen=True, slots=True)
class AuthenticateData:
    data: bytes


@dataclass(frozen=True, slots=True)
class AuthenticateCancelled:
    tag: str


@dataclass(frozen=True, slots=True)
class Paused:
    """A STARTTLS or COMPRESS command is pending: nothing more is parsed until resolved."""


# fmt: off
Event = (
    NeedData | ConnectionClosed | AwaitingLiteral | LiteralTooBig | ProtocolViolation | Command
    | ParseFailure | IdleDone | AuthenticateData | AuthenticateCancelled | Paused
)
# fmt: on


def answer(event: ParseFailure | LiteralTooBig | ProtocolViolation) -> Response:
    """The response the protocol prescribes for a failure event."""
    if isinstance(event, ProtocolViolation):
        return Bye(event.message)
    code: ResponseCode | None
    if isinstance(event, LiteralTooBig):
        # Refused before the octets came: a plain NO, the command simply failed. Read and
        # dropped: BAD, the client broke the non-synchronizing literal rules (RFC 7888).
        status = Status.NO if event.synchronizing else Status.BAD
        text, code = "literal too large", SimpleCode.TOOBIG
    else:
        status = Status.NO if event.no else Status.BAD
        text = event.message
        code = BadCharsetCode(SEARCH_CHARSETS) if event.code == "BADCHARSET" else None
    if event.tag is None:
        return UntaggedStatus(status, text, code)
    return Tagged(event.tag, status, text, code)


class ImapServerProtocol:
    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self._framer = CommandFramer(self.limits)
        self._utf8 = False
        self._paused_for: type[StartTls] | type[Compress] | None = None
        self._closing = False
        self._line_mode: tuple[str, str] | None = None  # ("idle" | "sasl", tag)
        self._consecutive_bad = 0

    # -- input ----------------------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Bytes from the peer; ``b""`` when it closed its side."""
        self._framer.feed(data)

    def next_event(self) -> Event:
        if self._closing:
            return ConnectionClosed()
        if self._paused_for is not None:
            return Paused()
        event = self._framer.next_event()
        if isinstance(event, RawLine):
            return self._on_line(event.data)
        if isinstance(event, FramedCommand):
            return self._on_command(event)
        return event

    def _on_command(self, framed: FramedCommand) -> Command | ParseFailure:
        try:
            tag, command = parse_command(framed)
        except ParseError as error:
            return ParseFailure(error.tag, error.message, error.code, error.no)
        if isinstance(command, StartTls | Compress):
            self._paused_for = type(command)
        return Command(tag, command)

    def _on_line(self, line: bytes) -> Event:
        assert self._line_mode is not None
        mode, tag = self._line_mode
        self._line_mode = None
        if mode == "idle":
            # "DONE" is case-insensitive like every ABNF literal; trailing blanks are tolerated.
            if line.rstrip(b" \t").upper() == b"DONE":
                return IdleDone()
            return ParseFailure(tag, "expected DONE")
        if line == b"*":
            return AuthenticateCancelled(tag)
        try:
            return AuthenticateData(decode_base64(line))
        except ParseError as error:
            return ParseFailure(tag, error.message)

    # -- mode switches --------------------------------------------------------------------

    def set_limits(self, limits: Limits) -> None:
        """New framing limits from the next byte on: small ones before authentication, the
        configured ones after (a command being framed is checked against the new ones)."""
        self.limits = limits
        self._framer.limits = limits

    @property
    def between_commands(self) -> bool:
        """No command is in progress: untagged EXPUNGE may be sent (RFC 9051 §7.5.1)."""
        return self._line_mode is None and self._paused_for is None \
            and self._framer.between_commands

    @property
    def input_phase(self) -> Phase:
        """Where the client is in the stream, for the read deadline (``net/deadline.py``)."""
        if self._framer.in_literal:
            return Phase.PAYLOAD
        return Phase.IDLE if self._framer.between_commands else Phase.LINE

    def expect_idle_done(self, tag: str) -> None:
        """After answering IDLE with ``+``: the next line must be DONE (RFC 2177 §3)."""
        self._line_mode = ("idle", tag)
        self._framer.expect_line()

    def expect_sasl_response(self, tag: str) -> None:
        """After a SASL challenge: the next line is a base64 response or ``*``."""
        self._line_mode = ("sasl", tag)
        self._framer.expect_line()

    def refuse_literal(self) -> None:
        """After :class:`AwaitingLiteral`: no ``+`` will be sent, the session answers the
        command itself; framing resumes at the next line."""
        self._framer.refuse_literal()

    def start_tls(self) -> bool:
        """Call after writing ``tag OK`` to STARTTLS. True if plaintext was pipelined (dropped)."""
        self._require_pause(StartTls)
        return bool(self._framer.take_buffered())

    def start_compression(self) -> bytes:
        """Call after writing ``tag OK`` to COMPRESS: the buffered, still compressed bytes."""
        self._require_pause(Compress)
        return self._framer.take_buffered()

    def resume(self) -> None:
        """The pending STARTTLS or COMPRESS was refused: keep parsing the same stream."""
        self._paused_for = None

    def _require_pause(self, kind: type[StartTls] | type[Compress]) -> None:
        if self._paused_for is not kind:
            raise RuntimeError(f"no {kind.__name__} command is pending")
        self._paused_for = None

    def enable_utf8(self) -> None:
        """IMAP4rev2 or UTF8=ACCEPT is in effect: strings may be sent as quoted UTF-8."""
        self._utf8 = True

    @property
    def utf8_enabled(self) -> bool:
        return self._utf8

    @property
    def should_close(self) -> bool:
        """A BYE was sent: write what send() returned, then close the connection."""
        return self._closing

    # -- output ---------------------------------------------------------------------------

    def send(self, response: Response) -> bytes:
        return b"".join(self.send_chunks(response))

    def send_chunks(self, response: Response) -> list[bytes]:
        """Like :meth:`send`, but large literals stay separate chunks (for ``writelines``)."""
        chunks = serialize(response, utf8=self._utf8)
        if isinstance(response, Bye):
            self._closing = True
        elif isinstance(response, Tagged | UntaggedStatus):
            if response.status is Status.BAD:
                self._consecutive_bad += 1
            elif isinstance(response, Tagged):
                self._consecutive_bad = 0
            if self._consecutive_bad >= self.limits.max_consecutive_bad and not self._closing:
                chunks += serialize(Bye("too many invalid commands"), utf8=self._utf8)
                self._closing = True
        return chunks
