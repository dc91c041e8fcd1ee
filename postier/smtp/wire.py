"""SMTP framing: command lines, the DATA body and BDAT chunks, with limits. No I/O.

How this works: a WireReader holds the bytes received and not yet consumed. protocol.py asks it for
whatever the current state expects: a command line (``read_line``), DATA body bytes
(``read_message_data``) or raw BDAT chunk bytes (``read_bytes``). Each call consumes what it returns
and answers None or False when more input is needed. Memory stays bounded by one read plus one
partial line: nothing is buffered past a limit.

Command lines are terminated by CRLF (RFC 5321 §2.3.8). Deliberate deviation: a bare LF also ends
a command line, because many clients and scripts send it, and between commands it hides nothing (a
bare CR inside a line is left for the parser, which refuses control characters). A line longer
than the limit (RFC 5321 §4.5.3.1.4; counted with its terminator) is dropped as it arrives, then
reported once as LineTooLong when its end is found, so the next command starts cleanly (500 5.5.6).

DATA (RFC 5321 §4.1.1.4, §4.5.2): the only end-of-data marker is CRLF "." CRLF. LF "." LF, CR "." CR
and their mixtures are message content, and a message that contains any bare CR or bare LF is
rejected whole (550 5.6.11). This is the strict answer to SMTP smuggling (CVE-2023-51766 and the
2023 family): a receiver that accepts other markers ends the message where a downstream relay does
not, or the reverse, and the rest is read as commands. Rejecting instead of repairing means we never
relay a message whose line structure another server could read differently. A leading "." of a line
is removed (dot-unstuffing). The body is scanned with bytes.find over whole lines, not byte by byte,
so large messages cost C-speed passes.

BDAT (RFC 3030 §2): exactly ``size`` octets, no unstuffing, no end marker. Unless the body is
BINARYMIME, bare CR/LF are still refused, for the same reason as in DATA: the message may later be
relayed with DATA.

MessageBody counts octets after unstuffing; past the limit it keeps counting but stores nothing, so
an oversized message is read to its end and then refused (552 5.3.4) without holding it in memory.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LineTooLong", "MessageBody", "WireReader"]

# A DATA line with no LF yet is passed on in slices of this size, so one endless line cannot grow
# the buffer; at least 3 octets must stay to recognise ".\r\n" at the start of a line.
_DATA_SLICE = 65536


@dataclass(frozen=True, slots=True)
class LineTooLong:
    """A command line exceeded the limit; it has been discarded up to and including its LF."""


class MessageBody:
    """One message's octets, capped at ``max_size``, with bare CR/LF detection across pieces."""

    __slots__ = ("_check_line_endings", "_content", "_max_size", "_pending_cr", "bare_line_ending",
                 "size")

    def __init__(self, max_size: int, *, check_line_endings: bool = True) -> None:
        self._max_size = max_size
        self._check_line_endings = check_line_endings
        self._content = bytearray()
        self._pending_cr = False  # the last octet seen was CR: its LF may start the next piece
        self.size = 0
        self.bare_line_ending = False

    @property
    def too_big(self) -> bool:
        return self.size > self._max_size

    def append(self, piece: bytes) -> None:
        if not piece:
            return
        self.size += len(piece)
        if self.too_big:
            self._content.clear()  # keep counting, stop storing
        else:
            self._content += piece
        if self._check_line_endings and not self.bare_line_ending:
            self.bare_line_ending = self._has_bare_line_ending(piece)

    def finish(self) -> bytes:
        """The complete message; a message that ends in a lone CR has a bare line ending."""
        if self._check_line_endings and self._pending_cr:
            self.bare_line_ending = True
        return bytes(self._content)

    def _has_bare_line_ending(self, piece: bytes) -> bool:
        # Every CR must be followed by LF and every LF preceded by CR, so all three counts agree;
        # a CR at the end of the piece is judged with the next piece.
        joined_lf = self._pending_cr and piece[0] == 0x0A
        bare = self._pending_cr and not joined_lf
        pairs = piece.count(b"\r\n")
        self._pending_cr = piece[-1] == 0x0D
        lf = piece.count(b"\n") - joined_lf
        cr = piece.count(b"\r") - self._pending_cr
        return bare or lf != pairs or cr != pairs


class WireReader:
    __slots__ = ("_at_line_start", "_buffer", "_discarding", "_eof")

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._eof = False
        self._discarding = False  # inside an over-long command line, dropping until its LF
        self._at_line_start = True  # DATA: the previous octets were CRLF (or DATA just began)

    @property
    def eof(self) -> bool:
        """The peer closed its side; whatever is still buffered may yet be consumed."""
        return self._eof

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def feed(self, data: bytes) -> None:
        if data:
            self._buffer += data
        else:
            self._eof = True

    def peek(self, size: int) -> bytes:
        return bytes(self._buffer[:size])

    def discard(self) -> int:
        """Drop everything buffered (RFC 3207 §4.2 after STARTTLS); return how many octets."""
        dropped = len(self._buffer)
        self._buffer.clear()
        self._discarding = False
        return dropped

    def read_line(self, max_length: int) -> bytes | LineTooLong | None:
        """The next command line without CRLF or LF, LineTooLong, or None if incomplete."""
        buffer = self._buffer
        if not self._discarding:
            end = buffer.find(b"\n", 0, max_length)
            if end >= 0:
                line = bytes(buffer[:end])
                del buffer[: end + 1]
                return line[:-1] if line.endswith(b"\r") else line
            if len(buffer) < max_length:
                return None
            self._discarding = True
        end = buffer.find(b"\n")
        if end < 0:
            buffer.clear()
            return None
        del buffer[: end + 1]
        self._discarding = False
        return LineTooLong()

    def start_message_data(self) -> None:
        self._at_line_start = True

    def read_message_data(self, body: MessageBody) -> bool:
        """Move dot-stuffed DATA octets into body; True once CRLF.CRLF has been consumed."""
        buffer = self._buffer
        while True:
            if self._at_line_start and buffer.startswith(b".\r\n"):
                del buffer[:3]
                return True
            marker = buffer.find(b"\r\n.\r\n")
            if marker >= 0:
                # The CRLF before the dot ends the message's last line and belongs to it.
                self._take_region(body, marker + 2)
                del buffer[:3]
                return True
            end = buffer.rfind(b"\n") + 1
            if end == 0 and len(buffer) > _DATA_SLICE:
                end = len(buffer) - buffer.endswith(b"\r")  # a CR waits for its LF
            if end == 0:
                return False
            self._take_region(body, end)

    def _take_region(self, body: MessageBody, end: int) -> None:
        region = bytes(self._buffer[:end])
        del self._buffer[:end]
        unstuffed = region[1:] if self._at_line_start and region.startswith(b".") else region
        # RFC 5321 §4.5.2: remove the first "." of every line; inside a region a line starts
        # after CRLF. After a bare LF it does not, but such a message is refused anyway.
        body.append(unstuffed.replace(b"\r\n.", b"\r\n"))
        self._at_line_start = region.endswith(b"\r\n")

    def read_bytes(self, size: int) -> bytes:
        """Up to ``size`` raw octets (a BDAT chunk); fewer if fewer are buffered."""
        piece = bytes(self._buffer[:size])
        del self._buffer[:size]
        return piece
