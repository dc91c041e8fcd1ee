"""Helpers shared by the IMAP unit tests: frame raw client bytes, then parse them."""

from __future__ import annotations

from postier.imap.commands import ImapCommand
from postier.imap.parsing import ParseError, parse_command
from postier.imap.wire import (
    AwaitingLiteral,
    CommandFramer,
    FramedCommand,
    Limits,
    WireEvent,
)


def events(data: bytes, *, step: int = 0, limits: Limits | None = None) -> list[WireEvent]:
    """Every framer event for ``data`` fed in ``step``-sized pieces (0: all at once)."""
    framer = CommandFramer(limits)
    out: list[WireEvent] = []
    pieces = [data[i : i + step] for i in range(0, len(data), step)] if step else [data]
    for piece in pieces:
        framer.feed(piece)
        while type(event := framer.next_event()).__name__ not in ("NeedData", "ConnectionClosed"):
            out.append(event)
    framer.feed(b"")
    out.append(framer.next_event())
    return out


def frame(data: bytes) -> FramedCommand:
    """The one command in ``data``, which lacks its final CRLF."""
    framed = [e for e in events(data + b"\r\n") if not isinstance(e, AwaitingLiteral)][:-1]
    assert len(framed) == 1 and isinstance(framed[0], FramedCommand), framed
    return framed[0]


def parse(data: bytes | str) -> ImapCommand:
    raw = data.encode() if isinstance(data, str) else data
    _tag, command = parse_command(frame(raw))
    return command


def parse_error(data: bytes | str) -> ParseError:
    raw = data.encode() if isinstance(data, str) else data
    try:
        parse_command(frame(raw))
    except ParseError as error:
        return error
    raise AssertionError(f"{raw!r} parsed")
