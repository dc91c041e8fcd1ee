"""parse_message: offsets into the original bytes and the MIME fields of every part."""

from __future__ import annotations

import json

import pytest

from postier.mime import MAX_DEPTH, MessageTree, Part, decode_body, parse_message


def crlf(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode()


def body(data: bytes, part: Part) -> bytes:
    return data[part.body_start:part.end]


def header(data: bytes, part: Part) -> bytes:
    return data[part.start:part.body_start]


SIMPLE = crlf("From: a@example.com\nSubject: hi\n\nHello\nWorld\n")

ALTERNATIVE = crlf("""\
Content-Type: multipart/alternative; boundary="alt"

--alt
Content-Type: text/plain; charset=utf-8

plain
--alt
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: quoted-printable

<p>html=3D</p>
--alt--
""")

MIXED = crlf("""\
Subject: with attachment
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=outer

This is a preamble.
--outer
Content-Type: multipart/alternative; boundary="outer-inner"

--outer-inner
Content-Type: text/plain

inner plain
--outer-inner
Content-Type: text/html

<b>inner</b>
--outer-inner--

--outer
Content-Type: application/pdf; name="report.pdf"
Content-Disposition: attachment; filename="report.pdf"; size=3
Content-Transfer-Encoding: base64
Content-ID: <pdf@example.com>
Content-Description: The report
Content-Language: en, de
Content-Location: http://example.com/report.pdf
Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==

UEQg
Rg==
--outer--
epilogue
""")

FORWARD = crlf("""\
Content-Type: multipart/mixed; boundary=b

--b
Content-Type: text/plain

see below
--b
Content-Type: message/rfc822

From: Old <old@example.com>
To: group: x@example.com;
Subject: =?utf-8?q?Alt?=
Date: Tue, 2 Jan 2024 09:00:00 +0000
Message-ID: <old@example.com>
Content-Type: text/plain

old body
--b--
""")


def test_simple_text() -> None:
    tree = parse_message(SIMPLE)
    root = tree.root
    assert (root.start, root.end) == (0, len(SIMPLE))
    assert body(SIMPLE, root) == b"Hello\r\nWorld\r\n"
    assert header(SIMPLE, root).endswith(b"Subject: hi\r\n\r\n")
    assert (root.media_type, root.subtype) == ("text", "plain")
    assert root.params == {"charset": "us-ascii"}
    assert root.encoding == "7bit"
    assert root.size == 14
    assert root.lines == 2
    assert root.children == () and root.message is None


def test_multipart_alternative() -> None:
    tree = parse_message(ALTERNATIVE)
    plain, html = tree.root.children
    assert tree.root.content_type == "multipart/alternative"
    assert tree.root.params == {"boundary": "alt"}
    # the CRLF before each delimiter belongs to the delimiter (RFC 2046 §5.1.1)
    assert body(ALTERNATIVE, plain) == b"plain"
    assert header(ALTERNATIVE, plain) == b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
    assert body(ALTERNATIVE, html) == b"<p>html=3D</p>"
    assert html.encoding == "quoted-printable"
    assert decode_body(ALTERNATIVE, html) == b"<p>html=</p>"
    assert plain.lines == 1


def test_multipart_mixed_with_attachment_and_nested_alternative() -> None:
    tree = parse_message(MIXED)
    alternative, pdf = tree.root.children
    assert alternative.content_type == "multipart/alternative"
    assert [body(MIXED, p) for p in alternative.children] == [b"inner plain", b"<b>inner</b>"]
    # the part ends before the CRLF of the delimiter; the empty line after the inner close
    # delimiter is the inner multipart's epilogue
    assert body(MIXED, alternative).endswith(b"--outer-inner--\r\n")
    assert pdf.content_type == "application/pdf"
    assert pdf.params == {"name": "report.pdf"}
    assert pdf.disposition == "attachment"
    assert pdf.disposition_params == {"filename": "report.pdf", "size": "3"}
    assert pdf.encoding == "base64"
    assert pdf.content_id == "<pdf@example.com>"
    assert pdf.description == "The report"
    assert pdf.language == ("en", "de")
    assert pdf.location == "http://example.com/report.pdf"
    assert pdf.md5 == "Q2hlY2sgSW50ZWdyaXR5IQ=="
    assert body(MIXED, pdf) == b"UEQg\r\nRg=="
    assert decode_body(MIXED, pdf) == b"PD F"


def test_message_rfc822_part_has_embedded_message_and_envelope() -> None:
    tree = parse_message(FORWARD)
    _text, forwarded = tree.root.children
    assert forwarded.content_type == "message/rfc822"
    inner = forwarded.message
    assert inner is not None
    assert (inner.start, inner.end) == (forwarded.body_start, forwarded.end)
    assert body(FORWARD, inner) == b"old body"
    assert inner.content_type == "text/plain"
    assert forwarded.lines == 8  # six header lines, the blank line, the body
    envelope = forwarded.envelope
    assert envelope is not None
    assert envelope.subject == "=?utf-8?q?Alt?="
    assert envelope.message_id == "<old@example.com>"
    assert [a.to_json() for a in envelope.from_] == [["Old", None, "old", "example.com"]]
    assert envelope.sender == envelope.from_ == envelope.reply_to
    assert [a.to_json() for a in envelope.to] == [
        [None, None, "group", None], [None, None, "x", "example.com"], [None, None, None, None]]


def test_encoded_message_rfc822_is_a_leaf() -> None:
    data = crlf("Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n"
                "U3ViamVjdDogaGkK\n")
    root = parse_message(data).root
    assert root.message is None and root.envelope is None


def test_lf_only_message() -> None:
    data = ALTERNATIVE.replace(b"\r\n", b"\n")
    tree = parse_message(data)
    plain, html = tree.root.children
    assert body(data, plain) == b"plain"
    assert header(data, plain) == b"Content-Type: text/plain; charset=utf-8\n\n"
    assert body(data, html) == b"<p>html=3D</p>"


def test_missing_closing_boundary_runs_last_part_to_the_end() -> None:
    data = crlf("Content-Type: multipart/mixed; boundary=b\n\n--b\n\none\n--b\n\ntwo\n")
    first, second = parse_message(data).root.children
    assert body(data, first) == b"one"
    assert body(data, second) == b"two\r\n"
    assert second.end == len(data)


def test_truncated_inner_multipart_stops_at_outer_delimiter() -> None:
    data = crlf("""\
Content-Type: multipart/mixed; boundary=out

--out
Content-Type: multipart/mixed; boundary=in

--in

inner text
--out

last
--out--
""")
    inner, last = parse_message(data).root.children
    assert body(data, inner.children[0]) == b"inner text"
    assert body(data, last) == b"last"


def test_boundary_that_prefixes_another_is_not_confused() -> None:
    data = crlf("""\
Content-Type: multipart/mixed; boundary=x

--x
Content-Type: multipart/alternative; boundary=x-1

--x-1

a
--x-1--
--x

b
--x--
""")
    nested, b_part = parse_message(data).root.children
    assert [body(data, p) for p in nested.children] == [b"a"]
    assert body(data, b_part) == b"b"


def test_multipart_without_boundary_is_a_leaf_of_its_declared_type() -> None:
    data = crlf("Content-Type: multipart/mixed\n\n--b\n\nx\n--b--\n")
    root = parse_message(data).root
    assert root.content_type == "multipart/mixed"
    assert root.children == ()
    assert not root.is_multipart


def test_multipart_whose_boundary_never_appears_has_no_children() -> None:
    data = crlf("Content-Type: multipart/mixed; boundary=zz\n\njust text\n")
    assert parse_message(data).root.children == ()


def test_empty_parts_between_adjacent_delimiters() -> None:
    data = crlf("Content-Type: multipart/mixed; boundary=b\n\n--b\n--b\n\nx\n--b--\n")
    empty, x = parse_message(data).root.children
    assert empty.start == empty.body_start == empty.end
    assert body(data, x) == b"x"


def test_digest_parts_default_to_message_rfc822() -> None:
    data = crlf("Content-Type: multipart/digest; boundary=d\n\n"
                "--d\n\nSubject: one\n\nbody\n--d--\n")
    (part,) = parse_message(data).root.children
    assert part.content_type == "message/rfc822"
    assert part.message is not None and part.envelope is not None
    assert part.envelope.subject == "one"


def test_invalid_content_type_defaults_to_text_plain() -> None:
    root = parse_message(b"Content-Type: garbage\r\n\r\nx").root
    assert (root.content_type, root.params) == ("text/plain", {"charset": "us-ascii"})


def test_header_only_and_empty_messages() -> None:
    header_only = b"Subject: no body\r\nFrom: a@b\r\n"
    root = parse_message(header_only).root
    assert root.body_start == root.end == len(header_only)
    assert root.lines == 0
    empty = parse_message(b"").root
    assert (empty.start, empty.body_start, empty.end) == (0, 0, 0)
    blank_header = parse_message(b"\r\nbody").root
    assert (blank_header.body_start, blank_header.end) == (2, 6)


def test_empty_body() -> None:
    data = b"Subject: x\r\n\r\n"
    root = parse_message(data).root
    assert root.body_start == root.end == len(data)
    assert root.lines == 0


def test_rfc2231_filename() -> None:
    data = crlf("""\
Content-Type: application/octet-stream;
 name*0*=UTF-8''%E2%82%AC%20;
 name*1="invoice.pdf"
Content-Disposition: attachment; filename*=utf-8''%C3%BCber.pdf

x
""")
    root = parse_message(data).root
    assert root.params == {"name": "€ invoice.pdf"}
    assert root.disposition_params == {"filename": "über.pdf"}


def test_deep_nesting_is_capped() -> None:
    depth = MAX_DEPTH + 20
    opening = "".join(f"Content-Type: multipart/mixed; boundary=b{i}\n\n--b{i}\n"
                      for i in range(depth))
    data = crlf(opening + "\ntext\n")
    tree = parse_message(data)
    levels = 0
    part = tree.root
    while part.children:
        part = part.children[0]
        levels += 1
    assert levels == MAX_DEPTH


def test_offsets_are_ordered_and_nested() -> None:
    for data in (SIMPLE, ALTERNATIVE, MIXED, FORWARD):
        for part in parse_message(data).walk():
            assert 0 <= part.start <= part.body_start <= part.end <= len(data)
            previous_end = part.body_start
            for child in part.children:
                assert previous_end <= child.start <= child.end <= part.end
                previous_end = child.end


def test_json_round_trip() -> None:
    for data in (SIMPLE, ALTERNATIVE, MIXED, FORWARD):
        tree = parse_message(data)
        stored = json.loads(json.dumps(tree.to_json()))
        assert MessageTree.from_json(stored) == tree


def test_from_json_refuses_other_formats() -> None:
    with pytest.raises(ValueError):
        MessageTree.from_json({"format": 999, "root": {}})
    with pytest.raises(ValueError):
        MessageTree.from_json({"format": 1, "root": {"start": "zero"}})


def test_shifted_matches_parsing_with_a_prefix() -> None:
    prefix = b"Return-Path: <a@example.com>\r\nReceived: from x by y; Mon, 1 Jan 2024\r\n"
    for data in (SIMPLE, ALTERNATIVE, MIXED, FORWARD):
        shifted = parse_message(data).shifted(len(prefix))
        assert shifted == parse_message(prefix + data)
        assert shifted.root.start == 0
