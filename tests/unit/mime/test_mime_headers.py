"""Header fields, RFC 2047 words, addresses, Message-IDs and dates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from postier.mime import (
    decode_words,
    header_fields,
    parse_addresses,
    parse_date,
    parse_message_ids,
    unfold,
)
from postier.mime.address_list import GroupEnd, GroupStart, RawMailbox, parse_address_list
from postier.mime.params import parse_parameterized
from postier.types import Address


def test_header_fields_keep_raw_bytes_and_stop_at_blank_line() -> None:
    block = b"Subject: hello\r\n  world\r\nX-Empty:\r\nbroken line\r\n\r\nBody: no\r\n"
    fields = header_fields(block)
    assert [f.name for f in fields] == ["Subject", "X-Empty", ""]
    assert fields[0].raw == b"Subject: hello\r\n  world\r\n"
    assert fields[0].value == "hello  world"
    assert fields[1].value == ""
    assert fields[2].value == "broken line"


def test_header_fields_read_8bit_values_as_utf8_or_windows_1252() -> None:
    fields = header_fields("Subject: Grüße\n".encode() + b"X-Latin: caf\xe9\n")
    assert [f.value for f in fields] == ["Grüße", "café"]


def test_unfold() -> None:
    assert unfold("a\r\n b\n\tc") == "a b\tc"


@pytest.mark.parametrize(("raw", "decoded"), [
    ("=?utf-8?q?J=C3=B6rg_M=C3=BCller?=", "Jörg Müller"),
    ("=?UTF-8?B?SsO2cmc=?=", "Jörg"),
    ("=?iso-8859-1?q?caf=E9?=", "café"),
    # whitespace between adjacent encoded-words disappears (RFC 2047 §6.2)...
    ("=?utf-8?q?a?= =?utf-8?q?b?=", "ab"),
    ("=?utf-8?q?a?=\r\n =?iso-8859-1?q?=E9?=", "aé"),
    # ... but not between an encoded-word and ordinary text
    ("=?utf-8?q?a?= b", "a b"),
    ("a =?utf-8?q?b?= c", "a b c"),
    # mixed charsets in one value
    ("=?koi8-r?b?8NLJ18XU?= and =?utf-8?b?5pel5pys?=", "Привет and 日本"),
    # a multi-byte character split across two words of one charset
    ("=?utf-8?b?ww==?= =?utf-8?b?qQ==?=", "é"),
    ("=?utf-8?b?w6k=?= =?utf-8?b?w6k=?=", "éé"),
    # RFC 2231 language suffix in the charset
    ("=?utf-8*en?q?hi?=", "hi"),
    ("no words here", "no words here"),
])
def test_decode_words(raw: str, decoded: str) -> None:
    assert decode_words(raw) == decoded


@pytest.mark.parametrize("raw", [
    "=?utf-8?b?Q?=", "=?x-bogus?q?abc?=", "=?utf-8?x?abc?=", "=?=?=?", "=?idna?q?a?=",
    "=?utf-7?q?+2D3-?=", "=?utf-8?q?=00?=", "=?unicode-escape?q?\\ud800?=",
])
def test_decode_words_never_raises_and_stays_storable(raw: str) -> None:
    decoded = decode_words(raw)
    decoded.encode("utf-8")  # no lone surrogates
    assert "\x00" not in decoded


def test_decode_words_unknown_charset_falls_back_to_utf8() -> None:
    assert decode_words("=?x-bogus?q?caf=C3=A9?=") == "café"


def test_parse_addresses() -> None:
    assert parse_addresses('"Smith, John" <john@example.com>, jane@example.org (Jane)') == [
        Address("john", "example.com", "Smith, John"),
        Address("jane", "example.org", "Jane"),
    ]


def test_parse_addresses_decodes_names_after_splitting() -> None:
    # the decoded name contains a comma: decoding before splitting would break the list
    assert parse_addresses("=?utf-8?q?M=C3=BCller=2C_J?= <j@example.com>, x@example.com") == [
        Address("j", "example.com", "Müller, J"),
        Address("x", "example.com"),
    ]


def test_parse_addresses_flattens_groups() -> None:
    value = "Team: a@example.com, B <b@example.com>;, c@example.com, undisclosed-recipients:;"
    assert parse_addresses(value) == [
        Address("a", "example.com"), Address("b", "example.com", "B"),
        Address("c", "example.com"),
    ]


@pytest.mark.parametrize("garbage", [
    "", ",,,", "<<<>>>", '"unterminated', "(((", "a@", "@b", ":;:;", "<@route:", "\x00\xff",
    "a@b@c", "<a@b, c@d", ")(", "[", "Team: <a@b", "x" * 10000,
])
def test_parse_addresses_tolerates_garbage(garbage: str) -> None:
    for address in parse_addresses(garbage):
        assert isinstance(address, Address)


def test_address_list_keeps_raw_names_routes_and_groups() -> None:
    items = parse_address_list(
        '=?utf-8?q?J=C3=B6rg?= <@relay.example,@b.example:joerg@example.com>, '
        'Friends: "a b"@example.com, postmaster;')
    assert items == [
        RawMailbox("=?utf-8?q?J=C3=B6rg?=", "@relay.example,@b.example", "joerg", "example.com"),
        GroupStart("Friends"),
        RawMailbox(None, None, '"a b"', "example.com"),
        RawMailbox(None, None, "postmaster", None),
        GroupEnd(),
    ]


def test_address_list_closes_an_unterminated_group() -> None:
    assert parse_address_list("G: a@b") == [GroupStart("G"), RawMailbox(None, None, "a", "b"),
                                            GroupEnd()]


def test_parse_message_ids() -> None:
    assert parse_message_ids("<a@b> <c@\r\n d>, (comment) <e@f>") == ["a@b", "c@d", "e@f"]
    assert parse_message_ids("bare@id") == ["bare@id"]
    assert parse_message_ids("garbage") == []
    assert parse_message_ids("<>") == []


def test_parse_date() -> None:
    assert parse_date("Mon, 1 Jan 2024 10:00:00 +0100") == datetime(
        2024, 1, 1, 10, 0, tzinfo=timezone(timedelta(hours=1)))
    unknown_zone = parse_date("1 Jan 2024 10:00:00 -0000")
    assert unknown_zone == datetime(2024, 1, 1, 10, 0, tzinfo=UTC)
    assert unknown_zone is not None and unknown_zone.tzinfo is not None


@pytest.mark.parametrize("bad", ["", "garbage", "31 Feb 2023 10:00 +0000", "1 Jan 2024 10:00 +9999",
                                 "0 Jan 0 0:0:0", "Mon, 99 Foo 99999999999 99:99:99 +0000"])
def test_parse_date_gives_none_for_bad_dates(bad: str) -> None:
    assert parse_date(bad) is None


def test_rfc2231_parameters() -> None:
    kind, params = parse_parameterized(
        "Attachment; FileName*0*=utf-8'en'%E2%82%AC%20; filename*1=\"rate.pdf\"; size=12")
    assert kind == "attachment"
    assert params == {"filename": "€ rate.pdf", "size": "12"}


def test_rfc2231_extended_value_wins_and_garbage_is_tolerated() -> None:
    _kind, params = parse_parameterized(
        'text/plain; name="plain.txt"; name*=iso-8859-1\'\'caf%E9; x*=a; x*0=b; '
        'y*' + "9" * 5000 + '=z; q="a;b\\"c"; broken="unterminated; still')
    assert params["name"] == "café"
    assert params["q"] == 'a;b"c'
    assert params["broken"] == "unterminated; still"
