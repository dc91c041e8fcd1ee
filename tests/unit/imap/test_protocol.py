"""ImapServerProtocol driven the way a session drives it."""

from __future__ import annotations

import pytest

from postier.imap.commands import Compress, Idle, Login, Noop, Select, StartTls
from postier.imap.protocol import (
    AuthenticateCancelled,
    AuthenticateData,
    AwaitingLiteral,
    Command,
    ConnectionClosed,
    IdleDone,
    ImapServerProtocol,
    Limits,
    LiteralTooBig,
    NeedData,
    ParseFailure,
    Paused,
    ProtocolViolation,
    answer,
)
from postier.imap.responses import (
    BadCharsetCode,
    Bye,
    Continuation,
    SimpleCode,
    Status,
    Tagged,
    Untagged,
    UntaggedStatus,
)


def feed(protocol: ImapServerProtocol, data: bytes) -> list[object]:
    protocol.receive_data(data)
    out: list[object] = []
    while not isinstance(event := protocol.next_event(), NeedData | ConnectionClosed | Paused):
        out.append(event)
    out.append(event)
    return out


def test_commands_and_literals() -> None:
    protocol = ImapServerProtocol()
    assert feed(protocol, b"a1 NOOP\r\na2 LOGIN {5}\r\n") == [
        Command("a1", Noop()),
        AwaitingLiteral(5),
        NeedData(),
    ]
    assert protocol.send(Continuation("ready for literal")) == b"+ ready for literal\r\n"
    assert feed(protocol, b"alice secret\r\n") == [
        Command("a2", Login("alice", "secret")),
        NeedData(),
    ]


def test_parse_failures_and_their_answers() -> None:
    protocol = ImapServerProtocol()
    events = feed(protocol, b"a1 FROB\r\n)(\r\na2 SEARCH CHARSET KLINGON ALL\r\n")
    assert events[:3] == [
        ParseFailure("a1", "unknown command FROB"),
        ParseFailure(None, "missing or invalid tag"),
        ParseFailure("a2", "unsupported charset KLINGON", "BADCHARSET", no=True),
    ]
    assert answer(events[0]) == Tagged("a1", Status.BAD, "unknown command FROB")  # type: ignore[arg-type]
    assert answer(events[1]) == UntaggedStatus(Status.BAD, "missing or invalid tag")  # type: ignore[arg-type]
    assert answer(events[2]) == Tagged(  # type: ignore[arg-type]
        "a2", Status.NO, "unsupported charset KLINGON",
        BadCharsetCode(("US-ASCII", "UTF-8", "ISO-8859-1", "ISO-8859-2", "ISO-8859-15",
                        "WINDOWS-1252", "KOI8-R")),
    )  # fmt: skip


def test_literal_too_big_answers() -> None:
    assert answer(LiteralTooBig("a", 10, synchronizing=True)) == Tagged(
        "a", Status.NO, "literal too large", SimpleCode.TOOBIG
    )
    assert answer(LiteralTooBig(None, 10, synchronizing=False)) == UntaggedStatus(
        Status.BAD, "literal too large", SimpleCode.TOOBIG
    )
    assert answer(ProtocolViolation("line too long")) == Bye("line too long")


def test_too_big_append_is_refused_without_waiting_for_data() -> None:
    protocol = ImapServerProtocol(Limits(max_literal_size=1000))
    assert feed(protocol, b"a APPEND INBOX {1001}\r\n") == [
        LiteralTooBig("a", 1001, synchronizing=True),
        NeedData(),
    ]


def test_idle() -> None:
    protocol = ImapServerProtocol()
    assert feed(protocol, b"a IDLE\r\n") == [Command("a", Idle()), NeedData()]
    protocol.expect_idle_done("a")
    assert feed(protocol, b"done\r\nb NOOP\r\n") == [IdleDone(), Command("b", Noop()), NeedData()]
    protocol.expect_idle_done("c")
    assert feed(protocol, b"c NOOP\r\n") == [ParseFailure("c", "expected DONE"), NeedData()]


def test_sasl_exchange() -> None:
    protocol = ImapServerProtocol()
    protocol.expect_sasl_response("a")
    assert feed(protocol, b"AGFsaWNlAHNlY3JldA==\r\n") == [
        AuthenticateData(b"\x00alice\x00secret"),
        NeedData(),
    ]
    protocol.expect_sasl_response("a")
    assert feed(protocol, b"\r\n") == [AuthenticateData(b""), NeedData()]
    protocol.expect_sasl_response("b")
    assert feed(protocol, b"*\r\n") == [AuthenticateCancelled("b"), NeedData()]
    protocol.expect_sasl_response("c")
    assert feed(protocol, b"not base64!\r\n") == [ParseFailure("c", "invalid base64"), NeedData()]


def test_starttls_pauses_and_drops_pipelined_plaintext() -> None:
    protocol = ImapServerProtocol()
    assert feed(protocol, b"a STARTTLS\r\nb LOGIN alice secret\r\n") == [
        Command("a", StartTls()),
        Paused(),
    ]
    assert protocol.next_event() == Paused()
    assert protocol.start_tls() is True
    assert protocol.next_event() == NeedData()
    assert feed(protocol, b"c NOOP\r\n") == [Command("c", Noop()), NeedData()]


def test_starttls_without_pipelining() -> None:
    protocol = ImapServerProtocol()
    feed(protocol, b"a STARTTLS\r\n")
    assert protocol.start_tls() is False


def test_refused_starttls_resumes_the_same_stream() -> None:
    protocol = ImapServerProtocol()
    assert feed(protocol, b"a STARTTLS\r\nb NOOP\r\n")[-1] == Paused()
    protocol.resume()
    assert feed(protocol, b"") == [Command("b", Noop()), ConnectionClosed()]


def test_compress_hands_back_buffered_bytes() -> None:
    protocol = ImapServerProtocol()
    assert feed(protocol, b"a COMPRESS DEFLATE\r\n\x78\x9c")[:2] == [
        Command("a", Compress("DEFLATE")),
        Paused(),
    ]
    assert protocol.start_compression() == b"\x78\x9c"
    with pytest.raises(RuntimeError):
        protocol.start_tls()


def test_switches_require_the_command() -> None:
    with pytest.raises(RuntimeError):
        ImapServerProtocol().start_tls()


def test_fatal_violation_then_closed() -> None:
    protocol = ImapServerProtocol(Limits(max_line_length=16))
    assert feed(protocol, b"a " + b"x" * 40) == [
        ProtocolViolation("line too long"),
        ConnectionClosed(),
    ]


def test_consecutive_bad_responses_end_in_bye() -> None:
    protocol = ImapServerProtocol(Limits(max_consecutive_bad=3))
    bad = Tagged("a", Status.BAD, "bad")
    protocol.send(bad)
    protocol.send(bad)
    protocol.send(Tagged("a", Status.NO, "no"))  # a well-formed command resets the count
    protocol.send(bad)
    protocol.send(UntaggedStatus(Status.BAD, "bad"))
    assert not protocol.should_close
    assert protocol.send(bad) == b"a BAD bad\r\n* BYE too many invalid commands\r\n"
    assert protocol.should_close
    assert protocol.next_event() == ConnectionClosed()


def test_bye_closes() -> None:
    protocol = ImapServerProtocol()
    assert protocol.send(Bye("logging out")) == b"* BYE logging out\r\n"
    assert protocol.should_close


def test_utf8_switch_changes_quoting() -> None:
    protocol = ImapServerProtocol()
    response = Untagged((3, "Grüße"))
    assert protocol.send(response) == b"* 3 {7}\r\nGr\xc3\xbc\xc3\x9fe\r\n"
    protocol.enable_utf8()
    assert protocol.utf8_enabled
    assert protocol.send(response) == '* 3 "Grüße"\r\n'.encode()
    assert protocol.send_chunks(response) == ['* 3 "Grüße"\r\n'.encode()]


def test_select_round_trip_through_the_machine() -> None:
    protocol = ImapServerProtocol()
    assert feed(protocol, b'A142 SELECT "INBOX" (CONDSTORE)\r\n')[0] == Command(
        "A142", Select("INBOX", condstore=True)
    )
