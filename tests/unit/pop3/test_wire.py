"""POP3 framing: command lines with limits, the wire form, TOP, byte-stuffing."""

from __future__ import annotations

import pytest

from postier.pop3.wire import (
    TERMINATOR,
    LineReader,
    LineTooLong,
    stuffed_chunks,
    stuffed_response,
    top_of,
    wire_form,
    wire_size,
)


def lines(reader: LineReader, limit: int = 16) -> list[bytes | LineTooLong]:
    found: list[bytes | LineTooLong] = []
    while (line := reader.read_line(limit)) is not None:
        found.append(line)
    return found


def test_crlf_and_bare_lf_end_a_line() -> None:
    reader = LineReader()
    reader.feed(b"STAT\r\nNOOP\nLIST")
    assert lines(reader) == [b"STAT", b"NOOP"]
    reader.feed(b" 1\r\n")
    assert lines(reader) == [b"LIST 1"]


def test_line_split_anywhere_is_the_same_line() -> None:
    reader = LineReader()
    for byte in b"RETR 1\r\n":
        assert reader.read_line(16) is None
        reader.feed(bytes([byte]))
    assert reader.read_line(16) == b"RETR 1"


def test_long_line_is_dropped_as_it_arrives_then_reported_once() -> None:
    reader = LineReader()
    reader.feed(b"X" * 40)
    assert reader.read_line(16) is None
    assert reader.buffered == 0  # nothing of an over-long line is kept
    reader.feed(b"Y" * 40 + b"\r\nNOOP\r\n")
    assert lines(reader) == [LineTooLong(), b"NOOP"]


def test_limit_counts_the_terminator() -> None:
    reader = LineReader()
    reader.feed(b"A" * 14 + b"\r\n" + b"B" * 15 + b"\r\n")
    assert lines(reader) == [b"A" * 14, LineTooLong()]


def test_eof_and_discard() -> None:
    reader = LineReader()
    reader.feed(b"USER a\r\npartial")
    assert reader.discard() == len(b"USER a\r\npartial")
    assert reader.read_line(16) is None
    reader.feed(b"")
    assert reader.eof


def test_keyword_prefix_is_case_insensitive() -> None:
    reader = LineReader()
    reader.feed(b"auth PLAIN x")
    assert reader.starts_with_keyword(b"AUTH ")
    assert not reader.starts_with_keyword(b"USER ")


@pytest.mark.parametrize(("stored", "wire"), [
    (b"", b""),
    (b"a\r\nb\r\n", b"a\r\nb\r\n"),
    (b"a\nb\n", b"a\r\nb\r\n"),
    (b"a\r\nb", b"a\r\nb\r\n"),
    (b"a\rb\n", b"a\rb\r\n"),  # a lone CR is data, not a line break
    (b"a\r", b"a\r\r\n"),
    (b"\n\n", b"\r\n\r\n"),
    (b"mixed\r\nbare\nend", b"mixed\r\nbare\r\nend\r\n"),
])
def test_wire_form_and_its_size(stored: bytes, wire: bytes) -> None:
    assert wire_form(stored) == wire
    assert wire_size(stored) == len(wire)


MESSAGE = b"From: a\r\nSubject: b\r\n\r\nline 1\r\nline 2\r\nline 3\r\n"


@pytest.mark.parametrize(("count", "expected"), [
    (0, b"From: a\r\nSubject: b\r\n\r\n"),
    (1, b"From: a\r\nSubject: b\r\n\r\nline 1\r\n"),
    (3, MESSAGE),
    (99, MESSAGE),
])
def test_top(count: int, expected: bytes) -> None:
    assert top_of(MESSAGE, count) == expected


def test_top_of_a_message_without_body_or_header() -> None:
    assert top_of(b"From: a\r\nSubject: b\r\n", 0) == b"From: a\r\nSubject: b\r\n"
    assert top_of(b"\r\nbody\r\nmore\r\n", 1) == b"\r\nbody\r\n"
    assert top_of(b"", 5) == b""


def stuff(wire: bytes, size: int = 65536) -> bytes:
    return b"".join(stuffed_chunks(wire, size))


def test_byte_stuffing_and_terminator() -> None:
    assert stuff(b"") == TERMINATOR
    assert stuff(b".\r\n") == b"..\r\n.\r\n"
    assert stuff(b"a\r\n.b\r\n..c\r\nd.\r\n") == b"a\r\n..b\r\n...c\r\nd.\r\n.\r\n"
    for wire in (b"", b".\r\n", b"a\r\n.b\r\n..c\r\nd.\r\n"):
        assert stuffed_response(b"+OK\r\n", wire) == b"+OK\r\n" + stuff(wire)


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7])
def test_stuffing_does_not_depend_on_chunk_size(size: int) -> None:
    wire = wire_form(b".a\n..b\r\nc\r\n.\r\n.d\r\n")
    assert stuff(wire, size) == stuff(wire)
    assert stuff(wire) == b"..a\r\n...b\r\nc\r\n..\r\n..d\r\n.\r\n"
