"""mime/compose.py: messages the webmail builds, and the rules of replying."""

from __future__ import annotations

from datetime import UTC, datetime

from postier.mime import parse_message, summarize
from postier.mime.compose import (
    Outgoing,
    OutgoingAttachment,
    build_message,
    forward_subject,
    parse_recipients,
    quote_text,
    reply_all_recipients,
    reply_references,
    reply_subject,
)

WHEN = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)


def outgoing(**changes: object) -> Outgoing:
    values: dict[str, object] = {
        "sender": ("Alice Ärger", "alice@example.test"), "date": WHEN,
        "message_id": "abc@example.test", "to": (("Bob", "bob@example.test"),),
        "bcc": (("", "secret@example.org"),), "subject": "Grüße", "text": "Hi\nthere",
    }
    values.update(changes)
    return Outgoing(**values)  # type: ignore[arg-type]


def test_message_is_crlf_only_and_parses_back() -> None:
    data = build_message(outgoing(), include_bcc=False)
    assert b"\n" not in data.replace(b"\r\n", b"")
    summary = summarize(data, parse_message(data))
    assert summary.subject == "Grüße"
    assert summary.message_id == "abc@example.test"
    assert "Alice Ärger" in summary.from_
    assert summary.bcc == ""
    assert b"secret@example.org" not in data


def test_bcc_kept_in_own_copy() -> None:
    data = build_message(outgoing(), include_bcc=True)
    assert summarize(data, parse_message(data)).bcc == "secret@example.org"


def test_attachments_and_threading_headers() -> None:
    data = build_message(outgoing(
        attachments=(OutgoingAttachment("notes.txt", "text/plain", b"hello\n"),
                     OutgoingAttachment("x.bin", "text/html\r\nX: y", b"\x00\x01")),
        in_reply_to="parent@x", references=("root@x", "parent@x")), include_bcc=False)
    summary = summarize(data, parse_message(data))
    assert [a.filename for a in summary.attachments] == ["notes.txt", "x.bin"]
    assert summary.attachments[1].content_type == "application/octet-stream"
    assert summary.in_reply_to == ("parent@x",)
    assert summary.references == ("root@x", "parent@x")
    assert b"X: y" not in data


def test_long_lines_and_non_ascii_are_quoted_printable() -> None:
    data = build_message(outgoing(text="é" + "x" * 300), include_bcc=False)
    assert b"quoted-printable" in data
    assert all(len(line) <= 998 for line in data.split(b"\r\n"))


def test_utf8_addresses_switch_to_smtputf8() -> None:
    data = build_message(outgoing(to=(("", "jöran@example.test"),)), include_bcc=False)
    assert "jöran@example.test".encode() in data


def test_parse_recipients() -> None:
    good, bad = parse_recipients("Ann <ann@example.org>, bob@example.org; not an address,"
                                 " ANN@example.org, \"Doe, Jane\" <jane@example.org>")
    assert good == [("Ann", "ann@example.org"), ("", "bob@example.org"),
                    ("Doe, Jane", "jane@example.org")]  # duplicates ignore case
    assert bad == ["not an address"]


def test_subjects() -> None:
    assert reply_subject("Re: RE: AW: Lunch") == "Re: Lunch"
    assert reply_subject("Lunch") == "Re: Lunch"
    assert forward_subject("Fwd: FW: Lunch") == "Fwd: Lunch"


def test_references_chain() -> None:
    assert reply_references(("a", "b"), ("b",), "c") == ("a", "b", "c")
    assert reply_references((), ("p",), "c") == ("p", "c")
    assert len(reply_references(tuple(str(i) for i in range(40)), (), "z")) == 20


def test_quote_text() -> None:
    assert quote_text("one\n> two\n\nthree", "On Monday, Bob wrote:") == \
        "\n\nOn Monday, Bob wrote:\n> one\n>> two\n>\n> three\n"


def test_reply_all() -> None:
    to, cc = reply_all_recipients([("Bob", "bob@x")], [("Me", "me@x"), ("Carl", "carl@x")],
                                  [("Bob", "BOB@x"), ("Dee", "dee@x")], ["me@x"])
    assert to == [("Bob", "bob@x")]
    assert cc == [("Carl", "carl@x"), ("Dee", "dee@x")]
    own_to, own_cc = reply_all_recipients([("Me", "me@x")], [("Carl", "carl@x")], [], ["me@x"])
    assert own_to == [("Carl", "carl@x")] and own_cc == []
