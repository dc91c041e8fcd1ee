"""SORT (RFC 5256 §3, RFC 5957) and the base subject (RFC 5256 §2.1)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from postier import mime
from postier.imap.commands import Sort, SortCriterion, SortKey
from postier.imap.responses import serialize
from postier.imap.sort_thread import SortMessage, base_subject, sort, sort_response

from ._support import parse

K = SortKey
BASE = datetime(2024, 1, 1, tzinfo=UTC)


def message(seq: int, headers: str, *, size: int = 100, arrived: int = 0) -> SortMessage:
    data = (headers + "\r\n\r\nbody\r\n").encode()
    summary = mime.summarize(data, mime.parse_message(data))
    return SortMessage(seq=seq, uid=seq * 10, internal_date=BASE + timedelta(hours=arrived),
                       size=size, summary_json=json.dumps(summary.to_json()))


MESSAGES = [
    message(1, "From: Zed <zed@example.com>\r\nTo: b@x\r\nCc: y@x\r\nSubject: Re: Lunch\r\n"
               "Date: Tue, 2 Jan 2024 10:00:00 +0000", size=300, arrived=5),
    message(2, "From: \"alice\" <Bob@example.com>\r\nTo: A@x\r\nSubject: [list] apples\r\n"
               "Date: Tue, 2 Jan 2024 11:00:00 +0200", size=100, arrived=3),
    message(3, "From: carol@example.com\r\nTo: c@x\r\nCc: x@x\r\nSubject: lunch (fwd)",
            size=200, arrived=4),
    message(4, "From: =?utf-8?q?=C3=89mile?= <a@example.com>\r\nSubject: Fwd: Bananas\r\n"
               "Date: Mon, 1 Jan 2024 09:00:00 -0500", size=100, arrived=1),
]


def seqs(keys: list[tuple[SortKey, bool]]) -> list[int]:
    return [m.seq for m in sort(MESSAGES, keys)]


@pytest.mark.parametrize(("keys", "expected"), [
    ([(K.ARRIVAL, False)], [4, 2, 3, 1]),
    ([(K.ARRIVAL, True)], [1, 3, 2, 4]),
    # sent dates in UTC: 2: 09:00 on the 2nd, 1: 10:00 on the 2nd, 4: 14:00 on the 1st;
    # 3 has no Date and uses its internal date, 04:00 on the 1st
    ([(K.DATE, False)], [3, 4, 2, 1]),
    ([(K.SIZE, False)], [2, 4, 3, 1]),  # ties stay in sequence order
    ([(K.SIZE, True)], [1, 3, 2, 4]),  # ... also when reversed
    ([(K.SIZE, False), (K.ARRIVAL, True)], [2, 4, 3, 1]),
    ([(K.SIZE, False), (K.ARRIVAL, False)], [4, 2, 3, 1]),
    ([(K.SUBJECT, False)], [2, 4, 1, 3]),  # apples, bananas, lunch, lunch
    ([(K.SUBJECT, False), (K.SIZE, False)], [2, 4, 3, 1]),
    ([(K.FROM, False)], [4, 2, 3, 1]),  # a, bob, carol, zed
    ([(K.DISPLAYFROM, False)], [2, 3, 4, 1]),  # alice, carol@example.com, émile (e + ́), zed
    ([(K.TO, False)], [4, 2, 1, 3]),  # "", a, b, c
    ([(K.DISPLAYTO, False)], [4, 2, 1, 3]),
    ([(K.CC, False)], [2, 4, 3, 1]),  # "", "", x, y
])
def test_sort_keys(keys: list[tuple[SortKey, bool]], expected: list[int]) -> None:
    assert seqs(keys) == expected


def test_sort_accepts_the_parsers_criteria_and_is_a_permutation() -> None:
    command = parse("a SORT (REVERSE SUBJECT DATE) UTF-8 ALL")
    assert isinstance(command, Sort)
    assert command.criteria == (SortCriterion(K.SUBJECT, True), SortCriterion(K.DATE))
    ordered = sort(MESSAGES, command.criteria)
    assert [m.seq for m in ordered] == [3, 1, 4, 2]
    assert sorted(ordered, key=lambda m: m.seq) == MESSAGES
    assert sort([], command.criteria) == []


def test_damaged_summaries_sort_first_without_raising() -> None:
    broken = SortMessage(9, 90, BASE, 5, summary_json="not json")
    assert [m.seq for m in sort([*MESSAGES, broken], [(K.FROM, False)])] == [9, 4, 2, 3, 1]
    for key in K:
        sort([*MESSAGES, broken], [(key, False)])


def test_sort_response() -> None:
    ordered = sort(MESSAGES, [(K.ARRIVAL, False)])
    assert b"".join(serialize(sort_response(ordered, uid=False))) == b"* SORT 4 2 3 1\r\n"
    assert b"".join(serialize(sort_response(ordered, uid=True))) == b"* SORT 40 20 30 10\r\n"
    assert b"".join(serialize(sort_response([], uid=True))) == b"* SORT\r\n"


@pytest.mark.parametrize(("subject", "expected"), [
    ("Hello", "hello"),
    ("Re: Hello", "hello"),
    ("RE: re: Fwd: FW: hello", "hello"),
    ("Re[2]: hello", "hello"),
    ("Re [2] : hello", "hello"),
    ("[list] Re: hello", "hello"),
    ("Re: [list] hello", "hello"),
    ("[list] [other] hello", "hello"),
    ("[list]", "[list]"),  # a blob alone is the subject
    ("[list] ", "[list]"),
    ("hello (fwd)", "hello"),
    ("hello (FWD) (fwd)  ", "hello"),
    ("[fwd: hello]", "hello"),
    ("[Fwd: Re: [list] hello (fwd)]", "hello"),
    ("  hello \t  world  ", "hello world"),
    ("Reply: hello", "reply: hello"),  # "re" must be followed by ":" (after blobs)
    ("Rebecca's party", "rebecca's party"),
    ("", ""),
    ("Re:", ""),
    ("Ümlaut STRASSE", "u\u0308mlaut strasse"),
])
def test_base_subject(subject: str, expected: str) -> None:
    assert base_subject(subject) == expected


def test_sort_to_uses_a_groups_name_as_its_mailbox() -> None:
    group_first = [
        message(1, "From: a@x\r\nTo: zeta@x"),
        message(2, "From: a@x\r\nTo: undisclosed-recipients:;"),
        message(3, "From: a@x\r\nTo: Friends: bob@x;, alpha@x"),
    ]
    # RFC 5256 §3: addr-mailbox of the first ENVELOPE address: the group name for a group
    assert [m.seq for m in sort(group_first, [(K.TO, False)])] == [3, 2, 1]
