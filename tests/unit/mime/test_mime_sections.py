"""Section numbering and extraction, on the example of RFC 9051 §6.4.5."""

from __future__ import annotations

import pytest

from postier.mime import decode_body, extract, parse_message, resolve

RFC9051_EXAMPLE = """\
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

DATA = RFC9051_EXAMPLE
TREE = parse_message(DATA)

THREE_HEADER = b'Subject: part 3\r\nContent-Type: MULTIPART/MIXED; boundary="three"\r\n\r\n'
THREE_TEXT = (b"--three\r\nContent-Type: TEXT/PLAIN\r\n\r\npart 3.1\r\n--three\r\n"
              b"Content-Type: APPLICATION/OCTET-STREAM\r\n\r\npart 3.2\r\n--three--")
FOUR_TWO_HEADER = (b'Subject: part 4.2\r\nContent-Type: MULTIPART/MIXED; boundary="four-two"'
                   b"\r\n\r\n")


def section(path: tuple[int, ...], spec: str = "", fields: tuple[str, ...] = ()) -> bytes:
    return extract(DATA, TREE, path, spec, fields)


def test_whole_message_header_and_text() -> None:
    assert section(()) == DATA
    header, text = section((), "HEADER"), section((), "TEXT")
    assert header == (b'From: a@example.com\r\nSubject: top\r\n'
                      b'Content-Type: MULTIPART/MIXED; boundary="top"\r\n\r\n')
    assert header + text == DATA
    assert text.startswith(b"--top\r\n") and text.endswith(b"--top--\r\n")


@pytest.mark.parametrize(("path", "content"), [
    ((1,), b"part 1"),
    ((2,), b"cGFydCAy"),
    ((3,), THREE_HEADER + THREE_TEXT),
    ((3, 1), b"part 3.1"),
    ((3, 2), b"part 3.2"),
    ((4, 1), b"part 4.1"),
    ((4, 2, 1), b"part 4.2.1"),
    ((4, 2, 2, 1), b"part 4.2.2.1"),
    ((4, 2, 2, 2), b"part 4.2.2.2"),
])
def test_numbered_parts(path: tuple[int, ...], content: bytes) -> None:
    assert section(path) == content


def test_multipart_parts_are_their_mime_bodies() -> None:
    four = section((4,))
    assert four.startswith(b"--four\r\nContent-Type: IMAGE/GIF\r\n\r\npart 4.1\r\n")
    assert four.endswith(b"--four-two--\r\n--four--")
    alternative = section((4, 2, 2))
    assert alternative.startswith(b"--alt\r\n") and alternative.endswith(b"--alt--")


def test_embedded_message_header_and_text() -> None:
    assert section((3,), "HEADER") == THREE_HEADER
    assert section((3,), "TEXT") == THREE_TEXT
    assert section((4, 2), "HEADER") == FOUR_TWO_HEADER
    assert section((4, 2), "TEXT").startswith(b"--four-two\r\n")
    assert section((4, 2), "HEADER.FIELDS", ("SUBJECT",)) == b"Subject: part 4.2\r\n\r\n"


def test_mime_headers() -> None:
    assert section((4, 1), "MIME") == b"Content-Type: IMAGE/GIF\r\n\r\n"
    assert section((4, 2), "MIME") == b"Content-Type: MESSAGE/RFC822\r\n\r\n"
    assert section((2,), "mime") == (b"Content-Type: APPLICATION/OCTET-STREAM\r\n"
                                     b"Content-Transfer-Encoding: base64\r\n\r\n")


@pytest.mark.parametrize(("path", "spec"), [
    ((5,), ""), ((0,), ""), ((-1,), ""), ((1, 1), ""), ((4, 3), ""), ((4, 2, 2, 3), ""),
    ((3, 3), ""), ((4, 1, 1), ""), ((), "MIME"), ((1,), "HEADER"), ((4,), "TEXT"),
    ((1,), "BOGUS"), ((), "HEADER.FIELDS.BOGUS"),
])
def test_nonexistent_sections_are_empty(path: tuple[int, ...], spec: str) -> None:
    assert section(path, spec) == b""


def test_resolve() -> None:
    four_two = resolve(TREE, (4, 2))
    assert four_two is not None and four_two.content_type == "message/rfc822"
    assert resolve(TREE, ()) is TREE.root
    assert resolve(TREE, (9,)) is None
    two = resolve(TREE, (2,))
    assert two is not None and decode_body(DATA, two) == b"part 2"


SIMPLE = (b"Subject: simple\r\nFrom: a@example.com\r\nTo: b@example.com\r\n"
          b"X-Fold: one\r\n two\r\n\r\nbody\r\n")


def test_non_multipart_message_has_only_part_one() -> None:
    tree = parse_message(SIMPLE)
    assert extract(SIMPLE, tree, (1,)) == b"body\r\n"
    assert extract(SIMPLE, tree, (1,), "MIME") == extract(SIMPLE, tree, (), "HEADER")
    assert extract(SIMPLE, tree, (2,)) == b""
    assert extract(SIMPLE, tree, (1, 1)) == b""


def test_header_fields_in_message_order_with_blank_line() -> None:
    tree = parse_message(SIMPLE)
    assert extract(SIMPLE, tree, (), "HEADER.FIELDS", ("to", "SUBJECT", "x-fold")) == (
        b"Subject: simple\r\nTo: b@example.com\r\nX-Fold: one\r\n two\r\n\r\n")
    assert extract(SIMPLE, tree, (), "header.fields.not", ("Subject", "X-FOLD")) == (
        b"From: a@example.com\r\nTo: b@example.com\r\n\r\n")
    assert extract(SIMPLE, tree, (), "HEADER.FIELDS", ("absent",)) == b"\r\n"


def test_header_fields_of_lf_only_and_header_only_messages() -> None:
    lf_only = b"Subject: s\nFrom: f\n\nbody\n"
    assert extract(lf_only, parse_message(lf_only), (), "HEADER.FIELDS", ("from",)) == (
        b"From: f\n\n")
    header_only = b"Subject: s\r\nFrom: f"
    assert extract(header_only, parse_message(header_only), (), "HEADER.FIELDS", ("from",)) == (
        b"From: f\r\n\r\n")
    assert extract(header_only, parse_message(header_only), (), "TEXT") == b""


def test_embedded_non_multipart_message_part_one_is_its_body() -> None:
    data = (b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
            b"Content-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\ninner body\r\n--b--\r\n")
    tree = parse_message(data)
    assert extract(data, tree, (1, 1)) == b"inner body"
    assert extract(data, tree, (1, 1), "MIME") == b"Subject: inner\r\n\r\n"
    assert extract(data, tree, (1, 2)) == b""


def test_decode_body() -> None:
    data = (b"Content-Type: multipart/mixed; boundary=b\r\n\r\n"
            b"--b\r\nContent-Transfer-Encoding: base64\r\n\r\nSGVs\r\n bG8= !*\r\n"
            b"--b\r\nContent-Transfer-Encoding: Quoted-Printable\r\n\r\nsoft=\r\nbreak=3D\r\n"
            b"--b\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\xff\xfe\r\n"
            b"--b\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbegin\r\n--b--\r\n")
    parts = parse_message(data).root.children
    assert [decode_body(data, p) for p in parts] == [b"Hello", b"softbreak=", b"\xff\xfe", None]
