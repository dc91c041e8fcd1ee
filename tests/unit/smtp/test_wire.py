"""Framing: command lines, DATA bodies and BDAT octets, fed whole and in pieces."""

from __future__ import annotations

import pytest

from postier.smtp.wire import LineTooLong, MessageBody, WireReader


def reader(*pieces: bytes) -> WireReader:
    wire = WireReader()
    for piece in pieces:
        wire.feed(piece)
    return wire


def lines(wire: WireReader, limit: int = 1000) -> list[bytes | LineTooLong]:
    out: list[bytes | LineTooLong] = []
    while (line := wire.read_line(limit)) is not None:
        out.append(line)
    return out


def read_data(data: bytes, *, step: int | None = None, max_size: int = 10_000) -> (
    tuple[bool, MessageBody, bytes, bytes]
):
    """Feed ``data`` (in ``step``-sized pieces); return (done, body, content, leftover)."""
    wire, body, done = WireReader(), MessageBody(max_size), False
    step = step or len(data) or 1
    for i in range(0, len(data), step):
        wire.feed(data[i : i + step])
        done = done or wire.read_message_data(body)
    return done, body, body.finish(), wire.peek(1 << 20)


class TestCommandLines:
    def test_crlf_and_bare_lf_both_end_a_command_line(self) -> None:
        assert lines(reader(b"NOOP\r\nRSET\nQUIT\r\n")) == [b"NOOP", b"RSET", b"QUIT"]

    def test_incomplete_line_waits(self) -> None:
        wire = reader(b"NOO")
        assert wire.read_line(1000) is None
        wire.feed(b"P\r\n")
        assert wire.read_line(1000) == b"NOOP"

    def test_limit_counts_the_crlf(self) -> None:
        assert lines(reader(b"x" * 8 + b"\r\n"), limit=10) == [b"x" * 8]
        assert lines(reader(b"x" * 9 + b"\r\n"), limit=10) == [LineTooLong()]

    def test_over_long_line_is_dropped_and_the_next_line_is_intact(self) -> None:
        wire = reader(b"x" * 5000 + b"\r\nNOOP\r\n")
        assert lines(wire) == [LineTooLong(), b"NOOP"]

    def test_over_long_line_is_not_buffered_while_it_streams(self) -> None:
        wire = WireReader()
        for _ in range(100):
            wire.feed(b"y" * 1000)
            assert wire.read_line(1000) is None
            assert wire.buffered == 0
        wire.feed(b"\r\nQUIT\r\n")
        assert lines(wire) == [LineTooLong(), b"QUIT"]

    def test_over_long_line_reported_once_when_fed_byte_by_byte(self) -> None:
        wire, seen = WireReader(), []
        for byte in b"z" * 1500 + b"\nNOOP\n":
            wire.feed(bytes([byte]))
            seen += lines(wire)
        assert seen == [LineTooLong(), b"NOOP"]

    def test_discard_drops_everything_buffered(self) -> None:
        wire = reader(b"MAIL FROM:<a@b>\r\nRCPT")
        assert wire.discard() == 21
        assert wire.read_line(1000) is None

    def test_eof(self) -> None:
        wire = reader(b"NOOP\r\n", b"")
        assert wire.eof
        assert wire.read_line(1000) == b"NOOP"


class TestData:
    def test_end_marker_and_what_follows(self) -> None:
        done, _, content, rest = read_data(b"Subject: x\r\n\r\nbody\r\n.\r\nQUIT\r\n")
        assert done
        assert content == b"Subject: x\r\n\r\nbody\r\n"
        assert rest == b"QUIT\r\n"

    def test_empty_message(self) -> None:
        assert read_data(b".\r\n")[2] == b""
        assert read_data(b"\r\n.\r\n")[2] == b"\r\n"

    def test_dot_unstuffing(self) -> None:
        data = b"..leading\r\n...\r\nmid.dle\r\n..\r\n.\r\n"
        assert read_data(data)[2] == b".leading\r\n..\r\nmid.dle\r\n.\r\n"

    @pytest.mark.parametrize("step", [1, 2, 3, 5, 7])
    def test_pieces_give_the_same_content(self, step: int) -> None:
        data = b"a\r\n..b\r\n.c\r\n\r\n..\r\n.\r\nNEXT"
        whole = read_data(data)
        pieces = read_data(data, step=step)
        assert (whole[0], whole[2], whole[3]) == (pieces[0], pieces[2], pieces[3])
        assert whole[2] == b"a\r\n.b\r\nc\r\n\r\n.\r\n"

    @pytest.mark.parametrize(
        "fake_end",
        [b"\n.\n", b"\r.\r", b"\n.\r\n", b"\r\n.\n", b"\r.\r\n"],
    )
    def test_only_crlf_dot_crlf_ends_data(self, fake_end: bytes) -> None:
        done, body, _, _ = read_data(b"x" + fake_end + b"MAIL FROM:<evil@x>\r\n.\r\n")
        assert done
        assert body.bare_line_ending

    def test_bare_cr_and_lf_detected(self) -> None:
        assert read_data(b"a\nb\r\n.\r\n")[1].bare_line_ending
        assert read_data(b"a\rb\r\n.\r\n")[1].bare_line_ending
        assert not read_data(b"a\r\nb\r\n.\r\n")[1].bare_line_ending

    def test_size_limit_counts_but_does_not_store(self) -> None:
        done, body, content, rest = read_data(b"x" * 100 + b"\r\n.\r\nQUIT", max_size=50)
        assert done and body.too_big and body.size == 102
        assert content == b""
        assert rest == b"QUIT"

    def test_endless_line_is_sliced_not_buffered(self) -> None:
        wire, body = WireReader(), MessageBody(10**7)
        for _ in range(40):
            wire.feed(b"." + b"q" * 9999)
            assert not wire.read_message_data(body)
            assert wire.buffered <= 70_000
        wire.feed(b"\r\n.\r\n")
        assert wire.read_message_data(body)
        content = body.finish()
        # Only the first "." started a line; the others were mid-line and stay.
        assert content == (b"q" * 9999 + (b"." + b"q" * 9999) * 39 + b"\r\n")

    def test_cr_at_slice_boundary_waits_for_its_lf(self) -> None:
        wire, body = WireReader(), MessageBody(10**6)
        wire.feed(b"w" * 70_000 + b"\r")
        assert not wire.read_message_data(body)
        wire.feed(b"\n.\r\n")
        assert wire.read_message_data(body)
        assert not body.bare_line_ending
        assert body.finish() == b"w" * 70_000 + b"\r\n"


class TestMessageBody:
    @pytest.mark.parametrize(
        ("pieces", "bare"),
        [
            ([b"a\r", b"\nb\r\n"], False),
            ([b"a\r", b"b\r\n"], True),
            ([b"a\r"], True),
            ([b"\r", b"\n", b"\r", b"\n"], False),
            ([b"a", b"\n"], True),
            ([b"\r\r\n"], True),
        ],
    )
    def test_bare_line_endings_across_pieces(self, pieces: list[bytes], bare: bool) -> None:
        body = MessageBody(100)
        for piece in pieces:
            body.append(piece)
        body.finish()
        assert body.bare_line_ending is bare

    def test_binary_body_is_not_checked(self) -> None:
        body = MessageBody(100, check_line_endings=False)
        body.append(b"\n\r\x00")
        assert body.finish() == b"\n\r\x00"
        assert not body.bare_line_ending


def test_read_bytes_takes_at_most_what_is_asked() -> None:
    wire = reader(b"hello\r\n.\r\nQUIT")
    assert wire.read_bytes(3) == b"hel"
    assert wire.read_bytes(100) == b"lo\r\n.\r\nQUIT"
    assert wire.read_bytes(5) == b""
