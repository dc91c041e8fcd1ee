"""SEARCH and ESEARCH responses (RFC 9051 §7.3.4, RFC 4731, RFC 5182, RFC 5267, RFC 7162)."""

from __future__ import annotations

from postier.imap.commands import SearchReturn
from postier.imap.responses import Untagged, serialize
from postier.imap.search import esearch_result, saved_result, search_response, sequence_set_text

R = SearchReturn
EVERYTHING = frozenset({R.MIN, R.MAX, R.COUNT, R.ALL})


def wire(response: Untagged) -> bytes:
    return b"".join(serialize(response))


def test_esearch_all_options() -> None:
    assert wire(esearch_result("A282", [2, 10, 11, 9, 5], EVERYTHING, uid=True)) == \
        b'* ESEARCH (TAG "A282") UID MIN 2 MAX 11 ALL 2,5,9:11 COUNT 5\r\n'
    assert wire(esearch_result("A283", [4, 7, 3800], frozenset({R.MIN, R.MAX}), uid=False)) \
        == b'* ESEARCH (TAG "A283") MIN 4 MAX 3800\r\n'
    assert wire(esearch_result("A284", [1, 2, 3], frozenset({R.ALL}), uid=False)) == \
        b'* ESEARCH (TAG "A284") ALL 1:3\r\n'


def test_esearch_without_matches_keeps_only_count() -> None:
    assert wire(esearch_result("a", [], EVERYTHING, uid=True)) == \
        b'* ESEARCH (TAG "a") UID COUNT 0\r\n'
    assert wire(esearch_result("a", [], frozenset({R.MIN, R.ALL}), uid=False)) == \
        b'* ESEARCH (TAG "a")\r\n'
    assert wire(esearch_result(None, [], frozenset({R.COUNT}), uid=False)) == \
        b"* ESEARCH COUNT 0\r\n"


def test_esearch_modseq_and_esort_order() -> None:
    assert wire(esearch_result("t", [5, 1], frozenset({R.ALL}), uid=True, modseq=917)) == \
        b'* ESEARCH (TAG "t") UID ALL 1,5 MODSEQ 917\r\n'
    assert wire(esearch_result("t", [], frozenset({R.ALL}), uid=True, modseq=917)) == \
        b'* ESEARCH (TAG "t") UID\r\n'
    sorted_uids = [7, 8, 9, 3, 4, 12, 11]
    assert wire(esearch_result("s", sorted_uids, EVERYTHING, uid=True, ordered=True)) == \
        b'* ESEARCH (TAG "s") UID MIN 7 MAX 11 ALL 7:9,3:4,12,11 COUNT 7\r\n'


def test_sequence_set_text() -> None:
    assert sequence_set_text([]) == ""
    assert sequence_set_text([3, 1, 2, 2, 7]) == "1:3,7"
    assert sequence_set_text([3, 2, 1], ordered=True) == "3,2,1"


def test_plain_search_response() -> None:
    assert wire(search_response([2, 3, 6])) == b"* SEARCH 2 3 6\r\n"
    assert wire(search_response([])) == b"* SEARCH\r\n"
    assert wire(search_response([2, 10], modseq=917162500)) == \
        b"* SEARCH 2 10 (MODSEQ 917162500)\r\n"
    assert wire(search_response([], modseq=5)) == b"* SEARCH\r\n"


def test_saved_result() -> None:
    uids = [9, 4, 20]
    assert saved_result(uids, frozenset({R.SAVE})) == uids
    assert saved_result(uids, frozenset({R.SAVE, R.MIN})) == [4]
    assert saved_result(uids, frozenset({R.SAVE, R.MIN, R.MAX})) == [4, 20]
    assert saved_result(uids, frozenset({R.SAVE, R.MAX, R.COUNT})) == uids
    assert saved_result([], frozenset({R.SAVE, R.MIN})) == []
