"""The SMTP server machine as conversations: bytes in, events and reply bytes out."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from typing import Any, ClassVar

import pytest

from postier.smtp import replies
from postier.smtp.commands import Auth, Bdat, Ehlo, Helo, MailFrom, RcptTo, StartTls
from postier.smtp.protocol import (
    AuthResponse,
    ClientConnected,
    CloseReason,
    ConnectionClosed,
    Decision,
    Event,
    LocalProtocolError,
    MessageReceived,
    NeedData,
    ProtocolConfig,
    SmtpServerProtocol,
    State,
    TlsHandshakeRequired,
)
from postier.smtp.replies import Reply

HOST = "mx.example.org"
Decide = Callable[[Decision], Reply | None]


class Client:
    """Drives the machine like a session would; ``decide`` returns None to accept."""

    def __init__(self, decide: Decide | None = None, **config: Any) -> None:
        self.protocol = SmtpServerProtocol(ProtocolConfig(HOST, **config))
        self.decide: Decide = decide or (lambda event: None)
        self.events: list[Event] = []
        self.greeting = self.send(b"")

    def send(self, data: bytes) -> str:
        if data:
            self.protocol.receive_data(data)
        while True:
            event = self.protocol.next_event()
            if not isinstance(event, NeedData):
                self.events.append(event)
            if isinstance(event, NeedData | TlsHandshakeRequired | ConnectionClosed):
                return self.protocol.data_to_send().decode()
            reply = self.decide(event)
            if reply is None:
                self.protocol.accept()
            else:
                self.protocol.send(reply)

    def close(self) -> str:
        self.protocol.receive_data(b"")
        return self.send(b"")

    def messages(self) -> list[MessageReceived]:
        return [e for e in self.events if isinstance(e, MessageReceived)]


def codes(text: str) -> list[str]:
    """Code (and enhanced code) of each complete reply: ["250 2.1.0", "354", ...]."""
    found = []
    for line in text.split("\r\n"):
        if len(line) >= 3 and line[3:4] in (" ", ""):
            match = re.match(r"(\d{3}) ([245]\.\d+\.\d+) ", line)
            found.append(f"{match[1]} {match[2]}" if match else line[:3])
    return found


def greeted(**config: Any) -> Client:
    client = Client(**config)
    client.send(b"EHLO client.example\r\n")
    return client


def ehlo_keywords(client: Client) -> list[str]:
    text = client.send(b"EHLO client.example\r\n")
    return [line[4:] for line in text.split("\r\n")[1:] if line]


MAIL_TRANSACTION = b"MAIL FROM:<a@x.example>\r\nRCPT TO:<b@y.example>\r\n"


class TestConversation:
    def test_full_conversation(self) -> None:
        client = Client()
        assert client.greeting == f"220 {HOST} ESMTP ready\r\n"
        ehlo = client.send(b"EHLO client.example\r\n")
        assert ehlo.startswith(f"250-{HOST}\r\n250-PIPELINING\r\n")
        assert ehlo.endswith("250 BINARYMIME\r\n")
        assert client.send(b"MAIL FROM:<alice@client.example>\r\n") == "250 2.1.0 Sender OK\r\n"
        assert client.send(b"RCPT TO:<bob@mx.example.org>\r\n") == "250 2.1.5 Recipient OK\r\n"
        assert client.send(b"DATA\r\n") == "354 End data with <CR><LF>.<CR><LF>\r\n"
        assert client.protocol.state is State.DATA
        assert client.send(b"Subject: hi\r\n\r\nHello.\r\n.\r\n") == "250 2.0.0 OK\r\n"
        assert client.send(b"QUIT\r\n") == f"221 2.0.0 {HOST} closing connection\r\n"
        [message] = client.messages()
        assert message.data == b"Subject: hi\r\n\r\nHello.\r\n"
        envelope = message.envelope
        assert envelope.helo == "client.example" and envelope.esmtp
        assert envelope.mail_from == MailFrom("alice@client.example")
        assert envelope.recipients == (RcptTo("bob@mx.example.org"),)
        assert not (envelope.tls or envelope.authenticated or envelope.chunked)
        assert client.events[0] == ClientConnected()
        assert client.events[-1] == ConnectionClosed(CloseReason.QUIT, State.READY)

    def test_session_decides_with_its_own_replies(self) -> None:
        def decide(event: Decision) -> Reply | None:
            if isinstance(event, RcptTo) and event.address.startswith("nobody"):
                return replies.NO_SUCH_USER
            if isinstance(event, MessageReceived):
                return replies.queued("Q123")
            return None

        client = Client(decide)
        client.send(b"HELO old.example\r\n")
        text = client.send(
            b"MAIL FROM:<a@x.example>\r\nRCPT TO:<nobody@y.example>\r\n"
            b"RCPT TO:<b@y.example>\r\nDATA\r\n"
        )
        assert codes(text) == ["250 2.1.0", "550 5.1.1", "250 2.1.5", "354"]
        assert client.send(b"x\r\n.\r\n") == "250 2.0.0 OK queued as Q123\r\n"
        assert client.messages()[0].envelope.recipients == (RcptTo("b@y.example"),)
        assert not client.messages()[0].envelope.esmtp

    def test_pipelined_commands_answered_in_order_in_one_batch(self) -> None:
        client = Client()
        text = client.send(
            b"EHLO c.example\r\nMAIL FROM:<a@x.example>\r\nRCPT TO:<b@y.example>\r\n"
            b"RCPT TO:<c@y.example>\r\nNOOP\r\nDATA\r\n"
        )
        assert codes(text)[1:] == ["250 2.1.0", "250 2.1.5", "250 2.1.5", "250 2.0.0", "354"]
        kinds = [type(e) for e in client.events]
        assert kinds == [ClientConnected, Ehlo, MailFrom, RcptTo, RcptTo]
        # The body and the next transaction can arrive in the same read as well.
        text = client.send(b"body\r\n.\r\nRSET\r\nMAIL FROM:<>\r\nQUIT\r\n")
        assert codes(text) == ["250 2.0.0", "250 2.0.0", "250 2.1.0", "221 2.0.0"]

    def test_rset_ends_the_transaction(self) -> None:
        client = greeted()
        client.send(MAIL_TRANSACTION)
        assert client.send(b"RSET\r\n") == "250 2.0.0 Reset OK\r\n"
        assert codes(client.send(b"DATA\r\n")) == ["503 5.5.1"]

    def test_ehlo_again_resets_the_transaction(self) -> None:
        client = greeted()
        client.send(MAIL_TRANSACTION)
        client.send(b"EHLO again.example\r\n")
        assert client.protocol.state is State.READY
        assert client.protocol.helo_domain == "again.example"

    def test_machine_answers_simple_commands(self) -> None:
        client = Client()
        text = client.send(b"NOOP\r\nHELP\r\nVRFY bob\r\nEXPN staff\r\nRSET\r\n")
        assert codes(text) == ["250 2.0.0", "214 2.0.0", "252 2.0.0", "502 5.5.1", "250 2.0.0"]
        assert client.events == [ClientConnected()]

    def test_eof_mid_message(self) -> None:
        client = greeted()
        client.send(MAIL_TRANSACTION + b"DATA\r\npartial")
        client.close()
        assert client.events[-1] == ConnectionClosed(CloseReason.PEER_CLOSED, State.DATA)

    def test_commands_before_eof_are_still_processed(self) -> None:
        client = Client()
        client.protocol.receive_data(b"EHLO a.example\r\nNOOP\r\n")
        assert codes(client.close()) == ["250", "250 2.0.0"]


class TestSequence:
    @pytest.mark.parametrize(
        "command", [b"MAIL FROM:<a@b.example>", b"RCPT TO:<a@b.example>", b"DATA", b"AUTH PLAIN",
                    b"STARTTLS"],
    )
    def test_helo_first(self, command: bytes) -> None:
        assert codes(Client().send(command + b"\r\n")) == ["503 5.5.1"]

    def test_rcpt_needs_mail_and_data_needs_rcpt(self) -> None:
        client = greeted()
        assert codes(client.send(b"RCPT TO:<b@y.example>\r\nDATA\r\n")) == ["503 5.5.1"] * 2

    def test_data_after_rejected_recipients(self) -> None:
        client = greeted(decide=lambda e: replies.NO_SUCH_USER if isinstance(e, RcptTo) else None)
        text = client.send(MAIL_TRANSACTION + b"DATA\r\n")
        assert codes(text) == ["250 2.1.0", "550 5.1.1", "554 5.5.1"]

    def test_nested_mail(self) -> None:
        client = greeted()
        assert codes(client.send(MAIL_TRANSACTION + b"MAIL FROM:<c@x.example>\r\n"))[-1] == (
            "503 5.5.1"
        )

    def test_too_many_recipients(self) -> None:
        client = greeted(max_recipients=2)
        text = client.send(b"MAIL FROM:<a@x.example>\r\n" + b"RCPT TO:<b@y.example>\r\n" * 3)
        assert codes(text) == ["250 2.1.0", "250 2.1.5", "250 2.1.5", "452 4.5.3"]

    def test_refused_greeting_allows_only_quit(self) -> None:
        client = Client(lambda e: replies.refused(HOST) if isinstance(e, ClientConnected) else None)
        assert codes(client.greeting) == ["554 5.7.1"]
        assert codes(client.send(b"EHLO a.example\r\nNOOP\r\n")) == ["503 5.5.1"] * 2
        assert codes(client.send(b"QUIT\r\n")) == ["221 2.0.0"]

    def test_421_greeting_closes(self) -> None:
        client = Client(lambda e: replies.shutting_down(HOST))
        assert codes(client.greeting) == ["421 4.3.2"]
        assert client.events[-1] == ConnectionClosed(CloseReason.SERVER_CLOSED, State.CONNECTED)


class TestErrors:
    def test_unknown_command_and_nul(self) -> None:
        client = greeted()
        assert codes(client.send(b"FOO\r\nNO\x00OP\r\n")) == ["500 5.5.2"] * 2

    def test_over_long_line_then_recovery(self) -> None:
        client = greeted()
        text = client.send(b"NOOP " + b"x" * 2000 + b"\r\nNOOP\r\n")
        assert text == "500 5.5.6 Line too long\r\n250 2.0.0 OK\r\n"

    def test_configurable_line_limit(self) -> None:
        client = greeted(max_line_length=512)
        assert codes(client.send(b"NOOP " + b"x" * 600 + b"\r\n")) == ["500 5.5.6"]

    def test_too_many_errors_closes_with_421(self) -> None:
        client = greeted(max_errors=3)
        text = client.send(b"FOO\r\nBAR\r\nBAZ\r\nNOOP\r\n")
        assert codes(text) == ["500 5.5.2"] * 3 + ["421 4.7.0"]
        assert client.events[-1] == ConnectionClosed(CloseReason.TOO_MANY_ERRORS, State.READY)
        client.protocol.receive_data(b"NOOP\r\n")  # ignored once closed
        assert client.send(b"") == ""

    def test_session_rejections_count_but_4xx_do_not(self) -> None:
        def decide(event: Decision) -> Reply | None:
            if isinstance(event, RcptTo):
                return replies.NO_SUCH_USER if "bad" in event.address else Reply(
                    450, "4.2.0", "Greylisted"
                )
            return None

        client = greeted(decide=decide, max_errors=2)
        client.send(b"MAIL FROM:<a@x.example>\r\n")
        text = client.send(b"RCPT TO:<g@y.example>\r\n" * 5 + b"RCPT TO:<bad@y.example>\r\n" * 2)
        assert codes(text) == ["450 4.2.0"] * 5 + ["550 5.1.1"] * 2 + ["421 4.7.0"]

    def test_session_421_closes(self) -> None:
        client = greeted(
            decide=lambda e: Reply(421, "4.3.0", "Try later") if isinstance(e, MailFrom) else None
        )
        assert codes(client.send(b"MAIL FROM:<a@x.example>\r\nNOOP\r\n")) == ["421 4.3.0"]
        assert client.protocol.state is State.CLOSED

    def test_session_close_with_timeout(self) -> None:
        client = greeted()
        client.protocol.close(replies.timeout(HOST))
        assert codes(client.send(b"")) == ["421 4.4.2"]
        assert client.events[-1] == ConnectionClosed(CloseReason.SERVER_CLOSED, State.READY)


class TestPaths:
    @pytest.mark.parametrize(
        ("line", "address", "routed"),
        [
            (b"MAIL FROM:<>", "", False),
            (b"MAIL FROM: <a@x.example>", "a@x.example", False),
            (b'MAIL FROM:<"john doe"@x.example>', '"john doe"@x.example', False),
            (b"MAIL FROM:<@hop.example:a@x.example>", "a@x.example", True),
        ],
    )
    def test_reverse_path_forms(self, line: bytes, address: str, routed: bool) -> None:
        client = greeted()
        assert codes(client.send(line + b"\r\n")) == ["250 2.1.0"]
        assert client.events[-1] == MailFrom(address, {}, had_source_route=routed)

    def test_recipient_forms(self) -> None:
        client = greeted()
        client.send(b"MAIL FROM:<>\r\n")
        text = client.send(
            b'RCPT TO:<"user@remote"@mx.example.org>\r\nRCPT TO:<@a,@b:c@[192.0.2.7]>\r\n'
            b"RCPT TO:<postmaster>\r\nRCPT TO:<b@[IPv6:2001:db8::7]>\r\n"
        )
        assert codes(text) == ["250 2.1.5"] * 4
        assert [e for e in client.events if isinstance(e, RcptTo)] == [
            RcptTo('"user@remote"@mx.example.org'),
            RcptTo("c@[192.0.2.7]", had_source_route=True),
            RcptTo("postmaster"),
            RcptTo("b@[IPv6:2001:db8::7]"),
        ]

    def test_path_syntax_errors(self) -> None:
        client = greeted()
        assert codes(client.send(b"MAIL FROM:a@x.example\r\n")) == ["501 5.1.7"]
        client.send(b"MAIL FROM:<a@x.example>\r\n")
        assert codes(client.send(b"RCPT TO:<b@@y>\r\n")) == ["501 5.1.3"]

    def test_smtputf8(self) -> None:
        client = greeted()
        assert codes(client.send("MAIL FROM:<ä@x.example>\r\n".encode())) == ["553 5.6.7"]
        text = client.send("MAIL FROM:<ä@x.example> SMTPUTF8\r\nRCPT TO:<ö@ü.example>\r\n".encode())
        assert codes(text) == ["250 2.1.0", "250 2.1.5"]
        client.send(b"RSET\r\nMAIL FROM:<a@x.example>\r\n")
        assert codes(client.send("RCPT TO:<ö@ü.example>\r\n".encode())) == ["553 5.6.7"]

    def test_smtputf8_not_offered(self) -> None:
        client = greeted(smtputf8=False)
        assert "SMTPUTF8" not in ehlo_keywords(client)
        assert codes(client.send(b"MAIL FROM:<a@x.example> SMTPUTF8\r\n")) == ["555 5.5.4"]


class TestParameters:
    def test_unknown_parameter(self) -> None:
        client = greeted()
        assert codes(client.send(b"MAIL FROM:<a@x.example> FOO=1\r\n")) == ["555 5.5.4"]

    def test_bad_parameter_value(self) -> None:
        client = greeted()
        assert codes(client.send(b"MAIL FROM:<a@x.example> SIZE=big\r\n")) == ["501 5.5.4"]

    def test_no_extensions_after_helo(self) -> None:
        client = Client()
        client.send(b"HELO old.example\r\n")
        assert codes(client.send(b"MAIL FROM:<a@x.example> SIZE=10\r\n")) == ["555 5.5.4"]

    def test_dsn_parameters_only_when_offered(self) -> None:
        line = b"MAIL FROM:<a@x.example> RET=FULL ENVID=abc\r\n"
        assert codes(greeted().send(line)) == ["555 5.5.4"]
        client = greeted(dsn=True)
        assert codes(client.send(line)) == ["250 2.1.0"]
        text = client.send(b"RCPT TO:<b@y.example> NOTIFY=FAILURE ORCPT=rfc822;b@y.example\r\n")
        assert codes(text) == ["250 2.1.5"]

    def test_size_parameter_over_limit(self) -> None:
        client = greeted(max_message_size=1000)
        assert "SIZE 1000" in ehlo_keywords(client)
        assert client.send(b"MAIL FROM:<a@x.example> SIZE=1001\r\n") == (
            "552 5.3.4 Message size exceeds fixed maximum message size\r\n"
        )
        assert codes(client.send(b"MAIL FROM:<a@x.example> SIZE=1000\r\n")) == ["250 2.1.0"]


class TestData:
    def test_dot_unstuffing(self) -> None:
        client = greeted()
        client.send(MAIL_TRANSACTION + b"DATA\r\n")
        client.send(b"..hidden\r\n.\r\n")
        assert client.messages()[0].data == b".hidden\r\n"

    @pytest.mark.parametrize("body", [b"a\nb\r\n", b"a\rb\r\n", b"x\n.\nMAIL FROM:<evil@x>\r\n"])
    def test_bare_cr_or_lf_rejects_the_message(self, body: bytes) -> None:
        client = greeted()
        client.send(MAIL_TRANSACTION + b"DATA\r\n")
        assert client.send(body + b".\r\n") == "550 5.6.11 Message contains bare CR or bare LF\r\n"
        assert client.messages() == []
        assert client.protocol.state is State.READY

    def test_smuggled_commands_are_never_executed(self) -> None:
        client = greeted()
        client.send(MAIL_TRANSACTION + b"DATA\r\n")
        text = client.send(b"x\r\n\n.\r\nMAIL FROM:<evil@x.example>\r\nRCPT TO:<v@y>\r\n")
        assert text == ""  # all of it is still message content
        assert codes(client.send(b".\r\n")) == ["550 5.6.11"]
        assert not [e for e in client.events if isinstance(e, MailFrom) and "evil" in e.address]

    def test_oversized_message_is_read_then_refused(self) -> None:
        client = greeted(max_message_size=100)
        client.send(MAIL_TRANSACTION + b"DATA\r\n")
        assert client.send(b"y" * 500 + b"\r\n") == ""
        assert codes(client.send(b".\r\nNOOP\r\n")) == ["552 5.3.4", "250 2.0.0"]
        assert client.messages() == []

    def test_binarymime_refuses_data(self) -> None:
        client = greeted()
        client.send(b"MAIL FROM:<a@x.example> BODY=BINARYMIME\r\nRCPT TO:<b@y.example>\r\n")
        assert codes(client.send(b"DATA\r\n")) == ["503 5.5.1"]


class TestBdat:
    def test_chunks(self) -> None:
        client = greeted()
        client.send(MAIL_TRANSACTION)
        text = client.send(b"BDAT 5\r\nhelloBDAT 8 LAST\r\n\r\n.\r\nX\r\n")
        assert text == "250 2.0.0 5 octets received\r\n250 2.0.0 OK\r\n"
        [message] = client.messages()
        assert message.data == b"hello\r\n.\r\nX\r\n"  # no unstuffing, no end marker
        assert message.envelope.chunked

    def test_bdat_zero_last(self) -> None:
        client = greeted()
        client.send(MAIL_TRANSACTION)
        assert codes(client.send(b"BDAT 4\r\nab\r\n")) == ["250 2.0.0"]
        assert codes(client.send(b"BDAT 0 LAST\r\n")) == ["250 2.0.0"]
        assert client.messages()[0].data == b"ab\r\n"

    def test_chunk_split_across_reads(self) -> None:
        client = greeted()
        client.send(MAIL_TRANSACTION + b"BDAT 10 LAST\r\n0123")
        assert client.protocol.state is State.BDAT
        assert codes(client.send(b"456789QUIT\r\n")) == ["250 2.0.0", "221 2.0.0"]
        assert client.messages()[0].data == b"0123456789"

    def test_chunk_before_helo_is_consumed(self) -> None:
        client = Client()
        assert codes(client.send(b"BDAT 6 LAST\r\nQUIT\r\nNOOP\r\n")) == ["503 5.5.1", "250 2.0.0"]

    def test_refused_chunk_is_still_consumed(self) -> None:
        client = greeted()
        text = client.send(b"BDAT 6\r\nQUIT\r\nNOOP\r\n")
        assert codes(text) == ["503 5.5.1", "250 2.0.0"]
        assert client.protocol.state is State.READY

    def test_oversized_chunk_ends_the_transaction(self) -> None:
        client = greeted(max_message_size=10)
        client.send(MAIL_TRANSACTION)
        text = client.send(b"BDAT 8\r\n12345678BDAT 8 LAST\r\n12345678")
        assert codes(text) == ["250 2.0.0", "552 5.3.4"]
        assert codes(client.send(b"BDAT 1 LAST\r\nz")) == ["503 5.5.1"]

    def test_data_and_bdat_do_not_mix(self) -> None:
        client = greeted()
        client.send(MAIL_TRANSACTION + b"BDAT 1\r\nx")
        assert codes(client.send(b"DATA\r\n")) == ["503 5.5.1"]
        assert codes(client.send(b"RCPT TO:<late@y.example>\r\n")) == ["503 5.5.1"]

    def test_bare_lf_refused_unless_binarymime(self) -> None:
        client = greeted()
        client.send(MAIL_TRANSACTION)
        assert codes(client.send(b"BDAT 3 LAST\r\na\nb")) == ["550 5.6.11"]
        client.send(b"MAIL FROM:<a@x.example> BODY=BINARYMIME\r\nRCPT TO:<b@y.example>\r\n")
        assert codes(client.send(b"BDAT 3 LAST\r\na\nb")) == ["250 2.0.0"]
        assert client.messages()[0].data == b"a\nb"

    def test_not_offered_without_chunking(self) -> None:
        client = greeted(chunking=False)
        assert "CHUNKING" not in ehlo_keywords(client)
        client.send(MAIL_TRANSACTION)
        assert codes(client.send(b"BDAT 4 LAST\r\nQUIT")) == ["502 5.5.1"]
        assert client.protocol.state is State.RCPT


class TestStartTls:
    def test_pipelined_plaintext_is_discarded(self) -> None:
        client = greeted(tls_available=True, auth_mechanisms=("PLAIN",))
        text = client.send(b"STARTTLS\r\nMAIL FROM:<evil@x.example>\r\n")
        assert text == "220 2.0.0 Ready to start TLS\r\n"
        assert client.events[-1] == TlsHandshakeRequired()
        assert client.protocol.next_event() == TlsHandshakeRequired()
        assert client.protocol.tls_started() == len(b"MAIL FROM:<evil@x.example>\r\n")
        assert client.protocol.state is State.NEED_HELO
        assert not [e for e in client.events if isinstance(e, MailFrom)]
        assert codes(client.send(b"MAIL FROM:<a@x.example>\r\n")) == ["503 5.5.1"]
        keywords = ehlo_keywords(client)
        assert "STARTTLS" not in keywords and "AUTH PLAIN" in keywords
        assert codes(client.send(b"STARTTLS\r\n")) == ["503 5.5.1"]

    def test_clean_switch(self) -> None:
        client = greeted(tls_available=True)
        client.send(b"STARTTLS\r\n")
        assert client.protocol.tls_started() == 0
        client.send(b"EHLO client.example\r\n" + MAIL_TRANSACTION + b"DATA\r\nx\r\n.\r\n")
        assert client.messages()[0].envelope.tls

    def test_offer_rules(self) -> None:
        assert "STARTTLS" not in ehlo_keywords(greeted())
        assert "STARTTLS" not in ehlo_keywords(greeted(tls_available=True, tls_active=True))
        assert codes(greeted().send(b"STARTTLS\r\n")) == ["502 5.5.1"]
        client = greeted(tls_available=True)
        client.send(MAIL_TRANSACTION)
        assert codes(client.send(b"STARTTLS\r\n")) == ["503 5.5.1"]

    def test_session_may_decline(self) -> None:
        client = greeted(
            tls_available=True,
            decide=lambda e: replies.TLS_NOT_AVAILABLE if isinstance(e, StartTls) else None,
        )
        assert codes(client.send(b"STARTTLS\r\nNOOP\r\n")) == ["454 4.7.0", "250 2.0.0"]

    def test_require_tls(self) -> None:
        client = greeted(tls_available=True, require_tls=True)
        assert codes(client.send(b"MAIL FROM:<a@x.example>\r\n")) == ["530 5.7.0"]


def b64(data: bytes) -> bytes:
    return base64.b64encode(data)


class TestAuth:
    CONFIG: ClassVar[dict[str, Any]] = {"tls_active": True, "auth_mechanisms": ("PLAIN", "LOGIN")}

    @staticmethod
    def login(event: Decision) -> Reply | None:
        """LOGIN-like: ask twice, succeed if the password is "secret"."""
        if isinstance(event, Auth):
            return replies.auth_challenge(b"Username:")
        if isinstance(event, AuthResponse):
            if event.data == b"user":
                return replies.auth_challenge(b"Password:")
            return None if event.data == b"secret" else replies.AUTH_FAILED
        return None

    def test_exchange(self) -> None:
        client = greeted(decide=self.login, **self.CONFIG)
        assert client.send(b"AUTH LOGIN\r\n") == "334 VXNlcm5hbWU6\r\n"
        assert client.protocol.state is State.AUTH
        assert client.send(b64(b"user") + b"\r\n") == "334 UGFzc3dvcmQ6\r\n"
        assert client.send(b64(b"secret") + b"\r\n") == "235 2.7.0 Authentication successful\r\n"
        assert client.protocol.authenticated
        assert codes(client.send(b"AUTH PLAIN =\r\n")) == ["503 5.5.1"]
        client.send(MAIL_TRANSACTION + b"DATA\r\nx\r\n.\r\n")
        assert client.messages()[0].envelope.authenticated

    def test_initial_response_and_failure(self) -> None:
        client = greeted(decide=self.login, **self.CONFIG)
        client.decide = lambda e: replies.AUTH_FAILED if isinstance(e, Auth) else None
        assert codes(client.send(b"AUTH PLAIN " + b64(b"\0u\0bad") + b"\r\n")) == ["535 5.7.8"]
        assert client.events[-1] == Auth("PLAIN", b"\0u\0bad")
        assert not client.protocol.authenticated

    def test_cancel_and_bad_base64(self) -> None:
        client = greeted(decide=self.login, **self.CONFIG)
        client.send(b"AUTH LOGIN\r\n")
        assert client.send(b"*\r\n") == "501 5.0.0 Authentication cancelled\r\n"
        assert client.protocol.state is State.READY
        client.send(b"AUTH LOGIN\r\n")
        assert codes(client.send(b"???\r\n")) == ["501 5.5.2"]
        assert codes(client.send(b"AUTH PLAIN ???\r\n")) == ["501 5.5.2"]

    def test_long_sasl_lines_are_allowed(self) -> None:
        client = greeted(decide=self.login, **self.CONFIG)
        client.decide = lambda e: None
        assert codes(client.send(b"AUTH PLAIN " + b64(b"x" * 3000) + b"\r\n")) == ["235 2.7.0"]

    def test_over_long_sasl_line_aborts_the_exchange(self) -> None:
        client = greeted(decide=self.login, **self.CONFIG)
        client.send(b"AUTH LOGIN\r\n")
        assert codes(client.send(b"A" * 13000 + b"\r\nNOOP\r\n")) == ["500 5.5.6", "250 2.0.0"]
        assert not client.protocol.authenticated

    def test_refusals(self) -> None:
        assert codes(greeted().send(b"AUTH PLAIN\r\n")) == ["502 5.5.1"]
        plaintext = greeted(auth_mechanisms=("PLAIN",))
        assert not any(k.startswith("AUTH") for k in ehlo_keywords(plaintext))
        assert codes(plaintext.send(b"AUTH PLAIN\r\n")) == ["538 5.7.11"]
        client = greeted(**self.CONFIG)
        assert codes(client.send(b"AUTH CRAM-MD5\r\n")) == ["504 5.5.4"]
        client.send(MAIL_TRANSACTION)
        assert codes(client.send(b"AUTH PLAIN\r\n")) == ["503 5.5.1"]
        helo_only = Client(**self.CONFIG)
        helo_only.send(b"HELO a.example\r\n")
        assert codes(helo_only.send(b"AUTH PLAIN\r\n")) == ["503 5.5.1"]

    def test_plaintext_auth_when_allowed(self) -> None:
        client = greeted(auth_mechanisms=("PLAIN",), allow_plaintext_auth=True)
        assert "AUTH PLAIN" in ehlo_keywords(client)

    def test_require_auth_for_mail(self) -> None:
        client = greeted(require_auth_for_mail=True, **self.CONFIG)
        assert codes(client.send(b"MAIL FROM:<a@x.example>\r\n")) == ["530 5.7.0"]
        client.send(b"AUTH PLAIN " + b64(b"\0u\0p") + b"\r\n")
        assert codes(client.send(b"MAIL FROM:<a@x.example>\r\n")) == ["250 2.1.0"]


class TestSessionMistakes:
    def test_next_event_with_a_pending_decision(self) -> None:
        protocol = SmtpServerProtocol(ProtocolConfig(HOST))
        assert protocol.next_event() == ClientConnected()
        with pytest.raises(LocalProtocolError):
            protocol.next_event()

    def test_send_without_a_decision(self) -> None:
        client = greeted()
        with pytest.raises(LocalProtocolError):
            client.protocol.send(replies.OK)
        with pytest.raises(LocalProtocolError):
            client.protocol.accept()
        with pytest.raises(LocalProtocolError):
            client.protocol.tls_started()

    def test_wrong_reply_kinds(self) -> None:
        protocol = SmtpServerProtocol(ProtocolConfig(HOST))
        protocol.next_event()
        protocol.accept()
        protocol.receive_data(b"EHLO a\r\n")
        assert isinstance(protocol.next_event(), Ehlo)
        with pytest.raises(LocalProtocolError):
            protocol.send(replies.START_MAIL_INPUT)
        with pytest.raises(LocalProtocolError):
            protocol.send(replies.auth_challenge(b""))

    def test_data_after_eof(self) -> None:
        protocol = SmtpServerProtocol(ProtocolConfig(HOST))
        protocol.receive_data(b"")
        with pytest.raises(LocalProtocolError):
            protocol.receive_data(b"x")


class TestConfig:
    @pytest.mark.parametrize(
        "overrides",
        [
            {"hostname": ""}, {"hostname": "two words"}, {"max_line_length": 100},
            {"max_recipients": 0}, {"max_errors": 0}, {"smtputf8": True, "eight_bit_mime": False},
            {"auth_mechanisms": ("plain",)},
        ],
    )
    def test_invalid(self, overrides: dict[str, Any]) -> None:
        settings: dict[str, Any] = {"hostname": HOST, **overrides}
        with pytest.raises(ValueError):
            ProtocolConfig(**settings)


def test_helo_and_ehlo_are_decisions() -> None:
    client = Client(lambda e: Reply(550, "5.7.1", "Go away") if isinstance(e, Helo) else None)
    assert codes(client.send(b"HELO bad.example\r\nMAIL FROM:<>\r\n")) == ["550 5.7.1", "503 5.5.1"]
    assert codes(client.send(b"EHLO good.example\r\nBDAT 0 LAST\r\n")) == ["250", "503 5.5.1"]
    assert isinstance(client.events[-1], Ehlo)
    assert not isinstance(client.events[-1], Bdat | StartTls)
