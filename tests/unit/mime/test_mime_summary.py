"""summarize and search_text: envelope, decoded search fields, preview, attachments."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from postier.mime import (
    PREVIEW_LENGTH,
    Attachment,
    MessageSummary,
    extract,
    parse_message,
    search_text,
    summarize,
)
from postier.types import Address


def crlf(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode()


def summary_of(data: bytes) -> MessageSummary:
    return summarize(data, parse_message(data))


MESSAGE = crlf("""\
From: =?utf-8?q?J=C3=B6rg?= <joerg@example.com>
To: Team: a@example.com, "B" <b@example.com>;, c@example.com
Cc: =?iso-8859-1?q?Ren=E9?= <rene@example.com>
Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=
 aus Berlin
Date: Mon, 1 Jan 2024 10:00:00 +0000
Message-ID: <m1@example.com>
In-Reply-To: <m0@example.com>
References: <a@example.com>
 <m0@example.com>
Content-Type: multipart/mixed; boundary=b

--b
Content-Type: multipart/alternative; boundary=alt

--alt
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

Hallo   zusammen,=0A=0Ahier ist der Bericht.
--alt
Content-Type: text/html; charset=utf-8

<p>Hallo <b>zusammen</b></p>
--alt--
--b
Content-Type: application/pdf
Content-Disposition: attachment; filename*=utf-8''Bericht%20%E2%82%AC.pdf
Content-Transfer-Encoding: base64

AAAA
AAAA
--b
Content-Type: application/pgp-signature

sig
--b--
""")


def test_envelope_keeps_raw_strings() -> None:
    envelope = summary_of(MESSAGE).envelope
    assert envelope.subject == "=?utf-8?q?Gr=C3=BC=C3=9Fe?= aus Berlin"
    assert envelope.date == "Mon, 1 Jan 2024 10:00:00 +0000"
    assert envelope.message_id == "<m1@example.com>"
    assert envelope.in_reply_to == "<m0@example.com>"
    assert [a.to_json() for a in envelope.from_] == [
        ["=?utf-8?q?J=C3=B6rg?=", None, "joerg", "example.com"]]
    # Sender and Reply-To default to From (RFC 3501 §7.4.2)
    assert envelope.sender == envelope.from_ and envelope.reply_to == envelope.from_
    assert [a.to_json() for a in envelope.to] == [
        [None, None, "Team", None],
        [None, None, "a", "example.com"],
        ["B", None, "b", "example.com"],
        [None, None, None, None],
        [None, None, "c", "example.com"],
    ]
    assert envelope.to[0].is_group_start and envelope.to[3].is_group_end
    assert envelope.bcc == ()
    assert envelope.cc[0].to_address() == Address("rene", "example.com", "René")


def test_absent_fields_are_none_and_empty_ones_empty() -> None:
    envelope = summary_of(b"Subject:\r\nReply-To: r@example.com\r\n\r\n").envelope
    assert envelope.subject == ""
    assert envelope.date is None and envelope.message_id is None
    assert envelope.from_ == () and envelope.sender == ()
    assert [a.to_json() for a in envelope.reply_to] == [[None, None, "r", "example.com"]]


def test_decoded_search_fields() -> None:
    summary = summary_of(MESSAGE)
    assert summary.subject == "Grüße aus Berlin"
    assert summary.from_ == "Jörg <joerg@example.com>"
    assert summary.cc == "René <rene@example.com>"
    assert "b@example.com" in summary.to
    assert summary.date == datetime(2024, 1, 1, 10, 0, tzinfo=UTC)
    assert summary.message_id == "m1@example.com"
    assert summary.in_reply_to == ("m0@example.com",)
    assert summary.references == ("a@example.com", "m0@example.com")


def test_preview_prefers_plain_text_and_collapses_whitespace() -> None:
    assert summary_of(MESSAGE).preview == "Hallo zusammen, hier ist der Bericht."


def test_preview_from_html_and_length_cap() -> None:
    html = crlf("""\
Content-Type: text/html; charset=utf-8

<html><head><title>T</title><style>p {color: red}</style></head>
<body><!-- hidden --><p>Caf&eacute; &amp; more</p><script>alert(1)</script>
<div>""" + "word " * 100 + "</div></body></html>\n")
    preview = summary_of(html).preview
    assert preview.startswith("Café & more word word")
    assert len(preview) <= PREVIEW_LENGTH
    assert "alert" not in preview and "color" not in preview and "hidden" not in preview


def test_preview_of_message_without_text_is_empty() -> None:
    data = crlf("Content-Type: image/png\nContent-Transfer-Encoding: base64\n\niVBORw0K\n")
    assert summary_of(data).preview == ""


def test_attachments() -> None:
    summary = summary_of(MESSAGE)
    assert summary.attachments == (
        Attachment(path=(2,), filename="Bericht €.pdf", content_type="application/pdf", size=6),)
    assert summary.has_attachments
    assert extract(MESSAGE, parse_message(MESSAGE), (2,)) == b"AAAA\r\nAAAA"


def test_inline_resources_of_related_are_not_attachments() -> None:
    data = crlf("""\
Content-Type: multipart/related; boundary=r

--r
Content-Type: text/html

<img src="cid:logo">
--r
Content-Type: image/png
Content-ID: <logo>

png
--r--
""")
    summary = summary_of(data)
    assert summary.attachments == ()
    assert not summary.has_attachments


def test_forwarded_message_and_unnamed_binary_are_attachments() -> None:
    data = crlf("""\
Content-Type: multipart/mixed; boundary=b

--b

text body
--b
Content-Type: message/rfc822

Subject: inner
Content-Type: application/zip

zip
--b
Content-Type: image/gif

gif
--b
Content-Type: text/plain; name="notes.txt"

notes
--b--
""")
    summary = summary_of(data)
    assert [(a.path, a.content_type, a.filename) for a in summary.attachments] == [
        ((2,), "message/rfc822", ""), ((3,), "image/gif", ""),
        ((4,), "text/plain", "notes.txt")]
    assert summary.preview == "text body"


def test_single_part_message_that_is_an_attachment() -> None:
    data = crlf("Content-Type: application/pdf; name=\"a/b\\\\c.pdf\"\n\n%PDF\n")
    (attachment,) = summary_of(data).attachments
    assert (attachment.path, attachment.filename) == ((1,), "c.pdf")


def test_summary_json_round_trip() -> None:
    summary = summary_of(MESSAGE)
    stored = json.loads(json.dumps(summary.to_json()))
    assert stored["has_attachments"] is True
    assert MessageSummary.from_json(stored) == summary
    empty = summary_of(b"")
    assert MessageSummary.from_json(json.loads(json.dumps(empty.to_json()))) == empty


def test_search_text_decodes_and_strips() -> None:
    text = search_text(MESSAGE, parse_message(MESSAGE))
    assert "Hallo   zusammen,\n\nhier ist der Bericht." in text
    assert "Hallo zusammen" in text  # from the HTML alternative
    assert "<b>" not in text
    assert "AAAA" not in text  # not a text part


def test_search_text_charsets_and_attached_messages() -> None:
    data = (b"Content-Type: multipart/mixed; boundary=b\r\n\r\n"
            b"--b\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\ncaf\xe9\r\n"
            b"--b\r\nContent-Type: text/plain; charset=x-nonsense\r\n\r\nna\xc3\xafve \xff\r\n"
            b"--b\r\nContent-Type: text/html\r\n\r\n"
            b"<meta charset=\"koi8-r\"><p>\xf0\xd2\xc9\xd7\xc5\xd4</p>\r\n"
            b"--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: x\r\n\r\ninner words\r\n"
            b"--b--\r\n")
    assert search_text(data, parse_message(data)).split("\n") == [
        "café", "naïve \ufffd", "Привет", "inner words"]


def test_search_text_is_capped() -> None:
    data = b"Subject: big\r\n\r\n" + b"x" * 1_500_000
    assert len(search_text(data, parse_message(data))) == 1_000_000
