"""Hypothesis properties of the SMTP server machine, its framing and its command parser.

(a) arbitrary bytes never raise, only produce events and well-formed replies;
(b) how the bytes are cut into reads never changes the events or the replies;
(c) generated MAIL/RCPT commands and DATA bodies survive a round trip.

STARTTLS is not offered here: what is discarded after it depends, by design, on what had already
arrived, so it is the one place where read boundaries matter (tested in tests/unit/smtp).
"""

from __future__ import annotations

import re
import string
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from postier.smtp import replies
from postier.smtp.commands import (
    Auth,
    MailFrom,
    RcptTo,
    parse_command,
    xtext_encode,
)
from postier.smtp.delivery import ClientInfo, received_field
from postier.smtp.paths import local_part_value, split_address
from postier.smtp.protocol import (
    AuthResponse,
    ConnectionClosed,
    Decision,
    Event,
    MessageReceived,
    NeedData,
    ProtocolConfig,
    SmtpServerProtocol,
    TlsHandshakeRequired,
)
from tests.fuzz.budget import examples

CONFIG = ProtocolConfig(
    "mx.example.org",
    max_line_length=512,
    max_message_size=64,
    max_recipients=3,
    max_errors=8,
    auth_mechanisms=("PLAIN", "LOGIN"),
    allow_plaintext_auth=True,
    dsn=True,
)

TOKENS = [
    b"EHLO a.example\r\n", b"HELO b\n", b"MAIL FROM:<a@b.example>\r\n", b"MAIL FROM:<> SIZE=10\r\n",
    b"MAIL FROM:<a@b> BODY=BINARYMIME\r\n", b"RCPT TO:<d@e.example>\r\n", b"RCPT TO:<x@e>\r\n",
    b"RCPT TO:<postmaster>\r\n", b"DATA\r\n", b"BDAT 3\r\n", b"BDAT 2 LAST\r\n", b"BDAT 0 LAST\r\n",
    b".\r\n", b"\r\n", b"\n", b"\r", b".", b"..", b"RSET\r\n", b"NOOP\r\n", b"AUTH PLAIN\r\n",
    b"AUTH LOGIN dXNlcg==\r\n", b"*\r\n", b"=\r\n", b"STARTTLS\r\n", b"QUIT\r\n", b"x" * 600,
    b"\x00", b"\xff", "MAIL FROM:<ü@x> SMTPUTF8\r\n".encode(), b"VRFY a\r\n",
]
smtp_bytes = st.lists(
    st.one_of(st.sampled_from(TOKENS), st.binary(max_size=16)), max_size=40
).map(b"".join)


def answer(protocol: SmtpServerProtocol, event: Decision) -> None:
    """A deterministic session: challenges AUTH, refuses some recipients, accepts the rest."""
    match event:
        case Auth(initial_response=None):
            protocol.send(replies.auth_challenge(b""))
        case AuthResponse(data=b""):
            protocol.send(replies.AUTH_FAILED)
        case RcptTo(address=address) if address.startswith("x"):
            protocol.send(replies.NO_SUCH_USER)
        case MessageReceived():
            protocol.send(replies.queued("Q1"))
        case _:
            protocol.accept()


def converse(data: bytes, step: int) -> tuple[list[Event], bytes]:
    protocol = SmtpServerProtocol(CONFIG)
    events: list[Event] = []
    out = bytearray()
    offset = 0
    while True:
        event = protocol.next_event()
        out += protocol.data_to_send()
        if isinstance(event, NeedData):
            protocol.receive_data(data[offset : offset + step])  # b"" at the end: EOF
            offset += step
            continue
        events.append(event)
        if isinstance(event, ConnectionClosed):
            return events, bytes(out)
        assert not isinstance(event, TlsHandshakeRequired)  # STARTTLS is not offered
        answer(protocol, event)


REPLY_LINE = re.compile(rb"[2-5][0-9]{2}[ -][^\r\n]*")


@settings(max_examples=examples(300))
@given(data=st.one_of(smtp_bytes, st.binary(max_size=2048)))
def test_arbitrary_bytes_only_produce_events_and_replies(data: bytes) -> None:
    events, out = converse(data, step=len(data) or 1)
    assert isinstance(events[-1], ConnectionClosed)
    assert out.endswith(b"\r\n")
    assert all(REPLY_LINE.fullmatch(line) for line in out.split(b"\r\n")[:-1])


@settings(max_examples=examples(300))
@given(data=smtp_bytes, cut=st.integers(min_value=1, max_value=64))
def test_read_boundaries_never_change_events_or_replies(data: bytes, cut: int) -> None:
    whole = converse(data, step=len(data) or 1)
    assert converse(data, step=cut) == whole
    assert converse(data, step=1) == whole


atext = st.sampled_from(string.ascii_letters + string.digits + "!#$%&'*+-/=?^_`{|}~")
utf8_text = st.sampled_from("äöüßéñ中文")
qtext = st.sampled_from([c for c in string.printable[:95] if c not in '"\\'])


def dot_string(characters: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    atom = st.lists(characters, min_size=1, max_size=6).map("".join)
    return st.lists(atom, min_size=1, max_size=3).map(".".join)


quoted_string = st.lists(
    st.one_of(qtext, st.sampled_from(string.printable[:95]).map(lambda c: "\\" + c)), max_size=8
).map(lambda parts: '"' + "".join(parts) + '"')
label = st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9-]{0,6}[A-Za-z0-9])?", fullmatch=True)
domain = st.one_of(
    st.lists(label, min_size=1, max_size=4).map(".".join),
    st.ip_addresses(v=4).map(lambda ip: f"[{ip}]"),
    st.ip_addresses(v=6).map(lambda ip: f"[IPv6:{ip}]"),
)


def mailbox(utf8: bool) -> st.SearchStrategy[str]:
    characters = st.one_of(atext, utf8_text) if utf8 else atext
    local = st.one_of(dot_string(characters), quoted_string)
    return st.builds(lambda lp, d: f"{lp}@{d}", local, domain)


@st.composite
def mail_commands(draw: st.DrawFn) -> MailFrom:
    params: dict[str, str | None] = {}
    if draw(st.booleans()):
        params["SIZE"] = str(draw(st.integers(min_value=0, max_value=10**12)))
    if draw(st.booleans()):
        params["BODY"] = draw(st.sampled_from(["7BIT", "8BITMIME", "BINARYMIME"]))
    if draw(st.booleans()):
        params["RET"] = draw(st.sampled_from(["FULL", "HDRS"]))
    if draw(st.booleans()):
        envid = draw(st.text(alphabet=string.printable[:94], min_size=1, max_size=33))
        params["ENVID"] = xtext_encode(envid)  # at most 99 characters, RFC 3461 allows 100
    if draw(st.booleans()):
        params["AUTH"] = xtext_encode(draw(st.one_of(st.just("<>"), mailbox(False))))
    utf8 = draw(st.booleans())
    if utf8:
        params["SMTPUTF8"] = None
    address = draw(st.one_of(st.just(""), mailbox(utf8)))
    return MailFrom(address, params)


@st.composite
def rcpt_commands(draw: st.DrawFn) -> RcptTo:
    params: dict[str, str | None] = {}
    if draw(st.booleans()):
        kinds = draw(st.sets(st.sampled_from(["SUCCESS", "FAILURE", "DELAY"]), min_size=1))
        params["NOTIFY"] = draw(st.sampled_from(["NEVER", ",".join(sorted(kinds))]))
    if draw(st.booleans()):
        params["ORCPT"] = "rfc822;" + xtext_encode(draw(mailbox(False)))
    return RcptTo(draw(st.one_of(mailbox(True), st.just("Postmaster"))), params)


@given(command=st.one_of(mail_commands(), rcpt_commands()))
def test_generated_mail_and_rcpt_round_trip(command: MailFrom | RcptTo) -> None:
    line = command.to_bytes()
    assert line.endswith(b"\r\n")
    assert parse_command(line[:-2], smtputf8=True) == command


body_lines = st.lists(
    st.binary(max_size=30).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b"")), max_size=8
)


@given(lines=body_lines, cut=st.integers(min_value=1, max_value=16))
def test_data_bodies_arrive_unchanged(lines: list[bytes], cut: int) -> None:
    body = b"".join(line + b"\r\n" for line in lines)
    stuffed = b"".join((b"." + line if line.startswith(b".") else line) + b"\r\n" for line in lines)
    script = b"EHLO a\r\nMAIL FROM:<>\r\nRCPT TO:<b@c>\r\nDATA\r\n" + stuffed + b".\r\nQUIT\r\n"
    events, out = converse(script, step=cut)
    received = [e for e in events if isinstance(e, MessageReceived)]
    if len(body) <= CONFIG.max_message_size:
        assert [m.data for m in received] == [body]
    else:
        assert received == [] and b"552 5.3.4" in out


@given(address=mailbox(True))
def test_address_helpers_split_every_parsed_path(address: str) -> None:
    local, domain = split_address(address)
    assert f"{local}@{domain}" == address
    value = local_part_value(local)
    if not local.startswith('"'):
        assert value == local
    else:  # re-quoting the value gives back an equivalent quoted string
        requoted = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
        assert local_part_value(requoted) == value


@given(helo=st.text(max_size=300), ip=st.one_of(st.ip_addresses().map(str), st.text(max_size=20)),
       recipient=st.one_of(st.none(), mailbox(True)))
def test_received_field_cannot_be_injected(helo: str, ip: str, recipient: str | None) -> None:
    client = ClientInfo(helo, ip, "ESMTPS")
    now = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    field = received_field(client, "mx.example.org", "ABC123", recipient, now)
    lines = field.split(b"\r\n")
    assert lines[-1] == b"" and lines[0].startswith(b"Received: from ")
    assert all(line.startswith(b"\t") for line in lines[1:-1])
    assert b"\n" not in field.replace(b"\r\n", b"") and b"\r" not in field.replace(b"\r\n", b"")
    assert field.rstrip(b"\r\n").endswith(b"; Wed, 01 May 2024 12:00:00 +0000")
