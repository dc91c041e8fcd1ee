"""SEARCH matching of every key, on messages parsed and summarized as delivery stores them."""

from __future__ import annotations

import json
from collections.abc import Set
from datetime import UTC, datetime, timedelta, timezone

import pytest

from postier import mime
from postier.imap.commands import Search, SearchKey
from postier.imap.search import SearchMessage, SearchNeeds, matches, search_needs

from ._support import parse

EST = timezone(timedelta(hours=-5))
NOW = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)

MESSAGE = (
    b"Date: Wed, 14 Feb 2024 23:30:00 -0800\r\n"
    b"From: =?utf-8?q?J=C3=B6rg_Stra=C3=9Fe?= <joerg@example.com>\r\n"
    b"To: Ann <ann@example.org>, bob@example.net\r\n"
    b"Cc: Team: carol@example.com;\r\n"
    b"Subject: =?iso-8859-1?q?R=E9union?= planning\r\n"
    b"X-Mailer: Postier Test\r\n"
    b" Suite 2.0\r\n"
    b"X-Empty:\r\n"
    b"Message-ID: <m1@example.com>\r\n"
    b"\r\n"
    b"Let us meet on Friday.\r\n"
)


def message(data: bytes = MESSAGE, *, seq: int = 3, uid: int = 30, modseq: int = 500,
            flags: frozenset[str] = frozenset({"\\Seen", "$Important"}), recent: bool = False,
            internal_date: datetime = datetime(2024, 2, 15, 23, 30, tzinfo=EST),
            size: int = 2000, header: bool = True, email_id: str | None = None) -> SearchMessage:
    tree = mime.parse_message(data)
    summary = mime.summarize(data, tree)
    return SearchMessage(
        seq=seq, uid=uid, modseq=modseq, flags=flags, internal_date=internal_date, size=size,
        summary_json=json.dumps(summary.to_json()), recent=recent,
        header=data[:tree.root.body_start] if header else None, email_id=email_id)


def criteria(text: str) -> SearchKey:
    command = parse("a SEARCH " + text)
    assert isinstance(command, Search)
    return command.criteria


def check(text: str, target: SearchMessage | None = None, *,
          hits: dict[tuple[str, str], Set[int]] | None = None,
          saved: Set[int] = frozenset()) -> bool:
    return matches(criteria(text), target or message(), text_hits=hits or {}, max_seq=10,
                   max_uid=100, now=NOW, saved=saved)


@pytest.mark.parametrize(("text", "expected"), [
    ("ALL", True),
    ("SEEN", True), ("UNSEEN", False), ("FLAGGED", False), ("UNFLAGGED", True),
    ("ANSWERED", False), ("DELETED", False), ("UNDELETED", True), ("DRAFT", False),
    ("KEYWORD $Important", True), ("KEYWORD $important", True), ("UNKEYWORD $Junk", True),
    ("KEYWORD $Junk", False), ("RECENT", False), ("OLD", True), ("NEW", False),
    ("FROM joerg", True), ("FROM \"STRASSE\"", True), ("FROM \"jörg straße\"", True),
    ("FROM ann", False), ("TO ANN@EXAMPLE.ORG", True), ("TO bob", True), ("CC carol", True),
    ("CC team", True), ("BCC x", False), ('SUBJECT "réunion"', True), ('SUBJECT "RÉUNION"', True),
    ("SUBJECT \"union plan\"", True), ("SUBJECT meeting", False),
    ("HEADER X-Mailer \"test suite\"", True), ("HEADER x-mailer postier", True),
    ("HEADER X-Mailer \"\"", True), ("HEADER X-Empty \"\"", True), ("HEADER X-Other \"\"", False),
    ('HEADER Subject "réunion"', True), ("HEADER Message-ID m1@", True),
    ("TEXT \"test suite\"", True), ("TEXT friday", False), ("BODY friday", False),
    ("LARGER 1999", True), ("LARGER 2000", False), ("SMALLER 2001", True), ("SMALLER 2000", False),
    ("NOT SEEN", False), ("OR FLAGGED SEEN", True), ("OR FLAGGED DRAFT", False),
    ("(SEEN FROM joerg)", True), ("SEEN FROM ann", False), ("NOT (SEEN NOT SEEN)", True),
])
def test_keys(text: str, expected: bool) -> None:
    assert check(text) is expected


def test_internal_dates_use_the_internal_dates_own_zone() -> None:
    # 15 Feb 23:30 -0500 is 16 Feb in UTC; the search day is the 15th.
    for text, expected in [("ON 15-Feb-2024", True), ("ON 16-Feb-2024", False),
                           ("BEFORE 15-Feb-2024", False), ("BEFORE 16-Feb-2024", True),
                           ("SINCE 15-Feb-2024", True), ("SINCE 16-Feb-2024", False)]:
        assert check(text) is expected, text


def test_sent_dates_use_the_date_header_as_written_or_the_internal_date() -> None:
    for text, expected in [("SENTON 14-Feb-2024", True), ("SENTBEFORE 14-Feb-2024", False),
                           ("SENTSINCE 15-Feb-2024", False), ("SENTBEFORE 15-Feb-2024", True)]:
        assert check(text) is expected, text
    undated = message(b"Subject: no date\r\n\r\nx\r\n")
    assert check("SENTON 15-Feb-2024", undated)
    assert not check("SENTON 14-Feb-2024", undated)


def test_older_and_younger() -> None:
    recent = message(internal_date=NOW - timedelta(seconds=100))
    assert check("YOUNGER 100", recent) and not check("OLDER 100", recent)
    assert check("OLDER 99", recent) and not check("YOUNGER 99", recent)
    naive = message(internal_date=datetime(2024, 3, 1, 11, 0))  # naive counts as UTC
    assert check("OLDER 3599", naive) and check("YOUNGER 3600", naive)


def test_sequence_and_uid_sets() -> None:
    for text, expected in [("3", True), ("1,3", True), ("4:*", False), ("*:2", True),
                           ("*", False), ("2:4", True), ("11", False),
                           ("UID 30", True), ("UID 1:29,31:*", False), ("UID *:30", True),
                           ("UID 100:*", False), ("NOT UID 30", False)]:
        assert check(text) is expected, text
    last = message(seq=10, uid=100)
    assert check("*", last) and check("UID *", last) and check("5:*", last)


def test_saved_result() -> None:
    assert check("$", saved=frozenset({30}))
    assert check("UID $", saved=frozenset({30}))
    assert not check("$", saved=frozenset({3}))  # saved results are UIDs, not sequence numbers
    assert not check("$")


def test_modseq_and_object_ids() -> None:
    assert check("MODSEQ 500") and not check("MODSEQ 501")
    assert check('MODSEQ "/flags/\\\\Seen" all 499')
    assert check("EMAILID Mabc", message(email_id="Mabc"))
    assert not check("EMAILID Mabc") and not check("THREADID T1")


def test_recent_flag_of_imap4rev1() -> None:
    fresh = message(recent=True, flags=frozenset())
    assert check("RECENT", fresh) and check("NEW", fresh) and not check("OLD", fresh)
    assert check("UNRECENT") and not check("UNRECENT", fresh)


def test_body_and_text_use_index_hits() -> None:
    hits: dict[tuple[str, str], Set[int]] = {("BODY", "friday"): {30},
                                             ("TEXT", "meet"): {30}}
    assert check("BODY friday", hits=hits)
    assert check("TEXT meet", hits=hits)
    assert not check("BODY meet", hits=hits)
    assert not check("BODY friday", message(uid=31), hits=hits)


def test_header_fallback_to_summary_without_header_block() -> None:
    bare = message(header=False)
    assert check('HEADER subject "réunion"', bare) and check("TEXT ann", bare)
    assert not check("HEADER X-Mailer postier", bare)


def test_search_needs() -> None:
    assert search_needs(criteria("SEEN UID 1:5 LARGER 5")) == SearchNeeds(False, False, ())
    assert search_needs(criteria("FROM a OR SENTON 1-Jan-2024 SUBJECT b")) == \
        SearchNeeds(True, False, ())
    assert search_needs(criteria("BODY x NOT TEXT y BODY x HEADER z w MODSEQ 4")) == \
        SearchNeeds(False, True, (("BODY", "x"), ("TEXT", "y")), modseq=True)


def test_damaged_summary_never_raises() -> None:
    broken = SearchMessage(1, 1, 1, frozenset(), NOW, 10, summary_json="[not json")
    for text in ("FROM a", "SENTON 1-Mar-2024", "TEXT a", "HEADER From a", "SUBJECT \"\""):
        check(text, broken)
    assert check("SENTON 1-Mar-2024", broken)
    odd = SearchMessage(1, 1, 1, frozenset(), NOW, 10, summary_json='{"date": "tomorrow"}')
    assert check("SENTON 1-Mar-2024", odd)
