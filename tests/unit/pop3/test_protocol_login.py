"""The POP3 machine before login: greeting, CAPA, USER/PASS, AUTH, STLS, UTF8, states."""

from __future__ import annotations

import base64

import pytest

from postier.pop3 import responses as r
from postier.pop3.events import (
    NeedData,
    PasswordLogin,
    SaslCancelled,
    SaslLogin,
    SaslResponse,
    State,
    TlsHandshakeRequired,
)
from postier.pop3.protocol import LocalProtocolError
from tests.unit.pop3.machine import Client, maildrop


def test_greeting_has_no_apop_timestamp() -> None:
    client = Client()
    assert client.greeting == "+OK Postier POP3 server ready\r\n"
    assert client.state is State.AUTHORIZATION

def capabilities(text: str) -> list[str]:
    lines = text.split("\r\n")
    assert lines[0].startswith("+OK") and lines[-2:] == [".", ""]
    return lines[1:-2]

def test_capa_under_tls() -> None:
    assert capabilities(Client().send(b"CAPA\r\n")) == [
        "TOP", "UIDL", "USER", "SASL SCRAM-SHA-256 PLAIN LOGIN", "PIPELINING", "RESP-CODES",
        "AUTH-RESP-CODE", "EXPIRE NEVER", "UTF8 USER", "IMPLEMENTATION Postier"]

def test_capa_before_tls_offers_stls_and_no_login() -> None:
    caps = capabilities(Client(tls_active=False, tls_available=True).send(b"CAPA\r\n"))
    assert "STLS" in caps
    assert "USER" not in caps and not any(c.startswith("SASL") for c in caps)

def test_capa_with_plaintext_allowed_and_login_delay() -> None:
    caps = capabilities(Client(tls_active=False, allow_plaintext=True, login_delay=60)
                        .send(b"CAPA\r\n"))
    assert "USER" in caps and "LOGIN-DELAY 60" in caps and "STLS" not in caps

def test_capa_after_login_has_no_login_capabilities() -> None:
    client = Client()
    client.login()
    caps = capabilities(client.send(b"CAPA\r\n"))
    assert caps == ["TOP", "UIDL", "PIPELINING", "RESP-CODES", "AUTH-RESP-CODE", "EXPIRE NEVER",
                    "UTF8", "IMPLEMENTATION Postier"]

TRANSACTION_COMMANDS = [b"STAT", b"LIST", b"LIST 1", b"RETR 1", b"TOP 1 0", b"DELE 1", b"NOOP",
                        b"RSET", b"UIDL", b"UIDL 1"]

AUTHORIZATION_COMMANDS = [b"USER a", b"PASS b", b"AUTH", b"AUTH PLAIN", b"STLS", b"UTF8"]

@pytest.mark.parametrize("line", TRANSACTION_COMMANDS)
def test_transaction_commands_before_login(line: bytes) -> None:
    client = Client()
    assert client.send(line + b"\r\n") == r.NOT_IN_TRANSACTION.to_bytes().decode()
    assert client.state is State.AUTHORIZATION

@pytest.mark.parametrize("line", AUTHORIZATION_COMMANDS)
def test_authorization_commands_after_login(line: bytes) -> None:
    client = Client(tls_active=False, tls_available=True, allow_plaintext=True)
    client.login()
    assert client.send(line + b"\r\n") == r.NOT_IN_AUTHORIZATION.to_bytes().decode()
    assert client.state is State.TRANSACTION

@pytest.mark.parametrize("line", [b"USER a", b"PASS b", b"AUTH", b"AUTH PLAIN"])
def test_no_passwords_before_tls(line: bytes) -> None:
    client = Client(tls_active=False, tls_available=True)
    out = client.send(line + b"\r\n")
    assert out.startswith("-ERR [AUTH]") and "STLS" in out
    assert client.events == []

def test_pass_must_follow_user_at_once() -> None:
    client = Client()
    assert client.send(b"PASS pw\r\n") == r.NEED_USER.to_bytes().decode()
    assert client.send(b"USER a\r\nNOOP\r\nPASS pw\r\n").endswith(
        r.NEED_USER.to_bytes().decode())
    assert client.send(b"USER a\r\nFOO\r\nPASS pw\r\n").endswith(r.NEED_USER.to_bytes().decode())

def test_failed_login_returns_to_authorization() -> None:
    client = Client(decide=lambda event: not isinstance(event, PasswordLogin))
    out = client.send(b"USER alice\r\nPASS wrong\r\n")
    assert out.endswith("-ERR [AUTH] invalid credentials\r\n")
    assert client.state is State.AUTHORIZATION
    assert client.events == [PasswordLogin("alice", "wrong")]

def test_stls_discards_pipelined_plaintext() -> None:
    client = Client(tls_active=False, tls_available=True)
    assert client.send(b"STLS\r\nUSER mallory\r\nPASS x\r\n") == "+OK Begin TLS negotiation\r\n"
    assert client.events == [TlsHandshakeRequired()]
    assert client.state is State.TLS_PENDING
    assert client.protocol.tls_started() == len(b"USER mallory\r\nPASS x\r\n")
    assert client.state is State.AUTHORIZATION and client.protocol.tls_active
    assert "USER" in capabilities(client.send(b"CAPA\r\n"))
    assert client.send(b"STLS\r\n") == r.ALREADY_TLS.to_bytes().decode()

def test_stls_forgets_user_and_utf8() -> None:
    client = Client(tls_active=False, tls_available=True, allow_plaintext=True)
    client.send(b"UTF8\r\n")
    assert client.protocol.utf8
    client.send(b"USER alice\r\nSTLS\r\n")
    client.protocol.tls_started()
    assert not client.protocol.utf8
    assert client.send(b"PASS pw\r\n") == r.NEED_USER.to_bytes().decode()

def test_stls_without_certificate() -> None:
    client = Client(tls_active=False)
    assert client.send(b"STLS\r\n") == r.STLS_NOT_AVAILABLE.to_bytes().decode()
    with pytest.raises(LocalProtocolError):
        client.protocol.tls_started()

def test_utf8_command() -> None:
    client = Client()
    assert client.send(b"UTF8\r\n") == "+OK UTF-8 mode enabled\r\n"
    assert client.protocol.utf8

def test_auth_lists_mechanisms() -> None:
    assert Client().send(b"AUTH\r\n") == ("+OK SASL mechanisms follow\r\n"
                                          "SCRAM-SHA-256\r\nPLAIN\r\nLOGIN\r\n.\r\n")

def test_auth_unknown_mechanism() -> None:
    client = Client()
    assert client.send(b"AUTH CRAM-MD5\r\n") == "-ERR unsupported mechanism CRAM-MD5\r\n"
    assert client.events == []

def test_sasl_exchange() -> None:
    client = Client()
    assert client.send(b"AUTH PLAIN\r\n") == ""
    assert client.events == [SaslLogin("PLAIN", None)]
    protocol = client.protocol
    protocol.send_challenge(b"")
    assert protocol.data_to_send() == b"+ \r\n"
    protocol.receive_data(base64.b64encode(b"\x00alice\x00pw") + b"\r\n")
    assert protocol.next_event() == SaslResponse(b"\x00alice\x00pw")
    protocol.send_challenge(b"v=final")
    assert protocol.data_to_send() == b"+ " + base64.b64encode(b"v=final") + b"\r\n"
    protocol.receive_data(b"\r\n")
    assert protocol.next_event() == SaslResponse(b"")
    protocol.login_succeeded(maildrop())
    assert protocol.next_event() == NeedData()
    assert protocol.data_to_send().startswith(b"+OK maildrop has 3 messages")

def test_sasl_initial_response_and_failure() -> None:
    client = Client()
    client.send(b"AUTH PLAIN " + base64.b64encode(b"\x00alice\x00pw") + b"\r\n")
    assert client.events == [SaslLogin("PLAIN", b"\x00alice\x00pw")]
    client.protocol.login_failed(r.err("invalid credentials", "AUTH"))
    assert client.send(b"") == "-ERR [AUTH] invalid credentials\r\n"
    assert client.state is State.AUTHORIZATION

@pytest.mark.parametrize(("answer", "reason"), [
    (b"*\r\n", "authentication cancelled"),
    (b"not base64!\r\n", "malformed base64 in authentication response"),
    (b"A" * 20000 + b"\r\n", "authentication response too long"),
])
def test_sasl_cancelled(answer: bytes, reason: str) -> None:
    client = Client()
    client.send(b"AUTH LOGIN\r\n")
    client.protocol.send_challenge(b"Username:")
    client.protocol.data_to_send()
    client.protocol.receive_data(answer)
    assert client.protocol.next_event() == SaslCancelled(reason)

def test_auth_line_may_be_longer_than_a_command() -> None:
    initial = base64.b64encode(b"\x00" + b"u" * 300 + b"\x00" + b"p" * 300)
    client = Client()
    client.send(b"AUTH PLAIN " + initial + b"\r\n")
    assert isinstance(client.events[0], SaslLogin)

def test_failed_logins_count_as_errors() -> None:
    client = Client(decide=lambda event: False, max_errors=2)
    out = client.send(b"USER a\r\nPASS x\r\nUSER a\r\nPASS y\r\n")
    assert out.endswith(r.TOO_MANY_ERRORS.to_bytes().decode())
    assert client.state is State.CLOSED
