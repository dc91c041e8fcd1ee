"""Reading a remote server's replies and EHLO extensions (smtp/client_replies.py)."""

from __future__ import annotations

import pytest

from postier.smtp.client_replies import (
    MAX_LINE,
    Extensions,
    RemoteProtocolError,
    RemoteReply,
    ReplyReader,
)


def read_all(data: bytes) -> list[RemoteReply]:
    reader = ReplyReader()
    reader.feed(data)
    replies = []
    while (reply := reader.next_reply()) is not None:
        replies.append(reply)
    return replies


def test_single_and_multiline_replies() -> None:
    replies = read_all(b"220 mx ready\r\n250-mx\r\n250-SIZE 100\r\n250 PIPELINING\r\n250\n")
    assert [(r.code, r.lines) for r in replies] == [
        (220, ("mx ready",)), (250, ("mx", "SIZE 100", "PIPELINING")), (250, ("",))]


def test_enhanced_status_and_class() -> None:
    reply = RemoteReply(550, ("5.1.1 no such user",))
    assert (reply.enhanced, reply.status, reply.is_permanent) == ("5.1.1", "5.1.1", True)
    assert str(reply) == "550 5.1.1 no such user"
    mismatched = RemoteReply(451, ("5.1.1 odd",))
    assert mismatched.enhanced is None and mismatched.status == "4.0.0"


def test_incomplete_reply_waits() -> None:
    reader = ReplyReader()
    reader.feed(b"250-first\r\n250 sec")
    assert reader.next_reply() is None
    reader.feed(b"ond\r\n")
    assert reader.next_reply() == RemoteReply(250, ("first", "second"))


@pytest.mark.parametrize("data", [b"hello\r\n", b"25 x\r\n", b"250-a\r\n251 b\r\n",
                                  b"250x\r\n", b"650 no\r\n", b"2" * (MAX_LINE + 10)])
def test_garbage_is_a_remote_protocol_error(data: bytes) -> None:
    with pytest.raises(RemoteProtocolError):
        read_all(data)


def test_text_is_made_printable() -> None:
    (reply,) = read_all(b"550 bad \xff\x01 bytes\r\n")
    assert reply.lines == ("bad \ufffd bytes",)


def test_extensions() -> None:
    (reply,) = read_all(b"250-mx greets you\r\n250-size 1000\r\n250-AUTH PLAIN LOGIN\r\n"
                        b"250 8BITMIME\r\n")
    extensions = Extensions.parse(reply)
    assert "SIZE" in extensions and "8bitmime" in extensions
    assert extensions.size_limit == 1000
    assert extensions.auth_mechanisms == {"PLAIN", "LOGIN"}
    assert Extensions.parse(RemoteReply(250, ("mx", "SIZE"))).size_limit is None
