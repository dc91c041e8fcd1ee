"""BODY[section]<partial>, BINARY, RFC822.* on the RFC 9051 §6.4.5 example and others."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from postier import mime
from postier.imap.bodystructure import envelope_value, stored_envelope_value
from postier.imap.commands import (
    BinarySection,
    BinarySize,
    BodySection,
    FetchAttribute,
    FetchItem,
    Partial,
    Section,
    SectionText,
)
from postier.imap.fetch import FetchContext, FetchError, fetch_response, render_fetch
from postier.imap.responses import Literal, serialize
from postier.types import BlobId, MailboxId, MessageId, MessageRecord, ModSeq, Uid

A = FetchAttribute
T = SectionText

# The message of RFC 9051 §6.4.5, laid out as in tests/unit/mime/test_mime_sections.py.
EXAMPLE = """\
From: a@example.com
Subject: top
Content-Type: MULTIPART/MIXED; boundary="top"

--top
Content-Type: TEXT/PLAIN

part 1
--top
Content-Type: APPLICATION/OCTET-STREAM
Content-Transfer-Encoding: base64

cGFydCAy
--top
Content-Type: MESSAGE/RFC822

Subject: part 3
Content-Type: MULTIPART/MIXED; boundary="three"

--three
Content-Type: TEXT/PLAIN

part 3.1
--three
Content-Type: APPLICATION/OCTET-STREAM

part 3.2
--three--
--top
Content-Type: MULTIPART/MIXED; boundary="four"

--four
Content-Type: IMAGE/GIF

part 4.1
--four
Content-Type: MESSAGE/RFC822

Subject: part 4.2
Content-Type: MULTIPART/MIXED; boundary="four-two"

--four-two
Content-Type: TEXT/PLAIN

part 4.2.1
--four-two
Content-Type: MULTIPART/ALTERNATIVE; boundary="alt"

--alt
Content-Type: TEXT/PLAIN

part 4.2.2.1
--alt
Content-Type: TEXT/RICHTEXT

part 4.2.2.2
--alt--
--four-two--
--four--
--top--
""".replace("\n", "\r\n").encode()

PREFIX = (b"Return-Path: <a@example.com>\r\n"
          b"Received: from x by y; Tue, 1 Jan 2030 00:00:00 +0000\r\n")


def make_record(data: bytes, prefix: bytes = b"") -> MessageRecord:
    tree = mime.parse_message(data)
    return MessageRecord(
        MessageId(1), MailboxId(1), Uid(9), ModSeq(1), frozenset(),
        datetime(2030, 1, 1, tzinfo=UTC), len(prefix) + len(data), BlobId("ab" * 32), prefix,
        structure_json=json.dumps(tree.shifted(len(prefix)).to_json()),
        summary_json=json.dumps(mime.summarize(data, tree).to_json()))


def wire(items: tuple[FetchItem, ...], data: bytes = EXAMPLE, prefix: bytes = b"") -> bytes:
    ctx = FetchContext(1, make_record(data, prefix), prefix + data, utf8=False, rev2=False)
    return b"".join(serialize(fetch_response(items, ctx)))


def body(part: tuple[int, ...] = (), text: SectionText | None = None,
         fields: tuple[str, ...] = (), partial: Partial | None = None) -> BodySection:
    return BodySection(Section(part, text, fields), partial, peek=True)


def literal(data: bytes) -> bytes:
    return b"{%d}\r\n" % len(data) + data


@pytest.mark.parametrize("prefix", [b"", PREFIX])
@pytest.mark.parametrize(("section", "name", "expected"), [
    (body((1,)), b"BODY[1]", b"part 1"),
    (body((2,)), b"BODY[2]", b"cGFydCAy"),
    (body((3, 1)), b"BODY[3.1]", b"part 3.1"),
    (body((3,), T.HEADER), b"BODY[3.HEADER]",
     b'Subject: part 3\r\nContent-Type: MULTIPART/MIXED; boundary="three"\r\n\r\n'),
    (body((4, 1)), b"BODY[4.1]", b"part 4.1"),
    (body((4, 1), T.MIME), b"BODY[4.1.MIME]", b"Content-Type: IMAGE/GIF\r\n\r\n"),
    (body((4, 2), T.HEADER_FIELDS, ("subject",)), b"BODY[4.2.HEADER.FIELDS (subject)]",
     b"Subject: part 4.2\r\n\r\n"),
    (body((4, 2, 1)), b"BODY[4.2.1]", b"part 4.2.1"),
    (body((4, 2, 2, 2)), b"BODY[4.2.2.2]", b"part 4.2.2.2"),
    (body((4, 2, 2, 2), partial=Partial(5, 3)), b"BODY[4.2.2.2]<5>", b"4.2"),
    (body((4, 2, 2, 2), partial=Partial(10, 99)), b"BODY[4.2.2.2]<10>", b".2"),
    (body((1,), T.HEADER), b"BODY[1.HEADER]", b""),  # not a message/rfc822 part
    (body((), T.HEADER_FIELDS, ("Content-Type", "FROM")),
     b"BODY[HEADER.FIELDS (Content-Type FROM)]",
     b'From: a@example.com\r\nContent-Type: MULTIPART/MIXED; boundary="top"\r\n\r\n'),
])
def test_rfc9051_example_sections(prefix: bytes, section: BodySection, name: bytes,
                                  expected: bytes) -> None:
    assert wire((section,), prefix=prefix) == b"* 1 FETCH (" + name + b" " + \
        literal(expected) + b")\r\n"


def test_whole_message_header_and_text_include_the_prefix() -> None:
    out = wire((body(), body(text=T.HEADER), body(text=T.TEXT, partial=Partial(0, 5))),
               prefix=PREFIX)
    header_end = EXAMPLE.index(b"\r\n\r\n") + 4
    assert out == (b"* 1 FETCH (BODY[] " + literal(PREFIX + EXAMPLE) + b" BODY[HEADER] "
                   + literal(PREFIX + EXAMPLE[:header_end]) + b" BODY[TEXT]<0> "
                   + literal(b"--top") + b")\r\n")


def test_header_fields_not_sees_the_prefix_fields() -> None:
    item = body((), T.HEADER_FIELDS_NOT, ("content-type", "FROM", "received"))
    assert wire((item,), prefix=PREFIX) == \
        b"* 1 FETCH (BODY[HEADER.FIELDS.NOT (content-type FROM received)] " + \
        literal(b"Return-Path: <a@example.com>\r\nSubject: top\r\n\r\n") + b")\r\n"


def test_nonexistent_parts_are_nil() -> None:
    assert wire((body((5,)), body((1, 1)), body((9,), T.HEADER_FIELDS, ("To",)))) == \
        b"* 1 FETCH (BODY[5] NIL BODY[1.1] NIL BODY[9.HEADER.FIELDS (To)] NIL)\r\n"


def test_whole_body_is_passed_through_without_a_copy() -> None:
    record = make_record(EXAMPLE)
    data = bytes(EXAMPLE)
    values = render_fetch((body(), A.RFC822), FetchContext(1, record, data, False, False))
    for value in values[1::2]:
        assert isinstance(value, Literal) and value.data is data


def test_rfc822_items_and_duplicates() -> None:
    header_end = EXAMPLE.index(b"\r\n\r\n") + 4
    out = wire((A.RFC822_HEADER, A.RFC822_TEXT, BodySection(), body(), A.RFC822_SIZE))
    assert out == (b"* 1 FETCH (RFC822.HEADER " + literal(EXAMPLE[:header_end])
                   + b" RFC822.TEXT " + literal(EXAMPLE[header_end:]) + b" BODY[] "
                   + literal(EXAMPLE) + b" RFC822.SIZE %d)\r\n" % len(EXAMPLE))


def test_header_field_names_are_echoed_safely() -> None:
    out = wire((body((), T.HEADER_FIELDS, ("Subject", 'X "odd" name', "Bad\r\nName")),))
    assert out.startswith(b'* 1 FETCH (BODY[HEADER.FIELDS (Subject "X \\"odd\\" name" '
                          b"BadName)] {16}\r\nSubject: top\r\n\r\n)")


def test_nul_in_body_sections_becomes_0x80() -> None:
    data = b"Subject: x\r\nContent-Transfer-Encoding: binary\r\n\r\nA\x00B\r\n"
    assert wire((body((1,)),), data) == b"* 1 FETCH (BODY[1] {5}\r\nA\x80B\r\n)\r\n"
    # BINARY sends it exactly, as a literal8
    assert wire((BinarySection((1,)),), data) == \
        b"* 1 FETCH (BINARY[1] ~{5}\r\nA\x00B\r\n)\r\n"


def test_binary_decodes_and_sizes() -> None:
    out = wire((BinarySection((2,)), BinarySize((2,)), BinarySize((1,)),
                BinarySection((2,), Partial(1, 2)), BinarySection((7,)), BinarySize((7,))))
    assert out == (b"* 1 FETCH (BINARY[2] {6}\r\npart 2 BINARY.SIZE[2] 6 BINARY.SIZE[1] 6 "
                   b"BINARY[2]<1> {2}\r\nar BINARY[7] NIL BINARY.SIZE[7] 0)\r\n")
    assert wire((BinarySize(()),)) == b"* 1 FETCH (BINARY.SIZE[] %d)\r\n" % len(EXAMPLE)


def test_binary_quoted_printable_and_whole_message() -> None:
    data = (b"Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
            b"caf=C3=A9 =\r\nau lait\r\n")
    assert wire((BinarySection((1,)),), data) == \
        b"* 1 FETCH (BINARY[1] {15}\r\ncaf\xc3\xa9 au lait\r\n)\r\n"
    assert wire((BinarySection(()),), data) == b"* 1 FETCH (BINARY[] " + literal(data) + b")\r\n"


def test_binary_unknown_encoding_raises_unknown_cte() -> None:
    data = b"Content-Type: text/plain\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbegin\r\n"
    for item in (BinarySection((1,)), BinarySize((1,))):
        with pytest.raises(FetchError) as raised:
            wire((item,), data)
        assert raised.value.code == "UNKNOWN-CTE"
    assert wire((body((1,)),), data) == b"* 1 FETCH (BODY[1] {7}\r\nbegin\r\n)\r\n"


@pytest.mark.parametrize("data", [
    EXAMPLE,
    b"From: \"A, B\" <a@b>, group: c@d, e@f;, @route1,@route2:x@y\r\nSubject: \r\n\r\n",
    "From: Jörg <jörg@bücher.example>\r\nReply-To: <r@x>\r\nSubject: Grüße\r\n\r\n".encode(),
    b"no header at all",
])
def test_stored_envelope_matches_the_envelope_objects(data: bytes) -> None:
    summary = mime.summarize(data, mime.parse_message(data))
    stored = json.loads(json.dumps(summary.to_json()))["envelope"]
    for utf8 in (False, True):
        assert stored_envelope_value(stored, utf8) == envelope_value(summary.envelope, utf8)


def test_stored_envelope_rejects_what_from_json_rejects() -> None:
    for bad in ({"subject": 5}, {"from": "x"}, {"to": [["a", None, "b"]]}, {"cc": [5]}):
        with pytest.raises(ValueError):
            stored_envelope_value(bad, False)
        with pytest.raises(ValueError):
            mime.Envelope.from_json(bad)
