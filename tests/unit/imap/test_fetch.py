"""FETCH rendering: metadata items, ENVELOPE, sections, BINARY, and which items need what."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from postier import mime
from postier.imap.commands import (
    BinarySection,
    BinarySize,
    BodySection,
    FetchAttribute,
    FetchItem,
    Partial,
    Preview,
    Section,
    SectionText,
)
from postier.imap.fetch import (
    FetchContext,
    StructureCache,
    fetch_response,
    needs_body,
    render_fetch,
    sets_seen,
)
from postier.imap.responses import Atom, serialize
from postier.types import BlobId, MailboxId, MessageId, MessageRecord, ModSeq, Uid

A = FetchAttribute

RFC_MESSAGE = (
    b"Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\r\n"
    b"From: Fred Foobar <foobar@Blurdybloop.COM>\r\n"
    b"Subject: afternoon meeting\r\n"
    b"To: mooch@owatagu.siam.edu\r\n"
    b"Message-Id: <B27397-0100000@Blurdybloop.COM>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n"
    b"\r\n"
    b"Hello Joe, do you think we can meet at 3:30 tomorrow?\r\n"
)


def make_record(data: bytes, *, uid: int = 1, flags: frozenset[str] = frozenset(),
                prefix: bytes = b"") -> MessageRecord:
    tree = mime.parse_message(data)
    summary = mime.summarize(data, tree)
    return MessageRecord(
        MessageId(uid), MailboxId(1), Uid(uid), ModSeq(7), flags,
        datetime(1994, 2, 8, 5, 52, 25, tzinfo=UTC), len(prefix) + len(data),
        BlobId("0123456789abcdef" * 4), prefix,
        structure_json=json.dumps(tree.shifted(len(prefix)).to_json()),
        summary_json=json.dumps(summary.to_json()),
    )


def fetch(items: tuple[FetchItem, ...], data: bytes, *, utf8: bool = False,
          body: bool = True, **options: object) -> bytes:
    record = options.pop("record", None) or make_record(data)
    assert isinstance(record, MessageRecord)
    ctx = FetchContext(1, record, record.header_prefix + data if body else None, utf8=utf8,
                       rev2=utf8)
    response = fetch_response(items, ctx, **options)  # type: ignore[arg-type]
    return b"".join(serialize(response, utf8=utf8))


def test_metadata_items_in_the_order_asked() -> None:
    record = make_record(RFC_MESSAGE, flags=frozenset({"$Forwarded", "\\Seen", "\\Answered"}))
    out = fetch((A.FLAGS, A.INTERNALDATE, A.RFC822_SIZE, A.UID, A.MODSEQ), RFC_MESSAGE,
                record=record, body=False)
    assert out == (b"* 1 FETCH (FLAGS (\\Seen \\Answered $Forwarded) INTERNALDATE "
                   b'"08-Feb-1994 05:52:25 +0000" RFC822.SIZE 310 UID 1 MODSEQ (7))\r\n')


def test_flags_and_modseq_overrides_and_implied_items() -> None:
    out = fetch((A.FLAGS,), RFC_MESSAGE, body=False, flags=frozenset({"\\Deleted"}),
                modseq=99, include_uid=True, include_modseq=True)
    assert out == b"* 1 FETCH (UID 1 FLAGS (\\Deleted) MODSEQ (99))\r\n"
    out = fetch((A.UID, A.ENVELOPE), RFC_MESSAGE, body=False, include_uid=True,
                include_flags=True)
    assert out.startswith(b"* 1 FETCH (UID 1 ENVELOPE (") and out.endswith(b" FLAGS ())\r\n")


def test_envelope_and_bodystructure_of_the_rfc_example() -> None:
    """RFC 9051 §7.5.2 / RFC 3501 §7.4.2 message, rendered as Dovecot and Cyrus do."""
    out = fetch((A.ENVELOPE, A.BODYSTRUCTURE, A.BODY), RFC_MESSAGE, body=False)
    assert out == (
        b'* 1 FETCH (ENVELOPE ("Mon, 7 Feb 1994 21:52:25 -0800 (PST)" "afternoon meeting" '
        b'(("Fred Foobar" NIL "foobar" "Blurdybloop.COM")) '
        b'(("Fred Foobar" NIL "foobar" "Blurdybloop.COM")) '
        b'(("Fred Foobar" NIL "foobar" "Blurdybloop.COM")) '
        b'((NIL NIL "mooch" "owatagu.siam.edu")) NIL NIL NIL '
        b'"<B27397-0100000@Blurdybloop.COM>") '
        b'BODYSTRUCTURE ("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 55 1 '
        b'NIL NIL NIL NIL) '
        b'BODY ("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 55 1))\r\n'
    )


def test_envelope_groups_empty_fields_and_missing_fields() -> None:
    data = (b"From: a@example.com\r\nTo: Team: b@example.com, \"C D\" <c@example.com>;\r\n"
            b"Cc: undisclosed-recipients:;\r\nSubject:\r\n\r\nbody\r\n")
    out = fetch((A.ENVELOPE,), data, body=False)
    assert out == (
        b'* 1 FETCH (ENVELOPE (NIL "" ((NIL NIL "a" "example.com")) '
        b'((NIL NIL "a" "example.com")) ((NIL NIL "a" "example.com")) '
        b'((NIL NIL "Team" NIL)(NIL NIL "b" "example.com")("C D" NIL "c" "example.com")'
        b"(NIL NIL NIL NIL)) "
        b'((NIL NIL "undisclosed-recipients" NIL)(NIL NIL NIL NIL)) NIL NIL NIL))\r\n'
    )


def test_envelope_8bit_text_is_downgraded_for_imap4rev1_only() -> None:
    data = ("From: Jörg <jörg@bücher.example>\r\nSubject: Grüße\r\n\r\nhallo\r\n").encode()
    rev1 = fetch((A.ENVELOPE,), data, body=False)
    assert b'"=?UTF-8?B?R3LDvMOfZQ==?="' in rev1  # Grüße
    assert b'(("=?UTF-8?B?SsO2cmc=?=" NIL "=?UTF-8?B?asO2cmc=?=" "xn--bcher-kva.example"))' \
        in rev1
    assert rev1.isascii()
    rev2 = fetch((A.ENVELOPE,), data, utf8=True, body=False)
    assert '"Grüße" (("Jörg" NIL "jörg" "bücher.example"))'.encode() in rev2


def test_message_rfc822_uses_stored_envelope_and_structure() -> None:
    inner = (b"From: inner@example.com\r\nSubject: inner\r\nContent-Type: text/html\r\n\r\n"
             b"<p>hi</p>\r\n")
    data = (b"From: outer@example.com\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
            b"--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit"
            b"\r\n\r\nsee attached\r\n--b\r\nContent-Type: message/rfc822\r\n"
            b"Content-Disposition: attachment\r\n\r\n" + inner + b"--b--\r\n")
    out = fetch((A.BODYSTRUCTURE,), data, body=False)
    assert out == (
        b'* 1 FETCH (BODYSTRUCTURE (("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "8BIT" 12 1 '
        b'NIL NIL NIL NIL)("MESSAGE" "RFC822" NIL NIL NIL "7BIT" ' + str(len(inner) - 2).encode()
        + b' (NIL "inner" ((NIL NIL "inner" "example.com")) ((NIL NIL "inner" "example.com")) '
        b'((NIL NIL "inner" "example.com")) NIL NIL NIL NIL NIL) '
        b'("TEXT" "HTML" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 9 1 NIL NIL NIL NIL) 5 '
        b'NIL ("ATTACHMENT" NIL) NIL NIL) "MIXED" ("BOUNDARY" "b") NIL NIL NIL))\r\n'
    )
    body = fetch((A.BODY,), data, body=False)
    assert b'"7BIT" 9 1) 5) "MIXED")' in body  # no extension data anywhere in BODY


def test_parameters_disposition_language_location() -> None:
    data = (b"Content-Type: multipart/mixed; boundary=\"xx\"\r\nContent-Language: en\r\n\r\n"
            b"--xx\r\nContent-Type: application/pdf; name*=UTF-8''%E2%82%AC.pdf\r\n"
            b"Content-Transfer-Encoding: base64\r\nContent-ID: <id@x>\r\n"
            b"Content-Description: the bill\r\nContent-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\r\n"
            b"Content-Disposition: attachment; filename=\"bill.pdf\"; size=3\r\n"
            b"Content-Language: en, de\r\nContent-Location: http://x.example/b.pdf\r\n\r\n"
            b"AAAA\r\n--xx--\r\n")
    part = ('("APPLICATION" "PDF" ({}) "<id@x>" "the bill" "BASE64" 4 '
            '"Q2hlY2sgSW50ZWdyaXR5IQ==" ("ATTACHMENT" ("FILENAME" "bill.pdf" "SIZE" "3")) '
            '("en" "de") "http://x.example/b.pdf")')
    rev1 = fetch((A.BODYSTRUCTURE,), data, body=False)
    assert rev1 == ("* 1 FETCH (BODYSTRUCTURE ("
                    + part.format('"NAME*" "UTF-8\'\'%E2%82%AC.pdf"')
                    + ' "MIXED" ("BOUNDARY" "xx") NIL ("en") NIL))\r\n').encode()
    rev2 = fetch((A.BODYSTRUCTURE,), data, body=False, utf8=True)
    assert part.format('"NAME" "€.pdf"').encode() in rev2


def test_rfc3501_multipart_example() -> None:
    """The BODY example of RFC 3501 §7.4.2, with bodies of exactly those sizes and lines."""
    text = b"\r\n".join([b"x" * 50] * 22 + [b"y" * 8])
    encoded = b"\r\n".join([b"A" * 61] * 72 + [b"B" * 18])
    assert (len(text), len(encoded)) == (1152, 4554)
    data = (b"Content-Type: MULTIPART/MIXED; BOUNDARY=\"z\"\r\n\r\n--z\r\n"
            b"Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n\r\n" + text + b"\r\n--z\r\n"
            b"Content-Type: TEXT/PLAIN; CHARSET=US-ASCII; NAME=cc.diff\r\n"
            b"Content-ID: <960723163407.20117h@cac.washington.edu>\r\n"
            b"Content-Description: Compiler diff\r\nContent-Transfer-Encoding: BASE64\r\n\r\n"
            + encoded + b"\r\n--z--\r\n")
    out = fetch((A.BODY,), data, body=False)
    assert out == (
        b'* 1 FETCH (BODY (("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 1152 23)'
        b'("TEXT" "PLAIN" ("CHARSET" "US-ASCII" "NAME" "cc.diff") '
        b'"<960723163407.20117h@cac.washington.edu>" "Compiler diff" "BASE64" 4554 73) '
        b'"MIXED"))\r\n'
    )


def test_defaults_and_damaged_structures() -> None:
    bare = b"Subject: no MIME at all\r\n\r\nplain\r\n"
    assert b'("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 7 1)' in \
        fetch((A.BODY,), bare, body=False)
    partless = b"Content-Type: multipart/mixed\r\n\r\nno boundary\r\n"
    assert fetch((A.BODYSTRUCTURE,), partless, body=False) == (
        b'* 1 FETCH (BODYSTRUCTURE (("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 0 0 '
        b'NIL NIL NIL NIL) "MIXED" NIL NIL NIL NIL))\r\n')
    encoded = (b"Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n"
               b"U3ViamVjdDogaGkNCg0KaGkNCg==\r\n")
    assert fetch((A.BODY,), encoded, body=False) == (
        b'* 1 FETCH (BODY ("MESSAGE" "RFC822" NIL NIL NIL "BASE64" 30 '
        b"(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) "
        b'("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 0 0) 1))\r\n')


def test_corrupt_stored_json_falls_back() -> None:
    record = make_record(RFC_MESSAGE)
    broken = MessageRecord(record.id, record.mailbox_id, record.uid, record.modseq,
                           record.flags, record.internal_date, record.size, record.blob_id,
                           b"", structure_json="{not json", summary_json='{"envelope": 5}')
    reparsed = fetch((A.BODY, A.ENVELOPE), RFC_MESSAGE, record=broken)
    assert b'"7BIT" 55 1)' in reparsed and b"ENVELOPE (NIL NIL NIL" in reparsed
    blind = fetch((A.BODY,), RFC_MESSAGE, record=broken, body=False)
    assert blind == b'* 1 FETCH (BODY ("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL ' \
        b'"7BIT" 310 0))\r\n'


def test_preview() -> None:
    assert fetch((Preview(),), RFC_MESSAGE, body=False).endswith(
        b'(PREVIEW "Hello Joe, do you think we can meet at 3:30 tomorrow?")\r\n')
    image = b"Content-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\nAAAA\r\n"
    assert fetch((Preview(lazy=True),), image, body=False) == b'* 1 FETCH (PREVIEW "")\r\n'


def test_object_ids_and_save_date() -> None:
    record = make_record(RFC_MESSAGE)
    ctx = FetchContext(3, record, None, utf8=False, rev2=False, thread_id="T1")
    wire = b"".join(serialize(fetch_response((A.EMAILID, A.THREADID, A.SAVEDATE), ctx)))
    assert wire == b"* 3 FETCH (EMAILID (M0123456789abcdef0123456789abcdef) THREADID (T1) " \
        b"SAVEDATE NIL)\r\n"
    saved = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
    ctx = FetchContext(3, record, None, utf8=False, rev2=False, email_id="E 1\r\n",
                       save_date=saved)
    assert render_fetch((A.EMAILID, A.THREADID, A.SAVEDATE), ctx)[1::2] == (
        (Atom("E1"),), None, "06-May-2024 07:08:09 +0000")


def test_needs_body_and_sets_seen() -> None:
    cheap: list[FetchItem] = [A.ENVELOPE, A.BODYSTRUCTURE, A.BODY, Preview(), A.FLAGS, A.UID,
                              A.INTERNALDATE, A.RFC822_SIZE, A.MODSEQ, A.EMAILID]
    assert not needs_body(cheap) and not sets_seen(cheap)
    for item in (BodySection(), BinarySection((1,)), BinarySize((1,)), A.RFC822,
                 A.RFC822_HEADER, A.RFC822_TEXT):
        assert needs_body([*cheap, item])
    for item in (BodySection(), BinarySection(()), A.RFC822, A.RFC822_TEXT):
        assert sets_seen([item])
    for item in (BodySection(peek=True), BinarySection(peek=True), BinarySize(()),
                 A.RFC822_HEADER):
        assert not sets_seen([item])


def test_structure_cache_is_bounded_and_reused() -> None:
    cache = StructureCache(size=2)
    records = [make_record(RFC_MESSAGE, uid=n) for n in (1, 2, 3)]
    first = cache.entry(records[0])
    assert cache.entry(records[0]) is first
    cache.entry(records[1])
    cache.entry(records[2])
    assert cache.entry(records[0]) is not first  # evicted: the least recently used
    ctx = FetchContext(1, records[1], None, utf8=False, rev2=False)
    render_fetch((A.BODYSTRUCTURE,), ctx, cache=cache)
    assert cache.entry(records[1]).tree is None  # pre-encoded at delivery: nothing parsed
    render_fetch((A.BODY,), ctx, cache=cache)  # BODY is rendered from the part tree
    assert cache.entry(records[1]).tree is not None


def test_body_without_bytes_is_a_caller_error() -> None:
    with pytest.raises(ValueError, match="needs the message body"):
        fetch((BodySection(Section(text=SectionText.TEXT)),), RFC_MESSAGE, body=False)


def test_partial_fetch_name_and_range() -> None:
    section = BodySection(Section(), Partial(0, 4))
    assert fetch((section,), RFC_MESSAGE) == b"* 1 FETCH (BODY[]<0> {4}\r\nDate)\r\n"
    beyond = BodySection(Section((1,)), Partial(10_000, 5), peek=True)
    assert fetch((beyond,), RFC_MESSAGE) == b"* 1 FETCH (BODY[1]<10000> {0}\r\n)\r\n"
