"""The SMTP client machine as conversations: the server's bytes in, the client's bytes and events
out. No sockets, no event loop."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from postier.smtp.client import (
    ClientConfig,
    Closed,
    LocalProtocolError,
    MailTransaction,
    NeedData,
    Outcome,
    OutgoingRecipient,
    Ready,
    SmtpClientProtocol,
    TlsPolicy,
    TlsRequested,
    TransactionDone,
    Wait,
    dot_stuff,
)

EHLO_PLAIN = b"250-mx.example.org\r\n250 8BITMIME\r\n"
EHLO_PIPELINING = b"250-mx.example.org\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250 DSN\r\n"


def mail(*recipients: str, body: bytes = b"Subject: hi\r\n\r\nhello\r\n",
         **extra: Any) -> MailTransaction:
    return MailTransaction("alice@example.test",
                           tuple(OutgoingRecipient(r) for r in recipients or ("bob@example.org",)),
                           body, **extra)


class Conversation:
    def __init__(self, **config: Any) -> None:
        config.setdefault("tls", TlsPolicy.NONE)
        self.machine = SmtpClientProtocol(ClientConfig("client.example.test", **config))

    def server(self, data: bytes) -> Any:
        """Feed what the server says; return the next event that is not NeedData, or NeedData."""
        self.machine.receive_data(data)
        return self.machine.next_event()

    def sent(self) -> bytes:
        return self.machine.data_to_send()

    def ready(self, ehlo: bytes = EHLO_PLAIN) -> Ready:
        assert self.machine.next_event() == NeedData(Wait.GREETING)
        assert self.server(b"220 mx.example.org ESMTP\r\n") == NeedData(Wait.COMMAND)
        assert self.sent() == b"EHLO client.example.test\r\n"
        event = self.server(ehlo)
        assert isinstance(event, Ready), event
        return event


def test_one_message_without_pipelining_command_by_command() -> None:
    talk = Conversation()
    talk.ready()
    talk.machine.send_mail(mail("bob@example.org", "carol@example.org",
                                body=b"Subject: x\r\n\r\n.dot line\r\nend\r\n"))
    assert talk.machine.next_event() == NeedData(Wait.COMMAND)
    assert talk.sent() == b"MAIL FROM:<alice@example.test>\r\n"
    assert talk.server(b"250 2.1.0 ok\r\n") == NeedData(Wait.COMMAND)
    assert talk.sent() == b"RCPT TO:<bob@example.org>\r\n"
    talk.server(b"250 2.1.5 ok\r\n")
    assert talk.sent() == b"RCPT TO:<carol@example.org>\r\n"
    talk.server(b"550 5.1.1 no such user\r\n")
    assert talk.sent() == b"DATA\r\n"
    assert talk.server(b"354 go ahead\r\n") == NeedData(Wait.DATA_END)
    assert talk.sent() == b"Subject: x\r\n\r\n..dot line\r\nend\r\n.\r\n"
    done = talk.server(b"250 2.0.0 queued as 12\r\n")
    assert isinstance(done, TransactionDone)
    assert [(r.address, r.outcome, r.status) for r in done.results] == [
        ("bob@example.org", Outcome.DELIVERED, "2.0.0"),
        ("carol@example.org", Outcome.FAILED, "5.1.1")]
    assert done.results[0].text == "250 2.0.0 queued as 12"
    assert not done.dsn_passed
    assert isinstance(talk.machine.next_event(), Ready)
    talk.machine.quit()
    assert talk.machine.next_event() == NeedData(Wait.COMMAND)
    assert talk.sent() == b"QUIT\r\n"
    assert talk.server(b"221 bye\r\n") == Closed(None)


def test_pipelining_sends_mail_rcpts_and_data_in_one_write() -> None:
    talk = Conversation()
    talk.ready(EHLO_PIPELINING)
    talk.machine.send_mail(mail("bob@example.org", "carol@example.org"))
    assert talk.machine.next_event() == NeedData(Wait.COMMAND)
    assert talk.sent() == (b"MAIL FROM:<alice@example.test> SIZE=22\r\n"
                           b"RCPT TO:<bob@example.org>\r\nRCPT TO:<carol@example.org>\r\n"
                           b"DATA\r\n")
    event = talk.server(b"250 ok\r\n250 ok\r\n451 4.3.0 try later\r\n354 go\r\n")
    assert event == NeedData(Wait.DATA_END)
    assert talk.sent().endswith(b"hello\r\n.\r\n")
    done = talk.server(b"250 ok\r\n")
    assert [r.outcome for r in done.results] == [Outcome.DELIVERED, Outcome.DEFERRED]
    assert done.dsn_passed


def test_pipelining_with_every_recipient_refused_resets() -> None:
    talk = Conversation()
    talk.ready(EHLO_PIPELINING)
    talk.machine.send_mail(mail("bob@example.org"))
    talk.machine.next_event()
    talk.sent()
    assert talk.server(b"250 ok\r\n550 5.1.1 unknown\r\n554 5.5.1 no valid recipients\r\n") \
        == NeedData(Wait.COMMAND)
    assert talk.sent() == b"RSET\r\n"
    done = talk.server(b"250 reset\r\n")
    assert done.results[0].outcome is Outcome.FAILED
    assert done.results[0].text == "550 5.1.1 unknown"


def test_pipelined_354_without_accepted_recipients_sends_a_lone_dot() -> None:
    talk = Conversation()
    talk.ready(EHLO_PIPELINING)
    talk.machine.send_mail(mail("bob@example.org"))
    talk.machine.next_event()
    talk.sent()
    talk.server(b"250 ok\r\n550 no\r\n354 go ahead anyway\r\n")
    assert talk.sent() == b".\r\n"
    talk.server(b"554 no recipients\r\n")
    assert talk.sent() == b"RSET\r\n"
    done = talk.server(b"250 ok\r\n")
    assert done.results[0].outcome is Outcome.FAILED


def test_mail_refused_decides_for_every_recipient() -> None:
    talk = Conversation()
    talk.ready()
    talk.machine.send_mail(mail("bob@example.org", "carol@example.org"))
    talk.machine.next_event()
    talk.sent()
    done = talk.server(b"452 4.3.1 insufficient storage\r\n")
    assert [r.outcome for r in done.results] == [Outcome.DEFERRED, Outcome.DEFERRED]
    assert talk.sent() == b""
    assert isinstance(talk.machine.next_event(), Ready)


@pytest.mark.parametrize(("reply", "outcome"), [(b"451 4.3.0 later\r\n", Outcome.DEFERRED),
                                                (b"554 5.6.0 spam\r\n", Outcome.FAILED)])
def test_reply_to_the_data_applies_to_every_accepted_recipient(reply: bytes,
                                                               outcome: Outcome) -> None:
    talk = Conversation()
    talk.ready(EHLO_PIPELINING)
    talk.machine.send_mail(mail("bob@example.org", "carol@example.org"))
    talk.machine.next_event()
    talk.server(b"250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n")
    talk.sent()
    assert talk.server(reply) == NeedData(Wait.COMMAND)
    assert talk.sent() == b"RSET\r\n"
    done = talk.server(b"250 ok\r\n")
    assert [r.outcome for r in done.results] == [outcome, outcome]


def test_dsn_parameters_are_passed_on_only_when_offered() -> None:
    transaction = MailTransaction(
        "alice@example.test",
        (OutgoingRecipient("bob@example.org", ("SUCCESS", "FAILURE"), "rfc822;Bob+x@example.org"),),
        b"x\r\n", envid="id=1", ret="HDRS")
    talk = Conversation()
    talk.ready(EHLO_PIPELINING)
    talk.machine.send_mail(transaction)
    talk.machine.next_event()
    assert talk.sent().split(b"\r\n")[:2] == [
        b"MAIL FROM:<alice@example.test> SIZE=3 RET=HDRS ENVID=id+3D1",
        b"RCPT TO:<bob@example.org> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;Bob+2Bx@example.org"]
    plain = Conversation()
    plain.ready()
    plain.machine.send_mail(transaction)
    plain.machine.next_event()
    assert plain.sent() == b"MAIL FROM:<alice@example.test>\r\n"


def test_eight_bit_bodies_say_so_when_the_server_offers_8bitmime() -> None:
    talk = Conversation()
    talk.ready()
    talk.machine.send_mail(mail(body="Subject: é\r\n\r\nx\r\n".encode()))
    talk.machine.next_event()
    assert talk.sent() == b"MAIL FROM:<alice@example.test> BODY=8BITMIME\r\n"


def test_refusals_before_sending_anything() -> None:
    talk = Conversation()
    talk.ready(EHLO_PIPELINING)  # SIZE 1000, no SMTPUTF8
    talk.machine.send_mail(mail(body=b"x" * 2000))
    done = talk.machine.next_event()
    assert (done.results[0].outcome, done.results[0].status) == (Outcome.FAILED, "5.3.4")
    talk.machine.send_mail(mail("bjørn@example.org"))
    done = talk.machine.next_event()
    assert (done.results[0].outcome, done.results[0].status) == (Outcome.FAILED, "5.6.7")
    talk.machine.send_mail(mail(body_type="BINARYMIME"))
    assert talk.machine.next_event().results[0].status == "5.6.3"
    assert talk.sent() == b""
    assert isinstance(talk.machine.next_event(), Ready)


def test_smtputf8_and_bdat_when_offered() -> None:
    talk = Conversation()
    talk.ready(b"250-mx\r\n250-SMTPUTF8\r\n250-CHUNKING\r\n250 BINARYMIME\r\n")
    talk.machine.send_mail(MailTransaction("ålice@example.test", (OutgoingRecipient("b@x.org"),),
                                           b"\x00bin", body_type="BINARYMIME"))
    talk.machine.next_event()
    assert talk.sent() == "MAIL FROM:<ålice@example.test> BODY=BINARYMIME SMTPUTF8\r\n".encode()
    talk.server(b"250 ok\r\n")
    talk.sent()
    assert talk.server(b"250 ok\r\n") == NeedData(Wait.DATA_END)
    assert talk.sent() == b"BDAT 4 LAST\r\n\x00bin"
    assert talk.server(b"250 done\r\n").results[0].outcome is Outcome.DELIVERED


def test_ehlo_refused_falls_back_to_helo() -> None:
    talk = Conversation()
    talk.machine.next_event()
    talk.server(b"220 old.example.org\r\n")
    talk.sent()
    assert talk.server(b"502 what?\r\n") == NeedData(Wait.COMMAND)
    assert talk.sent() == b"HELO client.example.test\r\n"
    ready = talk.server(b"250 old.example.org\r\n")
    assert isinstance(ready, Ready) and ready.extensions.keywords == {}


def test_greeting_refused_closes_with_the_reason() -> None:
    talk = Conversation()
    closed = talk.server(b"554 5.7.1 go away\r\n")
    assert isinstance(closed, Closed)
    assert closed.reason == "the server refused the session: 554 5.7.1 go away"
    assert talk.sent() == b"QUIT\r\n"


def test_opportunistic_starttls_discards_injected_bytes_and_says_ehlo_again() -> None:
    talk = Conversation(tls=TlsPolicy.OPPORTUNISTIC)
    talk.machine.next_event()
    talk.server(b"220 mx\r\n")
    talk.sent()
    assert talk.server(b"250-mx\r\n250 STARTTLS\r\n") == NeedData(Wait.COMMAND)
    assert talk.sent() == b"STARTTLS\r\n"
    assert talk.server(b"220 go\r\n250 injected\r\n") == TlsRequested()
    talk.machine.tls_started()
    assert talk.machine.next_event() == NeedData(Wait.COMMAND)
    assert talk.sent() == b"EHLO client.example.test\r\n"
    ready = talk.server(b"250-mx\r\n250 PIPELINING\r\n")
    assert isinstance(ready, Ready) and ready.tls_active


def test_opportunistic_starttls_refused_goes_on_in_plaintext() -> None:
    talk = Conversation(tls=TlsPolicy.OPPORTUNISTIC)
    talk.machine.next_event()
    talk.server(b"220 mx\r\n")
    talk.server(b"250-mx\r\n250 STARTTLS\r\n")
    ready = talk.server(b"454 4.7.0 TLS not available\r\n")
    assert isinstance(ready, Ready) and not ready.tls_active


def test_required_tls_without_starttls_fails_the_session() -> None:
    talk = Conversation(tls=TlsPolicy.REQUIRED)
    talk.machine.next_event()
    talk.server(b"220 mx\r\n")
    closed = talk.server(b"250 mx\r\n")
    assert closed == Closed("the server does not offer STARTTLS, which is required")


def test_auth_plain_after_tls() -> None:
    talk = Conversation(tls=TlsPolicy.NONE, tls_active=True, username="u", password="p")
    talk.machine.next_event()
    talk.server(b"220 mx\r\n")
    talk.sent()
    talk.server(b"250-mx\r\n250 AUTH LOGIN PLAIN\r\n")
    assert talk.sent() == b"AUTH PLAIN " + base64.b64encode(b"\0u\0p") + b"\r\n"
    assert isinstance(talk.server(b"235 2.7.0 ok\r\n"), Ready)


def test_auth_login_and_failure() -> None:
    talk = Conversation(tls=TlsPolicy.NONE, username="u", password="p")
    talk.machine.next_event()
    talk.server(b"220 mx\r\n")
    talk.server(b"250-mx\r\n250 AUTH LOGIN\r\n")
    assert talk.sent().endswith(b"AUTH LOGIN\r\n")
    talk.server(b"334 VXNlcm5hbWU6\r\n")
    assert talk.sent() == b"dQ==\r\n"
    talk.server(b"334 UGFzc3dvcmQ6\r\n")
    assert talk.sent() == b"cA==\r\n"
    closed = talk.server(b"535 5.7.8 bad credentials\r\n")
    assert closed.reason == "authentication failed: 535 5.7.8 bad credentials"


def test_password_is_never_sent_in_plaintext_unless_tls_is_off() -> None:
    talk = Conversation(tls=TlsPolicy.OPPORTUNISTIC, username="u", password="p")
    talk.machine.next_event()
    talk.server(b"220 mx\r\n")
    closed = talk.server(b"250-mx\r\n250 AUTH PLAIN\r\n")
    assert closed == Closed("refusing to send the password without TLS")
    assert b"AUTH" not in talk.sent()


@pytest.mark.parametrize(("data", "reason"), [
    (b"hello there\r\n", "protocol error from the server: not an SMTP reply: 'hello there'"),
    (b"250-a\r\n550 b\r\n", "protocol error from the server: reply lines with different codes"
                            " (250 then 550)"),
    (b"", "connection closed by the server while waiting for the reply to RCPT TO"),
    (b"421 4.3.2 shutting down\r\n", "the server closed the session: 421 4.3.2 shutting down"),
])
def test_bad_replies_defer_the_unresolved_recipients(data: bytes, reason: str) -> None:
    talk = Conversation()
    talk.ready()
    talk.machine.send_mail(mail("bob@example.org", "carol@example.org"))
    talk.machine.next_event()
    talk.server(b"250 ok\r\n")
    talk.server(b"550 5.1.1 no bob\r\n")
    done = talk.server(data)
    assert isinstance(done, TransactionDone)
    assert [r.outcome for r in done.results] == [Outcome.FAILED, Outcome.DEFERRED]
    assert done.results[1].text.startswith(reason)
    closed = talk.machine.next_event()
    assert isinstance(closed, Closed) and closed.reason is not None
    assert closed.reason.startswith(reason)
    assert talk.machine.next_event() == closed


def test_timeout_after_the_data_defers_accepted_recipients() -> None:
    talk = Conversation()
    talk.ready(EHLO_PIPELINING)
    talk.machine.send_mail(mail("bob@example.org"))
    talk.machine.next_event()
    talk.server(b"250 ok\r\n250 ok\r\n354 go\r\n")
    talk.machine.timed_out()
    done = talk.machine.next_event()
    assert done.results[0].outcome is Outcome.DEFERRED
    assert done.results[0].text == "timeout waiting for the reply to the end of the message data"
    assert isinstance(talk.machine.next_event(), Closed)


def test_replies_split_anywhere_give_the_same_events() -> None:
    script = b"220 mx\r\n250-mx\r\n250-PIPELINING\r\n250 SIZE\r\n"
    whole = Conversation()
    whole.machine.receive_data(script)
    pieces = Conversation()
    for byte in script:
        pieces.machine.receive_data(bytes([byte]))
    assert whole.machine.next_event() == pieces.machine.next_event()
    assert whole.sent() == pieces.sent()


def test_driver_mistakes_raise_local_errors() -> None:
    talk = Conversation()
    with pytest.raises(LocalProtocolError):
        talk.machine.send_mail(mail())
    with pytest.raises(LocalProtocolError):
        talk.machine.tls_started()


def test_dot_stuffing() -> None:
    assert dot_stuff(b"") == b".\r\n"
    assert dot_stuff(b".a\r\nb\r\n.\r\n") == b"..a\r\nb\r\n..\r\n.\r\n"
    assert dot_stuff(b"no newline") == b"no newline\r\n.\r\n"
    assert dot_stuff(b"bare\n.lf\n") == b"bare\r\n..lf\r\n.\r\n"
