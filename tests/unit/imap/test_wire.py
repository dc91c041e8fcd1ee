"""Framing: lines, literals of every kind, limits, and resumption at any byte."""

from __future__ import annotations

import pytest

from postier.imap.wire import (
    AwaitingLiteral,
    CommandFramer,
    ConnectionClosed,
    FramedCommand,
    Limits,
    LiteralData,
    LiteralTooBig,
    NeedData,
    ProtocolViolation,
    RawLine,
    tag_of,
)

from ._support import events

CLOSED = ConnectionClosed()


def test_one_line_command() -> None:
    assert events(b"a1 NOOP\r\n") == [FramedCommand((b"a1 NOOP",)), CLOSED]


def test_pipelined_commands_in_one_chunk() -> None:
    assert events(b"a NOOP\r\nb CAPABILITY\r\n") == [
        FramedCommand((b"a NOOP",)),
        FramedCommand((b"b CAPABILITY",)),
        CLOSED,
    ]


def test_need_data_until_line_end() -> None:
    framer = CommandFramer()
    framer.feed(b"a NO")
    assert framer.next_event() == NeedData()
    framer.feed(b"OP\r")
    assert framer.next_event() == NeedData()
    framer.feed(b"\n")
    assert framer.next_event() == FramedCommand((b"a NOOP",))
    assert framer.next_event() == NeedData()


def test_synchronizing_literal_asks_for_continuation_first() -> None:
    framer = CommandFramer()
    framer.feed(b"a LOGIN {5}\r\n")
    assert framer.next_event() == AwaitingLiteral(5)
    assert framer.next_event() == NeedData()
    framer.feed(b"alice {6}\r\n")
    assert framer.next_event() == AwaitingLiteral(6)
    framer.feed(b"sec")
    assert framer.next_event() == NeedData()
    framer.feed(b"ret\r\n")
    assert framer.next_event() == FramedCommand(
        (b"a LOGIN ", b" ", b""),
        (LiteralData(b"alice", False), LiteralData(b"secret", False)),
    )


def test_non_synchronizing_literal_needs_no_continuation() -> None:
    assert events(b"a LOGIN {5+}\r\nalice secret\r\n") == [
        FramedCommand((b"a LOGIN ", b" secret"), (LiteralData(b"alice", False),)),
        CLOSED,
    ]


def test_literal8_is_marked_binary_and_may_hold_nul() -> None:
    data = b"a APPEND INBOX ~{3+}\r\n\x00\x01\x02\r\n"
    assert events(data) == [
        FramedCommand((b"a APPEND INBOX ", b""), (LiteralData(b"\x00\x01\x02", True),)),
        CLOSED,
    ]


def test_literal_bytes_are_not_interpreted() -> None:
    body = b"line\r\n{99}\r\nb NOOP\r\n"
    data = b"a APPEND INBOX {%d+}\r\n" % len(body) + body + b"\r\n"
    [command, closed] = events(data)
    assert isinstance(command, FramedCommand)
    assert command.literals == (LiteralData(body, False),)
    assert closed == CLOSED


def test_zero_length_synchronizing_literal() -> None:
    assert events(b"a LOGIN {0}\r\n {0+}\r\n\r\n") == [
        AwaitingLiteral(0),
        FramedCommand((b"a LOGIN ", b" ", b""), (LiteralData(b"", False),) * 2),
        CLOSED,
    ]


def test_minus_is_not_a_literal_marker() -> None:
    # RFC 7888 LITERAL- reuses "{n+}"; "{n-}" is just text the parser will reject.
    assert events(b"a LOGIN {5-}\r\n") == [FramedCommand((b"a LOGIN {5-}",)), CLOSED]


def test_marker_must_end_the_line() -> None:
    assert events(b"a LOGIN {5} x\r\n") == [FramedCommand((b"a LOGIN {5} x",)), CLOSED]


def test_bare_lf_ends_a_line_but_bare_cr_does_not() -> None:
    assert events(b"a NOOP\nb NOOP\rc NOOP\r\n") == [
        FramedCommand((b"a NOOP",)),
        FramedCommand((b"b NOOP\rc NOOP",)),
        CLOSED,
    ]


def test_empty_lines_between_commands_are_ignored() -> None:
    assert events(b"\r\n\r\na NOOP\r\n\n") == [FramedCommand((b"a NOOP",)), CLOSED]


def test_eof_in_the_middle_of_a_literal() -> None:
    assert events(b"a LOGIN {5+}\r\nal") == [CLOSED]


def test_synchronizing_literal_over_limit_is_refused_before_reading() -> None:
    limits = Limits(max_literal_size=10)
    framer = CommandFramer(limits)
    framer.feed(b"a7 APPEND INBOX {11}\r\n")
    assert framer.next_event() == LiteralTooBig("a7", 11, synchronizing=True)
    # The client got no "+", so what follows is a new command.
    framer.feed(b"a8 NOOP\r\n")
    assert framer.next_event() == FramedCommand((b"a8 NOOP",))


def test_non_synchronizing_literal_over_limit_is_read_and_discarded() -> None:
    limits = Limits(max_literal_size=10)
    data = b"a7 APPEND INBOX {20+}\r\n" + b"x" * 20 + b" {3+}\r\nabc\r\na8 NOOP\r\n"
    expected = [LiteralTooBig("a7", 20, synchronizing=False), FramedCommand((b"a8 NOOP",)), CLOSED]
    assert events(data, limits=limits) == expected
    assert events(data, limits=limits, step=1) == expected


def test_failed_command_ends_at_its_next_synchronizing_literal() -> None:
    limits = Limits(max_literal_size=10)
    data = b"a APPEND INBOX {20+}\r\n" + b"x" * 20 + b" {3}\r\nb NOOP\r\n"
    assert events(data, limits=limits) == [
        LiteralTooBig("a", 20, synchronizing=False),
        FramedCommand((b"b NOOP",)),
        CLOSED,
    ]


def test_discarding_is_capped() -> None:
    limits = Limits(max_literal_size=10, max_discard_size=100)
    framer = CommandFramer(limits)
    framer.feed(b"a APPEND INBOX {101+}\r\n")
    assert framer.next_event() == ProtocolViolation("literal too large")
    framer.feed(b"b NOOP\r\n")
    assert framer.next_event() == CLOSED


def test_literal_minus_limits_only_non_synchronizing_literals() -> None:
    limits = Limits(non_sync_literal_limit=4096)
    ok = b"a LOGIN {4096+}\r\n" + b"u" * 4096 + b" p\r\n"
    assert isinstance(events(ok, limits=limits)[0], FramedCommand)
    too_big = b"a LOGIN {4097+}\r\n" + b"u" * 4097 + b" p\r\n"
    assert events(too_big, limits=limits)[0] == LiteralTooBig("a", 4097, synchronizing=False)
    assert events(b"a LOGIN {4097}\r\n", limits=limits)[0] == AwaitingLiteral(4097)


def test_command_size_and_literal_count_limits() -> None:
    limits = Limits(max_literal_size=10, max_command_size=15, max_literals=2)
    data = b"a APPEND X {10+}\r\n" + b"x" * 10 + b" {6}\r\n"
    assert events(data, limits=limits)[0] == LiteralTooBig("a", 6, synchronizing=True)
    data = b"a LOGIN {1+}\r\nx {1+}\r\ny {1}\r\n"
    assert events(data, limits=limits)[0] == LiteralTooBig("a", 1, synchronizing=True)


@pytest.mark.parametrize("step", [0, 1, 7])
def test_line_too_long_is_fatal(step: int) -> None:
    limits = Limits(max_line_length=20)
    data = b"a NOOP\r\nb " + b"x" * 30 + b"\r\nc NOOP\r\n"
    assert events(data, limits=limits, step=step) == [
        FramedCommand((b"a NOOP",)),
        ProtocolViolation("line too long"),
        CLOSED,
    ]


@pytest.mark.parametrize("step", [0, 1])
def test_line_exactly_at_limit_is_accepted(step: int) -> None:
    limits = Limits(max_line_length=10)
    assert events(b"a NOOP1234\r\n", limits=limits, step=step) == [
        FramedCommand((b"a NOOP1234",)),
        CLOSED,
    ]


def test_line_limit_counts_every_piece_of_a_command() -> None:
    limits = Limits(max_line_length=20)
    data = b"a LOGIN {1+}\r\nx {1+}\r\ny" + b" " * 10 + b"\r\n"
    assert events(data, limits=limits)[0] == ProtocolViolation("line too long")


def test_single_line_mode_for_idle_and_sasl() -> None:
    framer = CommandFramer()
    framer.feed(b"a IDLE\r\nDONE\r\nb NOOP\r\n")
    assert framer.next_event() == FramedCommand((b"a IDLE",))
    framer.expect_line()
    assert framer.next_event() == RawLine(b"DONE")
    assert framer.next_event() == FramedCommand((b"b NOOP",))


def test_single_line_mode_ignores_literal_markers() -> None:
    framer = CommandFramer()
    framer.expect_line()
    framer.feed(b"{5}\r\n")
    assert framer.next_event() == RawLine(b"{5}")


def test_take_buffered_returns_unparsed_bytes() -> None:
    framer = CommandFramer()
    framer.feed(b"a STARTTLS\r\nb LOGIN x y\r\n")
    assert framer.next_event() == FramedCommand((b"a STARTTLS",))
    assert framer.take_buffered() == b"b LOGIN x y\r\n"
    assert framer.next_event() == NeedData()


@pytest.mark.parametrize(
    ("line", "tag"),
    [(b"a1 NOOP", "a1"), (b"A.b]c LOGIN", "A.b]c"), (b"a+ NOOP", None), (b"NOOP", None),
     (b" a NOOP", None), (b"a*b NOOP", None)],
)  # fmt: skip
def test_tag_of(line: bytes, tag: str | None) -> None:
    assert tag_of(line) == tag
