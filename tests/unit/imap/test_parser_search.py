"""Parsing of SEARCH keys, charsets and return options, SORT and THREAD."""

from __future__ import annotations

from datetime import date

import pytest

from postier.imap.commands import (
    STAR,
    Age,
    All,
    And,
    Contains,
    DateCompare,
    DateField,
    HasFlag,
    HeaderContains,
    InSet,
    ModSeqAtLeast,
    Not,
    ObjectId,
    Or,
    Search,
    SearchKey,
    SearchReturn,
    SequenceSet,
    SizeCompare,
    Sort,
    SortCriterion,
    SortKey,
    TextField,
    Thread,
    ThreadAlgorithm,
)

from ._support import parse, parse_error


def criteria(line: str | bytes) -> SearchKey:
    command = parse(line)
    assert isinstance(command, Search)
    return command.criteria


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("ALL", All()),
        ("ANSWERED", HasFlag("\\Answered")),
        ("UNANSWERED", HasFlag("\\Answered", present=False)),
        ("DELETED", HasFlag("\\Deleted")),
        ("UNDELETED", HasFlag("\\Deleted", present=False)),
        ("DRAFT", HasFlag("\\Draft")),
        ("UNDRAFT", HasFlag("\\Draft", present=False)),
        ("FLAGGED", HasFlag("\\Flagged")),
        ("UNFLAGGED", HasFlag("\\Flagged", present=False)),
        ("SEEN", HasFlag("\\Seen")),
        ("UNSEEN", HasFlag("\\Seen", present=False)),
        ("RECENT", HasFlag("\\Recent")),
        ("UNRECENT", HasFlag("\\Recent", present=False)),
        ("NEW", And((HasFlag("\\Recent"), HasFlag("\\Seen", present=False)))),
        ("OLD", HasFlag("\\Recent", present=False)),
        ("KEYWORD $Forwarded", HasFlag("$Forwarded")),
        ("UNKEYWORD $Junk", HasFlag("$Junk", present=False)),
        ("BCC bob", Contains(TextField.BCC, "bob")),
        ('BODY "two words"', Contains(TextField.BODY, "two words")),
        ("CC carol", Contains(TextField.CC, "carol")),
        ("FROM alice@example.org", Contains(TextField.FROM, "alice@example.org")),
        ('SUBJECT "Re: [list]"', Contains(TextField.SUBJECT, "Re: [list]")),
        ("TEXT postier", Contains(TextField.TEXT, "postier")),
        ("TO dave", Contains(TextField.TO, "dave")),
        ('HEADER Message-ID "<a@b>"', HeaderContains("Message-ID", "<a@b>")),
        ('HEADER X-Spam ""', HeaderContains("X-Spam", "")),
        ("BEFORE 1-Feb-1994", DateCompare(DateField.INTERNAL, "BEFORE", date(1994, 2, 1))),
        ('ON "01-feb-1994"', DateCompare(DateField.INTERNAL, "ON", date(1994, 2, 1))),
        ("SINCE 31-Dec-2023", DateCompare(DateField.INTERNAL, "SINCE", date(2023, 12, 31))),
        ("SENTBEFORE 1-Jan-2000", DateCompare(DateField.SENT, "BEFORE", date(2000, 1, 1))),
        ("SENTON 1-Jan-2000", DateCompare(DateField.SENT, "ON", date(2000, 1, 1))),
        ("SENTSINCE 1-Jan-2000", DateCompare(DateField.SENT, "SINCE", date(2000, 1, 1))),
        ("LARGER 10000", SizeCompare(True, 10000)),
        ("SMALLER 5000000000", SizeCompare(False, 5000000000)),
        ("OLDER 3600", Age(True, 3600)),
        ("YOUNGER 60", Age(False, 60)),
        ("UID 1:100,200", InSet(SequenceSet.of((1, 100), 200), uid=True)),
        ("UID $", InSet(SequenceSet(saved=True), uid=True)),
        ("2:*", InSet(SequenceSet.of((2, STAR)), uid=False)),
        ("$", InSet(SequenceSet(saved=True), uid=False)),
        ("MODSEQ 620162338", ModSeqAtLeast(620162338)),
        ('MODSEQ "/flags/\\\\draft" all 620162338',
         ModSeqAtLeast(620162338, "/flags/\\draft", "all")),
        ("EMAILID M6d99ac3275bb4e", ObjectId("EMAILID", "M6d99ac3275bb4e")),
        ("THREADID T64b478a75b7ea9", ObjectId("THREADID", "T64b478a75b7ea9")),
        ("NOT SEEN", Not(HasFlag("\\Seen"))),
        ("OR SEEN FLAGGED", Or(HasFlag("\\Seen"), HasFlag("\\Flagged"))),
        ("(SEEN)", And((HasFlag("\\Seen"),))),
    ],
)  # fmt: skip
def test_search_keys(key: str, expected: SearchKey) -> None:
    assert criteria(f"a SEARCH {key}") == expected


def test_several_keys_mean_and() -> None:
    # K-9 Mail style: a sequence set, then a negated flag.
    assert criteria("a UID SEARCH 1:* NOT DELETED") == And(
        (InSet(SequenceSet.of((1, STAR)), uid=False), Not(HasFlag("\\Deleted")))
    )


def test_nested_search_program() -> None:
    key = criteria('a search or (from "alice" since 1-Jan-2024) not (seen 1:4) unkeyword $Junk')
    assert key == And((
        Or(And((Contains(TextField.FROM, "alice"),
                DateCompare(DateField.INTERNAL, "SINCE", date(2024, 1, 1)))),
           Not(And((HasFlag("\\Seen"), InSet(SequenceSet.of((1, 4)), uid=False))))),
        HasFlag("$Junk", present=False),
    ))  # fmt: skip


def test_charset_with_literal_as_imaplib_sends_it() -> None:
    command = parse("a UID SEARCH CHARSET UTF-8 TEXT {6}\r\nh\xe9llo".encode())
    assert command == Search(Contains(TextField.TEXT, "héllo"), "UTF-8", uid=True)


def test_charset_decoding() -> None:
    latin = parse(b'a SEARCH CHARSET ISO-8859-1 SUBJECT "caf\xe9"')
    assert latin == Search(Contains(TextField.SUBJECT, "café"), "ISO-8859-1")
    quoted_name = parse(b'a SEARCH CHARSET "us-ascii" SUBJECT "caf\xc3\xa9"')
    assert quoted_name == Search(Contains(TextField.SUBJECT, "café"), "US-ASCII")
    # No CHARSET: IMAP4rev1 clients send UTF-8 anyway.
    assert criteria(b'a SEARCH SUBJECT "caf\xc3\xa9"') == Contains(TextField.SUBJECT, "café")


def test_unknown_charset_is_no_badcharset() -> None:
    error = parse_error("a SEARCH CHARSET X-MARTIAN TEXT hello")
    assert (error.message, error.code, error.no) == (
        "unsupported charset X-MARTIAN",
        "BADCHARSET",
        True,
    )
    assert error.tag == "a"
    assert parse_error(b'a SEARCH CHARSET UTF-8 TEXT "\xff"').message == "string is not valid utf-8"


def test_esearch_return_options() -> None:
    command = parse("a UID SEARCH RETURN (MIN MAX COUNT) UNSEEN")
    assert command == Search(
        HasFlag("\\Seen", present=False), None,
        frozenset({SearchReturn.MIN, SearchReturn.MAX, SearchReturn.COUNT}), uid=True,
    )  # fmt: skip
    empty = parse("a SEARCH RETURN () CHARSET UTF-8 ALL")
    assert empty == Search(All(), "UTF-8", frozenset({SearchReturn.ALL}))
    saved = parse("a SEARCH RETURN (SAVE) FLAGGED")
    assert isinstance(saved, Search) and saved.returns == frozenset({SearchReturn.SAVE})


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("a SEARCH", "expected space"),
        ("a SEARCH FOO", "unknown search key FOO"),
        ("a SEARCH RETURN (BOGUS) ALL", "unknown return option BOGUS"),
        ("a SEARCH SINCE 30-Feb-2024", "invalid date"),
        ("a SEARCH SINCE 1-Feb-94", "invalid year"),
        ("a SEARCH OR SEEN", "expected space"),
        ("a SEARCH (SEEN", "expected space"),
        ("a SEARCH ()", "expected search key"),
        ("a SEARCH KEYWORD \\Seen", "expected keyword"),
        ("a SEARCH OLDER 0", "expected non-zero number"),
        ('a SEARCH MODSEQ "/foo/x" all 5', "invalid MODSEQ entry name"),
        ('a SEARCH MODSEQ "/flags/x" any 5', "invalid MODSEQ entry type"),
        ("a SEARCH EMAILID !", "invalid object id"),
        ("a SEARCH SEEN  UNSEEN", "expected search key"),
    ],
)
def test_search_errors(line: str, message: str) -> None:
    assert parse_error(line).message == message


def test_deep_nesting_is_refused_not_crashed() -> None:
    assert parse_error("a SEARCH " + "NOT " * 5000 + "ALL").message == (
        "search keys nested too deeply"
    )
    assert parse_error("a SEARCH " + "(" * 5000 + "ALL").message == "search keys nested too deeply"
    fine = "a SEARCH " + "NOT " * 30 + "ALL"
    assert isinstance(criteria(fine), Not)


def test_sort() -> None:
    assert parse("a UID SORT (REVERSE ARRIVAL) UTF-8 ALL") == Sort(
        (SortCriterion(SortKey.ARRIVAL, reverse=True),), "UTF-8", All(), uid=True
    )
    command = parse("a SORT (SUBJECT reverse DATE DISPLAYFROM) US-ASCII UNDELETED SINCE 1-Feb-1994")
    assert command == Sort(
        (SortCriterion(SortKey.SUBJECT), SortCriterion(SortKey.DATE, True),
         SortCriterion(SortKey.DISPLAYFROM)),
        "US-ASCII",
        And((HasFlag("\\Deleted", present=False),
             DateCompare(DateField.INTERNAL, "SINCE", date(1994, 2, 1)))),
    )  # fmt: skip
    esort = parse("a UID SORT RETURN (COUNT) (SIZE) UTF-8 ALL")
    assert isinstance(esort, Sort) and esort.returns == frozenset({SearchReturn.COUNT})
    assert parse_error("a SORT (SIZE) ALL").message == "expected space"  # charset is required
    assert parse_error("a SORT (LINES) UTF-8 ALL").message == "unknown sort key LINES"


def test_thread() -> None:
    assert parse("a UID THREAD REFERENCES UTF-8 ALL") == Thread(
        ThreadAlgorithm.REFERENCES, "UTF-8", All(), uid=True
    )
    assert parse("a THREAD orderedsubject US-ASCII SEEN") == Thread(
        ThreadAlgorithm.ORDEREDSUBJECT, "US-ASCII", HasFlag("\\Seen")
    )
    assert parse_error("a THREAD REFS UTF-8 ALL").message == "unsupported threading algorithm REFS"
