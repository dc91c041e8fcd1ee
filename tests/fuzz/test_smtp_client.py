"""Hypothesis properties of the SMTP client machine: whatever a server sends, the machine never
raises and always ends in events; how the bytes are split never changes what it does."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from postier.smtp.client import (
    ClientConfig,
    Closed,
    MailTransaction,
    NeedData,
    OutgoingRecipient,
    Ready,
    SmtpClientProtocol,
    TlsPolicy,
    TlsRequested,
    TransactionDone,
)
from tests.fuzz.budget import examples

MAIL = MailTransaction("a@example.test", (OutgoingRecipient("b@example.org"),
                                          OutgoingRecipient("c@example.org")), b"x\r\n")
REPLIES = st.sampled_from([b"220 hi\r\n", b"250 ok\r\n", b"250-mx\r\n250 PIPELINING\r\n",
                           b"354 go\r\n", b"451 4.3.0 later\r\n", b"550 5.1.1 no\r\n",
                           b"421 bye\r\n", b"221 bye\r\n", b"garbage\r\n", b"250-", b"\r\n"])


def drive(chunks: list[bytes]) -> list[object]:
    """Feed ``chunks`` one by one, acting on every event like a driver would."""
    machine = SmtpClientProtocol(ClientConfig("me.example", TlsPolicy.OPPORTUNISTIC))
    events: list[object] = []
    sent_mail = False
    pending = list(chunks)
    for _ in range(200):
        event = machine.next_event()
        if isinstance(event, NeedData):
            if not pending:
                machine.receive_data(b"")
                continue
            machine.receive_data(pending.pop(0))
            continue
        events.append(event)
        if isinstance(event, Closed):
            break
        if isinstance(event, TlsRequested):
            machine.tls_started()
        elif isinstance(event, Ready):
            if sent_mail:
                machine.quit()
            else:
                machine.send_mail(MAIL)
                sent_mail = True
        elif isinstance(event, TransactionDone):
            assert len(event.results) == 2
    else:
        raise AssertionError("the machine did not finish")
    machine.data_to_send()
    return events


@settings(max_examples=examples(300), deadline=None)
@given(st.lists(st.one_of(REPLIES, st.binary(max_size=40)), max_size=12))
def test_any_server_bytes_end_in_events_never_exceptions(chunks: list[bytes]) -> None:
    events = drive(chunks)
    assert isinstance(events[-1], Closed)


@settings(max_examples=examples(200), deadline=None)
@given(st.lists(REPLIES, max_size=12), st.integers(min_value=1, max_value=7))
def test_chunking_never_changes_events(chunks: list[bytes], cut: int) -> None:
    whole = b"".join(chunks)
    pieces = [whole[i:i + cut] for i in range(0, len(whole), cut)]
    assert drive([whole] if whole else []) == drive(pieces)
