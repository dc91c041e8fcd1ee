"""POP3 framing: command lines in, multi-line message bodies out, with limits. No I/O.

How this works, inbound: a ``LineReader`` holds the bytes received and not yet consumed;
``read_line(limit)`` returns the next line without its terminator, ``LineTooLong`` once an
over-long line has been skipped to its end, or None when more input is needed. Lines end with
CRLF (RFC 1939 §3); a bare LF is accepted too, as between commands it hides nothing. An over-long
line is dropped as it arrives, so memory stays bounded by one read plus one partial line, and
reported once when its LF is found, so the next command starts cleanly. RFC 2449 §4 caps command
lines at 255 octets; the caller picks a larger, still bounded, limit.

Outbound, a message is sent in its *wire form*: every line ends with CRLF (a bare LF becomes
CRLF, a lone CR is left alone as data), and a message that does not end with a line break gets
one. Sizes reported by STAT and LIST are octet counts of this wire form (RFC 1939 §5 "exact
size"), so a client that counts what RETR delivered, after removing the byte-stuffing, finds
exactly the size it was told. ``wire_size`` computes it without building the wire form.

Byte-stuffing (RFC 1939 §3): a line that begins with "." gets one more "." in front; the
response ends with CRLF "." CRLF. Both are done with ``bytes.replace`` over whole pieces (C
loops, and no copy at all when nothing changes), never line by line. ``stuffed_response`` builds
the whole response of a message in one buffer, so it goes out in one write; ``stuffed_chunks``
works on slices of the wire form, so a large message is stuffed piece by piece while it is
written with back-pressure. Cutting never changes the result because in the wire form every LF
is preceded by CR and thus "\\n." marks exactly the lines that start with a dot.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

__all__ = [
    "CHUNK_SIZE",
    "TERMINATOR",
    "LineReader",
    "LineTooLong",
    "stuffed_chunks",
    "stuffed_response",
    "top_of",
    "wire_form",
    "wire_size",
]

CHUNK_SIZE = 64 * 1024
TERMINATOR = b".\r\n"


@dataclass(frozen=True, slots=True)
class LineTooLong:
    """A line exceeded the limit; it has been discarded up to and including its LF."""


class LineReader:
    __slots__ = ("_buffer", "_discarding", "_eof")

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._eof = False
        self._discarding = False  # inside an over-long line, dropping until its LF

    @property
    def eof(self) -> bool:
        """The peer closed its side; what is still buffered may yet be consumed."""
        return self._eof

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def feed(self, data: bytes) -> None:
        if data:
            self._buffer += data
        else:
            self._eof = True

    def starts_with_keyword(self, prefix: bytes) -> bool:
        """Whether the buffered line begins with ``prefix`` (upper case), ignoring case."""
        return bytes(self._buffer[:len(prefix)]).upper() == prefix

    def discard(self) -> int:
        """Drop everything buffered (RFC 2595 §4 after STLS); return how many octets."""
        dropped = len(self._buffer)
        self._buffer.clear()
        self._discarding = False
        return dropped

    def read_line(self, max_length: int) -> bytes | LineTooLong | None:
        """The next line without CRLF or LF, LineTooLong, or None if incomplete.
        ``max_length`` counts the terminator."""
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


def wire_form(message: bytes) -> bytes:
    """The message as POP3 sends it (before byte-stuffing): CRLF line ends, a final CRLF."""
    if not message:
        return b""
    # Every CRLF becomes LF and every LF becomes CRLF: existing CRLFs survive, bare LFs are
    # completed, and lone CRs (which are not line breaks) stay as they are. Most stored mail
    # has no bare LF: two counts then spare two copies.
    data = message
    if message.count(b"\n") != message.count(b"\r\n"):
        data = message.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    return data if data.endswith(b"\r\n") else data + b"\r\n"


def wire_size(message: bytes) -> int:
    """``len(wire_form(message))``, counted without copying the message."""
    if not message:
        return 0
    bare_lf = message.count(b"\n") - message.count(b"\r\n")
    return len(message) + bare_lf + (0 if message.endswith(b"\n") else 2)


def top_of(wire: bytes, lines: int) -> bytes:
    """TOP (RFC 1939 §7): the header, the blank line after it, and ``lines`` body lines.

    ``wire`` is a wire form. A message without a blank line is all header and is returned
    whole; asking for more lines than the body has returns the whole message."""
    if wire.startswith(b"\r\n"):
        body_start = 2  # an empty header: the blank line is the first line
    else:
        separator = wire.find(b"\r\n\r\n")
        if separator < 0:
            return wire
        body_start = separator + 4
    end = body_start
    for _ in range(lines):
        next_end = wire.find(b"\r\n", end)
        if next_end < 0:
            return wire
        end = next_end + 2
    return wire[:end]


def stuffed_response(head: bytes, wire: bytes) -> bytes:
    """``head``, the byte-stuffed wire form and ``TERMINATOR``, in one buffer (one copy)."""
    dot = b"." if wire.startswith(b".") else b""
    return b"".join((head, dot, wire.replace(b"\n.", b"\n.."), TERMINATOR))


def stuffed_chunks(wire: bytes, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """The byte-stuffed wire form in pieces of about ``chunk_size``, then ``TERMINATOR``."""
    view = memoryview(wire)
    for start in range(0, len(wire), chunk_size):
        piece = bytes(view[start:start + chunk_size])
        # A piece starts a line when it is the first or follows a LF; inside the piece, "\n."
        # finds the rest (the wire form has no bare LF, so that LF always ends a CRLF line).
        at_line_start = start == 0 or wire[start - 1] == 0x0A
        stuffed = piece.replace(b"\n.", b"\n..")
        yield b"." + stuffed if at_line_start and piece.startswith(b".") else stuffed
    yield TERMINATOR
