"""Hypothesis properties of the POP3 machine, its parser and its framing.

(a) arbitrary bytes never raise: only events and responses come out, in every state;
(b) how the bytes are cut into reads never changes the events or the output;
(c) byte-stuffing round-trips byte-exact for arbitrary bodies, and sizes match what is sent.

STLS is not offered here: what it discards depends, by design, on what had already arrived
(tested in tests/unit/pop3).
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from postier.pop3 import responses as r
from postier.pop3.commands import CommandError, parse_command
from postier.pop3.events import (
    ConnectionClosed,
    Event,
    FlushOutput,
    NeedData,
    PasswordLogin,
    ProtocolConfig,
    Retrieve,
    SaslCancelled,
    SaslLogin,
    SaslResponse,
    Update,
)
from postier.pop3.maildrop import Maildrop
from postier.pop3.protocol import Pop3ServerProtocol
from postier.pop3.wire import stuffed_chunks, stuffed_response, top_of, wire_form, wire_size
from postier.types import Uid, UidValidity
from tests.fuzz.budget import examples

CONFIG = ProtocolConfig(tls_active=True, max_errors=12, output_high_water=2048)
BODIES = {Uid(1): b"Subject: a\r\n\r\n.x\r\n", Uid(2): b"b\nc\n..", Uid(5): b""}

TOKENS = [b"USER alice", b"PASS pw", b"PASS bad", b"AUTH PLAIN", b"AUTH PLAIN =",
          b"AUTH LOGIN", b"AUTH", b"*", b"AGFsaWNlAHB3", b"CAPA", b"STAT", b"LIST", b"LIST 2",
          b"UIDL", b"UIDL 1", b"RETR 1", b"RETR 3", b"TOP 2 1", b"DELE 1", b"DELE 2", b"RSET",
          b"NOOP", b"UTF8", b"QUIT", b"STLS", b"\x00", b"\xff", b" ", b"\r\n", b"\n", b"\r",
          b"x" * 300]


def drive(data: bytes, step: int) -> tuple[list[Event], bytes]:
    """Feed ``data`` in pieces of ``step``; answer decisions deterministically."""
    protocol = Pop3ServerProtocol(CONFIG)
    events: list[Event] = []
    out = bytearray()
    pieces = [data[i:i + step] for i in range(0, len(data), step)] + [b""]
    sasl_steps = 0
    for piece in pieces:
        protocol.receive_data(piece)
        while True:
            event = protocol.next_event()
            if isinstance(event, NeedData):
                break
            if isinstance(event, FlushOutput):
                out += protocol.data_to_send()
                continue
            events.append(event)
            match event:
                case ConnectionClosed():
                    break
                case PasswordLogin(password=password):
                    if password == "pw":
                        protocol.login_succeeded(Maildrop(UidValidity(9), [
                            (uid, wire_size(body)) for uid, body in BODIES.items()]))
                    else:
                        protocol.login_failed(r.err("invalid credentials", "AUTH"))
                case SaslLogin() | SaslResponse():
                    sasl_steps += 1
                    if sasl_steps % 3:
                        protocol.send_challenge(b"more")
                    else:
                        protocol.login_failed(r.err("invalid credentials", "AUTH"))
                case SaslCancelled(reason=reason):
                    protocol.login_failed(r.err(reason))
                case Retrieve(message=message):
                    if message.uid == 5:
                        protocol.retrieve_failed(r.err("gone"))
                    else:
                        out += b"".join(protocol.send_message(BODIES[message.uid]))
                case Update():
                    protocol.update_done()
        out += protocol.data_to_send()
        if events and isinstance(events[-1], ConnectionClosed):
            break
    return events, bytes(out)


commands = st.lists(st.sampled_from(TOKENS), max_size=40).map(lambda t: b"\r\n".join(t))


@settings(max_examples=examples(300), deadline=None)
@given(data=st.one_of(st.binary(max_size=1024), commands))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    events, out = drive(data, len(data) or 1)
    assert isinstance(events[-1], ConnectionClosed)
    assert out.startswith(b"+OK Postier POP3 server ready\r\n")


@settings(max_examples=examples(300), deadline=None)
@given(data=st.one_of(st.binary(max_size=512), commands),
       cut=st.integers(min_value=1, max_value=17))
def test_chunking_never_changes_events_or_output(data: bytes, cut: int) -> None:
    assert drive(data, len(data) or 1) == drive(data, cut)


@given(line=st.binary(max_size=300))
def test_parser_parses_or_refuses(line: bytes) -> None:
    try:
        parse_command(line)
    except CommandError as error:
        assert str(error) and "\n" not in str(error)


def unstuff(data: bytes) -> bytes:
    """What a POP3 client does with a multi-line response (RFC 1939 §3)."""
    assert data.endswith(b".\r\n")
    lines = data.split(b"\r\n")
    assert lines[-2:] == [b".", b""]
    body = lines[:-2]
    assert all(line != b"." for line in body)
    return b"".join((line[1:] if line.startswith(b".") else line) + b"\r\n" for line in body)


bodies = st.lists(st.sampled_from([b".", b"..", b"\r\n", b"\n", b"\r", b"a", b" ", b"\x00",
                                   b".\r\n", b"\r\n.\r\n"]), max_size=60).map(b"".join)


@settings(max_examples=examples(500))
@given(body=st.one_of(bodies, st.binary(max_size=300)),
       chunk=st.integers(min_value=1, max_value=40))
def test_stuffing_round_trips_byte_exact(body: bytes, chunk: int) -> None:
    wire = wire_form(body)
    assert len(wire) == wire_size(body)
    stuffed = b"".join(stuffed_chunks(wire, chunk))
    assert stuffed == b"".join(stuffed_chunks(wire))
    assert stuffed_response(b"+OK\r\n", wire) == b"+OK\r\n" + stuffed  # the one-write form
    assert unstuff(stuffed) == wire
    if body.endswith(b"\r\n") and body.count(b"\n") == body.count(b"\r\n"):
        assert wire == body  # a well-formed message is sent exactly as stored


@given(body=bodies, lines=st.integers(min_value=0, max_value=10))
def test_top_is_a_prefix_of_whole_lines(body: bytes, lines: int) -> None:
    wire = wire_form(body)
    top = top_of(wire, lines)
    assert wire.startswith(top)
    assert top == wire or top.endswith(b"\r\n")
