"""Sans-I/O framing of the IMAP client byte stream into commands.

How this works
--------------
No maintained Python library implements the *server* side of IMAP (imaplib and its successors
are clients), so this framing is written by hand, after Dovecot's resumable ``imap-parser.c`` and
Stalwart's receiver. It knows where commands end, not what they mean: ``parsing/`` does that.

An IMAP command is one line, except that a line may end in a literal marker (RFC 9051 §4.3):

* ``{n}``   synchronizing literal: the client waits for a ``+`` continuation before sending
  n octets, so the framer emits :class:`AwaitingLiteral` and the session sends ``+ ...``.
* ``{n+}``  non-synchronizing literal (RFC 7888 LITERAL+ / LITERAL-): the octets follow at once.
  With LITERAL- (``Limits.non_sync_literal_limit = 4096``) larger ones are refused.
  There is no ``{n-}`` syntax: LITERAL- only restricts the size of ``{n+}``, and IMAP4rev2
  includes LITERAL- (RFC 9051 §4.3).
* ``~{n}`` / ``~{n+}``  literal8 (RFC 3516), octets that may include NUL, for APPEND and
  BINARY.

After the octets the same command continues with more line text, possibly another literal, until
a line without a marker ends it. The framer then emits a :class:`FramedCommand`: the line text
pieces (markers and line ends removed) and the literals between them, so the parser never
re-reads markers and never sees a literal it did not ask for.

Limits are enforced here, before anything is buffered without bound:

* line text of one command (all pieces together) over ``max_line_length``: fatal
  :class:`ProtocolViolation` — the session answers ``* BYE`` and closes, because the rest of the
  stream cannot be re-synchronised (the overlong line may hide a literal marker).
* a synchronizing literal over the limit is refused *before* its octets are sent: the framer
  emits :class:`LiteralTooBig` (``NO [TOOBIG]``) instead of asking for them, and the client,
  having received no ``+``, sends nothing more for this command (RFC 9051 §7.5).
* the session may refuse any synchronizing literal too (:meth:`CommandFramer.refuse_literal`,
  for an APPEND that is bound to fail: missing mailbox, full account), answering the command
  instead of sending ``+``; the command is dropped as for an oversized one.
* a non-synchronizing literal over the limit cannot be refused in advance: RFC 7888 asks the
  server to read and discard it, then fail the command (``BAD [TOOBIG]``). Discarding is bounded
  by ``max_discard_size`` per command; beyond it the framer gives up with a fatal violation.

Single-line modes: after IDLE the next line must be ``DONE``, during AUTHENTICATE every line is
a base64 response (RFC 9051 §6.2.2). :meth:`CommandFramer.expect_line` makes the framer return
the next line whole as :class:`RawLine`, with no literal processing; ``protocol.py`` interprets
it. :meth:`CommandFramer.take_buffered` hands over unparsed bytes when the stream changes under
the framer (STARTTLS discards them, COMPRESS decompresses them).

Leniency: a bare LF ends a line like CRLF does (as in Dovecot), for people testing by hand with
netcat and for scripts that write ``\\n``. A CR not followed by LF stays in the line, where the
parser rejects it, so CR alone can never split commands. Empty lines between commands are
ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = [
    "ATOM_CHARS",
    "TAG_CHARS",
    "AwaitingLiteral",
    "CommandFramer",
    "ConnectionClosed",
    "FramedCommand",
    "Limits",
    "LiteralData",
    "LiteralTooBig",
    "NeedData",
    "ProtocolViolation",
    "RawLine",
    "WireEvent",
    "tag_of",
]

KIB = 1024
MIB = 1024 * KIB

# ATOM-CHAR: printable ASCII without atom-specials ( ) { SP % * " \ ] (RFC 9051 §9).
# tag = 1*<any ASTRING-CHAR except "+">, and ASTRING-CHAR adds "]" back.
ATOM_CHARS = frozenset(range(0x21, 0x7F)) - frozenset(b'(){%*"\\]')
TAG_CHARS = (ATOM_CHARS | {ord("]")}) - {ord("+")}

# A marker ends the line: optional "~" (literal8), decimal size, optional "+" (non-sync).
# Twenty digits bound the int() work; anything that long is over any limit anyway.
_MARKER = re.compile(rb"(~?)\{([0-9]{1,20})(\+?)\}\Z")


@dataclass(frozen=True, slots=True)
class Limits:
    """Framing limits. Defaults follow Dovecot's (64 KiB lines) and common message sizes."""

    max_line_length: int = 64 * KIB  # line text of one command, literals excluded
    max_literal_size: int = 64 * MIB  # one literal; also the largest APPEND message
    max_command_size: int = 128 * MIB  # all literals of one command (MULTIAPPEND)
    max_literals: int = 1000  # literals in one command
    # None: any non-sync literal up to max_literal_size (advertise LITERAL+); 4096: LITERAL-,
    # the IMAP4rev2 baseline (RFC 9051 §4.3, RFC 7888).
    non_sync_literal_limit: int | None = None
    max_discard_size: int = 1 * MIB  # octets of refused non-sync literals read and dropped
    max_consecutive_bad: int = 10  # BAD answers in a row before BYE (protocol.py)


@dataclass(frozen=True, slots=True)
class LiteralData:
    data: bytes
    binary: bool  # sent as literal8 "~{n}" (RFC 3516)


@dataclass(frozen=True, slots=True)
class FramedCommand:
    """One complete command: ``len(lines) == len(literals) + 1``; literal i follows line i."""

    lines: tuple[bytes, ...]
    literals: tuple[LiteralData, ...] = ()


@dataclass(frozen=True, slots=True)
class NeedData:
    """Nothing complete yet: feed more bytes."""


@dataclass(frozen=True, slots=True)
class ConnectionClosed:
    """The peer closed its side (or the framer gave up); no further events will come."""


@dataclass(frozen=True, slots=True)
class AwaitingLiteral:
    """The client waits for ``+`` before sending ``size`` octets (RFC 9051 §7.5).

    ``prefix`` is the command so far (the line text up to the marker and the literals before
    it), so the session can refuse the literal before it is sent (``APPEND`` to a missing
    mailbox): it then calls :meth:`CommandFramer.refuse_literal` and answers the command.
    """

    size: int
    prefix: FramedCommand | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class LiteralTooBig:
    """A literal over the limit; the command is dropped and must be answered.

    ``synchronizing``: refused before the octets were sent (answer ``NO [TOOBIG]``).
    Otherwise the octets were read and discarded (answer ``BAD [TOOBIG]``, RFC 7888).
    """

    tag: str | None
    size: int
    synchronizing: bool


@dataclass(frozen=True, slots=True)
class ProtocolViolation:
    """Fatal framing error: send ``* BYE message`` and close."""

    message: str


@dataclass(frozen=True, slots=True)
class RawLine:
    """One line read in single-line mode (IDLE's DONE, AUTHENTICATE responses)."""

    data: bytes


WireEvent = (
    NeedData
    | ConnectionClosed
    | AwaitingLiteral
    | LiteralTooBig
    | ProtocolViolation
    | RawLine
    | FramedCommand
)


def tag_of(line: bytes) -> str | None:
    """The tag of a command line, if it starts with a well-formed one followed by SP."""
    end = 0
    while end < len(line) and line[end] in TAG_CHARS:
        end += 1
    if end == 0 or end == len(line) or line[end] != 0x20:
        return None
    return line[:end].decode("ascii")


class CommandFramer:
    """Resumable framer: :meth:`feed` bytes, pull events with :meth:`next_event`."""

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self._buffer = bytearray()
        self._scanned = 0  # bytes of _buffer already known to hold no LF
        self._eof = False
        self._dead = False  # after a fatal violation: only ConnectionClosed
        self._line_mode = False
        self._reset_command()

    def _reset_command(self) -> None:
        self._lines: list[bytes] = []
        self._literals: list[LiteralData] = []
        self._text_size = 0
        self._literal_total = 0
        self._literal_remaining = 0  # > 0 while reading literal octets
        self._literal_binary = False
        self._literal_parts: list[bytes] = []
        self._discard_remaining = 0  # > 0 while dropping a refused non-sync literal
        self._discarded = 0
        self._failure: LiteralTooBig | None = None  # command already failed; skip its rest

    # -- inputs ---------------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        """Append received bytes; ``b""`` means the peer closed the connection."""
        if not data:
            self._eof = True
        elif not self._dead:
            self._buffer += data

    @property
    def between_commands(self) -> bool:
        """Nothing of a next command has arrived yet."""
        return not self._buffer and not self._lines and not self._literals \
            and not self._literal_remaining and not self._discard_remaining

    @property
    def in_literal(self) -> bool:
        """Literal octets are awaited (read, or dropped after a refusal)."""
        return bool(self._literal_remaining or self._discard_remaining)

    def expect_line(self) -> None:
        """Return the next line as :class:`RawLine` (no literals), then frame commands again."""
        self._line_mode = True

    def refuse_literal(self) -> None:
        """The synchronizing literal just announced is refused (no ``+`` is sent): the client
        sends nothing more of this command, so it is dropped and the next line starts a new
        one (RFC 9051 §7.5: the server may answer the command instead of the continuation)."""
        self._reset_command()

    def take_buffered(self) -> bytes:
        """Remove and return every unparsed byte (for STARTTLS and COMPRESS switches)."""
        data = bytes(self._buffer)
        self._buffer.clear()
        self._scanned = 0
        return data

    # -- events ---------------------------------------------------------------------------

    def next_event(self) -> WireEvent:
        if self._dead:
            return ConnectionClosed()
        while True:
            if self._literal_remaining:
                if not self._read_literal():
                    return self._starved()
                continue
            if self._discard_remaining:
                if not self._discard():
                    return self._starved()
                continue
            line = self._take_line()
            if isinstance(line, ProtocolViolation):
                return self._die(line)
            if line is None:
                return self._starved()
            if self._line_mode:
                self._line_mode = False
                return RawLine(line)
            event = self._on_line(line)
            if event is not None:
                return event

    def _starved(self) -> NeedData | ConnectionClosed:
        return ConnectionClosed() if self._eof else NeedData()

    def _die(self, violation: ProtocolViolation) -> ProtocolViolation:
        self._dead = True
        self._buffer.clear()
        return violation

    def _take_line(self) -> bytes | ProtocolViolation | None:
        """The next line without its terminator, or None if it is not complete yet."""
        allowed = self.limits.max_line_length - self._text_size
        end = self._buffer.find(b"\n", self._scanned)
        if end < 0:
            self._scanned = len(self._buffer)
            pending = len(self._buffer) - self._buffer.endswith(b"\r")  # that CR may end it
            if pending > allowed:
                return ProtocolViolation("line too long")
            return None
        line = bytes(self._buffer[: end - 1 if self._buffer[end - 1 : end] == b"\r" else end])
        del self._buffer[: end + 1]
        self._scanned = 0
        if len(line) > allowed:
            return ProtocolViolation("line too long")
        return line

    def _on_line(self, line: bytes) -> WireEvent | None:
        """Account for one line of the current command; an event if it ends or needs one."""
        if not line and not self._lines and self._failure is None:
            return None  # empty line between commands
        self._text_size += len(line)
        marker = _MARKER.search(line)
        if marker is None:
            return self._finish(line)
        size = int(marker.group(2))
        synchronizing = not marker.group(3)
        self._lines.append(line[: marker.start()])
        if self._failure is not None:
            # The command already failed. A client waiting for "+" will not send the octets,
            # so answer now; non-synchronizing octets are on their way and must be dropped.
            return self._finish_failed() if synchronizing else self._start_discard(size)
        if (
            size > self.limits.max_literal_size
            or self._literal_total + size > self.limits.max_command_size
            or len(self._literals) >= self.limits.max_literals
            or (
                not synchronizing
                and self.limits.non_sync_literal_limit is not None
                and size > self.limits.non_sync_literal_limit
            )
        ):
            failure = LiteralTooBig(tag_of(self._lines[0]), size, synchronizing)
            if synchronizing:
                self._reset_command()
                return failure
            self._failure = failure
            return self._start_discard(size)
        prefix = FramedCommand(tuple(self._lines), tuple(self._literals)) \
            if synchronizing else None
        self._literal_total += size
        self._literal_binary = bool(marker.group(1))
        if size == 0:
            self._literals.append(LiteralData(b"", self._literal_binary))
        else:
            self._literal_remaining = size
        return AwaitingLiteral(size, prefix) if synchronizing else None

    def _finish(self, line: bytes) -> WireEvent:
        if self._failure is not None:
            return self._finish_failed()
        self._lines.append(line)
        command = FramedCommand(tuple(self._lines), tuple(self._literals))
        self._reset_command()
        return command

    def _finish_failed(self) -> WireEvent:
        failure = self._failure
        assert failure is not None
        self._reset_command()
        return failure

    def _start_discard(self, size: int) -> WireEvent | None:
        self._discarded += size
        if self._discarded > self.limits.max_discard_size:
            return self._die(ProtocolViolation("literal too large"))
        self._discard_remaining = size
        return None

    def _read_literal(self) -> bool:
        """Move literal octets out of the buffer; True once the literal is complete."""
        take = min(self._literal_remaining, len(self._buffer))
        if take:
            self._literal_parts.append(bytes(self._buffer[:take]))
            del self._buffer[:take]  # O(1) at the front of a bytearray in CPython
            self._scanned = 0
            self._literal_remaining -= take
        if self._literal_remaining:
            return False
        data = b"".join(self._literal_parts)
        self._literal_parts = []
        self._literals.append(LiteralData(data, self._literal_binary))
        return True

    def _discard(self) -> bool:
        take = min(self._discard_remaining, len(self._buffer))
        del self._buffer[:take]
        self._scanned = 0
        self._discard_remaining -= take
        return self._discard_remaining == 0
