"""The POP3 machine after login, and its limits: bytes in, events and responses out."""

from __future__ import annotations

import pytest

from postier.pop3 import responses as r
from postier.pop3.events import (
    CloseReason,
    ConnectionClosed,
    FlushOutput,
    NeedData,
    PasswordLogin,
    ProtocolConfig,
    Retrieve,
    State,
    Update,
)
from postier.pop3.protocol import LocalProtocolError
from postier.types import Uid
from tests.unit.pop3.machine import Client, maildrop


def test_transaction_commands() -> None:
    client = Client()
    client.login()
    sizes = [len(b"Subject: one\r\n\r\nfirst\r\n.hidden dot\r\n"),
             len(b"Subject: two\r\n\r\nbare LF\r\nlines\r\n"),
             len(b"Subject: three\r\n\r\nno final newline\r\n")]
    total = sum(sizes)
    assert client.send(b"STAT\r\n") == f"+OK 3 {total}\r\n"
    assert client.send(b"LIST\r\n") == (f"+OK 3 messages ({total} octets)\r\n1 {sizes[0]}\r\n"
                                        f"2 {sizes[1]}\r\n3 {sizes[2]}\r\n.\r\n")
    assert client.send(b"LIST 2\r\n") == f"+OK 2 {sizes[1]}\r\n"
    assert client.send(b"UIDL\r\n") == ("+OK unique-id listing follows\r\n"
                                        "1 42.3\r\n2 42.7\r\n3 42.9\r\n.\r\n")
    assert client.send(b"UIDL 3\r\n") == "+OK 3 42.9\r\n"
    assert client.send(b"NOOP\r\n") == "+OK\r\n"
    assert client.send(b"DELE 2\r\n") == "+OK message 2 deleted\r\n"
    assert client.send(b"STAT\r\n") == f"+OK 2 {total - sizes[1]}\r\n"
    assert client.send(b"LIST\r\n").count("\r\n") == 4
    assert client.send(b"LIST 2\r\n") == "-ERR message 2 is already deleted\r\n"
    assert client.send(b"UIDL 2\r\n") == "-ERR message 2 is already deleted\r\n"
    assert client.send(b"RETR 2\r\n") == "-ERR message 2 is already deleted\r\n"
    assert client.send(b"TOP 2 1\r\n") == "-ERR message 2 is already deleted\r\n"
    assert client.send(b"DELE 2\r\n") == "-ERR message 2 is already deleted\r\n"
    assert client.send(b"RSET\r\n") == f"+OK maildrop has 3 messages ({total} octets)\r\n"
    assert client.send(b"LIST 2\r\n") == f"+OK 2 {sizes[1]}\r\n"

@pytest.mark.parametrize("line", [b"LIST 0", b"LIST 4", b"UIDL 4", b"RETR 0", b"RETR 4",
                                  b"TOP 9 1", b"DELE 4", b"DELE 999999999"])
def test_unknown_message_numbers(line: bytes) -> None:
    client = Client()
    client.login()
    assert client.send(line + b"\r\n").startswith("-ERR no such message")

def test_retr_is_byte_stuffed_in_wire_form() -> None:
    client = Client()
    client.login()
    out = client.send(b"RETR 1\r\nRETR 2\r\nRETR 3\r\n")
    wire = ["Subject: one\r\n\r\nfirst\r\n.hidden dot\r\n",
            "Subject: two\r\n\r\nbare LF\r\nlines\r\n",
            "Subject: three\r\n\r\nno final newline\r\n"]
    assert out == (f"+OK {len(wire[0])} octets\r\n" + wire[0].replace("\n.", "\n..") + ".\r\n"
                   f"+OK {len(wire[1])} octets\r\n" + wire[1] + ".\r\n"
                   f"+OK {len(wire[2])} octets\r\n" + wire[2] + ".\r\n")

def test_top() -> None:
    client = Client()
    client.login()
    assert client.send(b"TOP 1 0\r\n") == "+OK top of message follows\r\nSubject: one\r\n\r\n.\r\n"
    assert client.send(b"TOP 1 2\r\n") == ("+OK top of message follows\r\nSubject: one\r\n\r\n"
                                           "first\r\n..hidden dot\r\n.\r\n")

def test_failed_retrieve() -> None:
    client = Client(decide=lambda event: not isinstance(event, Retrieve))
    client.login()
    assert client.send(b"RETR 1\r\nNOOP\r\n") == "-ERR gone\r\n+OK\r\n"

def test_quit_in_transaction_enters_update_with_marks() -> None:
    client = Client()
    client.login()
    client.send(b"RETR 1\r\nRETR 3\r\nDELE 3\r\nDELE 2\r\n")
    out = client.send(b"QUIT\r\n")
    assert out == "+OK Postier POP3 server signing off (1 messages left)\r\n"
    assert client.events[-2] == Update(deleted=(Uid(7), Uid(9)), retrieved=(Uid(3), Uid(9)))
    assert client.events[-1] == ConnectionClosed(CloseReason.QUIT, State.UPDATE)

def test_failed_update_is_reported_and_closes() -> None:
    client = Client(decide=lambda event: not isinstance(event, Update))
    client.login()
    assert client.send(b"DELE 1\r\nQUIT\r\n").endswith("-ERR [SYS/TEMP] no\r\n")
    assert client.state is State.CLOSED

def test_quit_before_login_closes_without_update() -> None:
    client = Client()
    assert client.send(b"QUIT\r\nSTAT\r\n") == r.BYE.to_bytes().decode()
    assert client.events == [ConnectionClosed(CloseReason.QUIT, State.AUTHORIZATION)]

def test_peer_closing_is_reported_once_buffered_commands_ran() -> None:
    client = Client()
    client.protocol.receive_data(b"CAPA\r\n")
    client.protocol.receive_data(b"")
    assert client.send(b"").startswith("+OK capability")
    assert client.events == [ConnectionClosed(CloseReason.PEER_CLOSED, State.AUTHORIZATION)]

def test_peer_closing_during_transaction_is_no_update() -> None:
    client = Client()
    client.login()
    client.send(b"DELE 1\r\n")
    client.protocol.receive_data(b"")
    client.send(b"")
    assert not any(isinstance(event, Update) for event in client.events)
    assert client.events[-1] == ConnectionClosed(CloseReason.PEER_CLOSED, State.TRANSACTION)

def test_pipelined_commands_are_answered_in_order() -> None:
    client = Client()
    out = client.send(b"CAPA\r\nUSER alice\r\nPASS pw\r\nSTAT\r\nUIDL 1\r\nLIST 1\r\nQUIT\r\n")
    statuses = [line for line in out.split("\r\n") if line.startswith(("+OK", "-ERR"))]
    assert [s.split(" ")[1] for s in statuses] == [
        "capability", "send", "maildrop", "3", "1", "1", "Postier"]

def test_over_long_lines_nul_and_garbage_get_errors() -> None:
    client = Client(max_errors=50)
    out = client.send(b"NOOP " + b"x" * 600 + b"\r\nST\x00AT\r\n\xff\xfe\r\n\r\nHELLO\r\nCAPA\r\n")
    statuses = [line for line in out.split("\r\n") if line[:1] in "+-"]
    assert statuses[:5] == ["-ERR line too long",
                            "-ERR control characters are not allowed in commands",
                            "-ERR unknown command", "-ERR unknown command",
                            "-ERR unknown command"]
    assert statuses[5].startswith("+OK capability")

def test_too_many_errors_closes() -> None:
    client = Client(max_errors=3)
    out = client.send(b"FOO\r\nBAR\r\nBAZ\r\nCAPA\r\n")
    assert out.endswith(r.TOO_MANY_ERRORS.to_bytes().decode())
    assert "capability" not in out
    assert client.events == [ConnectionClosed(CloseReason.TOO_MANY_ERRORS, State.AUTHORIZATION)]

def test_flood_of_list_asks_for_flushes() -> None:
    client = Client(output_high_water=1024)
    client.login()
    client.protocol.receive_data(b"LIST\r\n" * 500)
    flushes = 0
    while not isinstance(event := client.protocol.next_event(), NeedData):
        assert isinstance(event, FlushOutput)
        assert len(client.protocol.data_to_send()) < 1024 + 200
        flushes += 1
    assert flushes > 10

def test_decisions_must_be_answered() -> None:
    client = Client()
    client.protocol.receive_data(b"USER a\r\nPASS b\r\n")
    assert isinstance(client.protocol.next_event(), PasswordLogin)
    with pytest.raises(LocalProtocolError):
        client.protocol.next_event()
    with pytest.raises(LocalProtocolError):
        client.protocol.retrieve_failed(r.err("x"))
    with pytest.raises(LocalProtocolError):
        client.protocol.send_challenge(b"")

def test_answers_after_close_are_dropped() -> None:
    client = Client()
    client.protocol.receive_data(b"USER a\r\nPASS b\r\n")
    assert isinstance(client.protocol.next_event(), PasswordLogin)
    client.protocol.close()
    client.protocol.login_succeeded(maildrop())  # the peer is gone: nothing happens
    assert client.protocol.next_event() == ConnectionClosed(CloseReason.SERVER_CLOSED,
                                                            State.AUTHENTICATING)

def test_data_after_close_is_ignored() -> None:
    client = Client()
    client.send(b"QUIT\r\n")
    client.protocol.receive_data(b"STAT\r\n")
    assert client.send(b"") == ""

def test_config_validation() -> None:
    with pytest.raises(ValueError):
        ProtocolConfig(max_line_length=100)
    with pytest.raises(ValueError):
        ProtocolConfig(mechanisms=("plain",))
