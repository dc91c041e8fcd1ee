"""Hypothesis properties of FETCH rendering, SEARCH matching, SORT and THREAD.

(a) render_fetch raises nothing but FetchError, for any message bytes, any stored JSON and any
    list of fetch items, and what it returns always serializes;
(b) matches never raises, for any message and any criteria tree;
(c) sort returns a permutation; both threading algorithms place every message exactly once.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from postier import mime
from postier.imap import commands as c
from postier.imap.fetch import (
    FetchContext,
    FetchError,
    StructureCache,
    fetch_response,
    needs_body,
)
from postier.imap.responses import serialize
from postier.imap.search import SearchMessage, esearch_result, matches, search_needs
from postier.imap.sort_thread import SortMessage, ThreadNode, render_threads, sort, thread
from postier.types import BlobId, MailboxId, MessageId, MessageRecord, ModSeq, Uid
from tests.fuzz.budget import examples

FUZZ = settings(max_examples=examples(250), deadline=None,
                suppress_health_check=[HealthCheck.too_slow])

HEADER_LINES = [
    b"From: A <a@example.com>", b"To: group: b@x, \"C\" <c@y>;", b"Cc: =?utf-8?q?J=C3=B6rg?= <j@x>",
    b"Subject: Re: [list] hello (fwd)", "Subject: Grüße".encode(), b"Subject: =?bogus?q?x?=",
    b"Date: Mon, 7 Feb 1994 21:52:25 -0800", b"Date: garbage", b"Message-ID: <1@x>",
    b"References: <1@x> <2@x>", b"In-Reply-To: <2@x>", b"Content-Type: multipart/mixed; b=1",
    b"Content-Type: multipart/mixed; boundary=b", b"Content-Type: message/rfc822",
    b"Content-Type: text/plain; charset=\"utf-8\"; name*=UTF-8''%E2%82%AC",
    b"Content-Transfer-Encoding: base64", b"Content-Transfer-Encoding: quoted-printable",
    b"Content-Transfer-Encoding: x-unknown", b"Content-Disposition: attachment; filename=a",
    b"Content-Language: en, \xff", b"Content-Location: \xc3\xa9", b" folded continuation",
    b"X-Null: a\x00b", b"no colon here",
]
BODY_LINES = [b"", b"--b", b"--b--", b"text", b"cGFydCAy", b"=C3=A9", b"\x00\xff", b"From: x@y"]

lines = st.lists(st.sampled_from(HEADER_LINES), max_size=8)
bodies = st.lists(st.sampled_from(BODY_LINES + HEADER_LINES), max_size=12)
newlines = st.sampled_from([b"\r\n", b"\n"])


@st.composite
def messages(draw: st.DrawFn) -> bytes:
    if draw(st.booleans()):
        return draw(st.binary(max_size=600))
    newline = draw(newlines)
    return newline.join([*draw(lines), b"", *draw(bodies)])


parts = st.lists(st.integers(min_value=1, max_value=4), max_size=3).map(tuple)
partials = st.none() | st.builds(c.Partial, st.integers(0, 300), st.integers(1, 300))
field_names = st.lists(st.sampled_from(["From", "subject", "X \"q\"", "", "a\r\nb"]),
                       max_size=3).map(tuple)
sections = st.builds(c.Section, parts, st.none() | st.sampled_from(c.SectionText), field_names)
fetch_items = st.lists(st.one_of(
    st.sampled_from(c.FetchAttribute),
    st.builds(c.BodySection, sections, partials, st.booleans()),
    st.builds(c.BinarySection, parts, partials, st.booleans()),
    st.builds(c.BinarySize, parts),
    st.builds(c.Preview, st.booleans()),
), min_size=1, max_size=6)
junk_json = st.sampled_from(["", "{}", "[]", "null", '{"format": 1, "root": {}}',
                             '{"envelope": {"from": [[1, 2]]}, "preview": 5}'])


def record_for(data: bytes, prefix: bytes, structure: str | None, summary: str | None,
               flags: frozenset[str]) -> MessageRecord:
    tree = mime.parse_message(data)
    return MessageRecord(
        MessageId(1), MailboxId(1), Uid(1), ModSeq(1), flags,
        datetime(2024, 1, 1, tzinfo=UTC), len(prefix) + len(data), BlobId("ab" * 32), prefix,
        structure_json=structure if structure is not None else
        json.dumps(tree.shifted(len(prefix)).to_json()),
        summary_json=summary if summary is not None else
        json.dumps(mime.summarize(data, tree).to_json()))


@FUZZ
@given(data=messages(), items=fetch_items, utf8=st.booleans(),
       prefix=st.sampled_from([b"", b"Received: x\r\n"]), structure=st.none() | junk_json,
       summary=st.none() | junk_json, with_body=st.booleans(),
       flags=st.frozensets(st.sampled_from(["\\Seen", "\\Recent", "$Junk", "a"]), max_size=3))
def test_render_fetch_raises_only_fetch_error(data: bytes, items: list[c.FetchItem],
                                              utf8: bool, prefix: bytes, structure: str | None,
                                              summary: str | None, with_body: bool,
                                              flags: frozenset[str]) -> None:
    record = record_for(data, prefix, structure, summary, flags)
    body = prefix + data if with_body or needs_body(items) else None
    ctx = FetchContext(7, record, body, utf8=utf8, rev2=utf8)
    try:
        response = fetch_response(items, ctx, include_uid=True, include_modseq=True,
                                  cache=StructureCache(2))
    except FetchError as error:
        assert error.code == "UNKNOWN-CTE"
        return
    wire = b"".join(serialize(response, utf8=utf8))
    assert wire.startswith(b"* 7 FETCH (") and wire.endswith(b")\r\n") and b"UID 1" in wire


@FUZZ
@given(data=messages(), utf8=st.booleans(), summary=st.none() | junk_json)
def test_metadata_fetch_needs_no_body(data: bytes, utf8: bool, summary: str | None) -> None:
    record = record_for(data, b"", None, summary, frozenset())
    items = (c.FetchAttribute.ENVELOPE, c.FetchAttribute.BODYSTRUCTURE, c.FetchAttribute.BODY,
             c.Preview(), c.FetchAttribute.FLAGS, c.FetchAttribute.RFC822_SIZE)
    wire = b"".join(serialize(fetch_response(items, FetchContext(1, record, None, utf8, utf8)),
                              utf8=utf8))
    if not utf8:
        header, _, _preview = wire.partition(b"PREVIEW ")
        assert header.isascii()  # 8-bit header text reaches IMAP4rev1 clients encoded


# -- search --------------------------------------------------------------------------------------

texts = st.text(max_size=8)
sequence_sets = st.builds(
    c.SequenceSet,
    st.lists(st.builds(c.SequenceRange, st.integers(1, 12) | st.just(c.STAR),
                       st.integers(1, 12) | st.just(c.STAR)), min_size=1, max_size=3)
    .map(tuple),
    st.booleans())
days = st.dates(min_value=date(1990, 1, 1), max_value=date(2030, 1, 1))
leaf_keys = st.one_of(
    st.builds(c.All),
    st.builds(c.HasFlag, st.sampled_from(["\\Seen", "\\Recent", "$Junk", "a", "\\Deleted"]),
              st.booleans()),
    st.builds(c.Contains, st.sampled_from(c.TextField), texts),
    st.builds(c.HeaderContains, st.sampled_from(["From", "subject", "X", ""]), texts),
    st.builds(c.DateCompare, st.sampled_from(c.DateField),
              st.sampled_from(["BEFORE", "ON", "SINCE"]), days),
    st.builds(c.SizeCompare, st.booleans(), st.integers(0, 2000)),
    st.builds(c.Age, st.booleans(), st.integers(1, 10**9)),
    st.builds(c.InSet, sequence_sets, st.booleans()),
    st.builds(c.ModSeqAtLeast, st.integers(0, 10)),
    st.builds(c.ObjectId, st.sampled_from(["EMAILID", "THREADID"]), texts),
)
search_keys = st.recursive(leaf_keys, lambda inner: st.one_of(
    st.builds(c.Not, inner), st.builds(c.Or, inner, inner),
    st.lists(inner, min_size=1, max_size=3).map(lambda keys: c.And(tuple(keys)))),
    max_leaves=12)
zones = st.sampled_from([UTC, timezone(timedelta(hours=-8)), timezone(timedelta(hours=13))])


@FUZZ
@given(data=messages(), criteria=search_keys, summary=st.none() | junk_json,
       header=st.booleans(), recent=st.booleans(), zone=zones,
       saved=st.frozensets(st.integers(1, 12), max_size=3))
def test_search_never_raises(data: bytes, criteria: c.SearchKey, summary: str | None,
                             header: bool, recent: bool, zone: timezone,
                             saved: frozenset[int]) -> None:
    tree = mime.parse_message(data)
    message = SearchMessage(
        seq=3, uid=5, modseq=4, flags=frozenset({"\\Seen", "A"}),
        internal_date=datetime(2024, 1, 1, 23, 30, tzinfo=zone), size=len(data),
        summary_json=summary if summary is not None else
        json.dumps(mime.summarize(data, tree).to_json()),
        recent=recent, header=data[:tree.root.body_start] if header else None)
    needs = search_needs(criteria)
    hits = {query: frozenset({5}) for query in needs.text_queries[:1]}
    result = matches(criteria, message, text_hits=hits, max_seq=10, max_uid=12,
                     now=datetime(2024, 6, 1, tzinfo=UTC), saved=saved)
    assert result is matches(c.Not(c.Not(criteria)), message, text_hits=hits, max_seq=10,
                             max_uid=12, now=datetime(2024, 6, 1, tzinfo=UTC), saved=saved)
    numbers = [3] if result else []
    serialize(esearch_result("t", numbers, frozenset(c.SearchReturn), uid=True, modseq=4))


# -- sort and thread -----------------------------------------------------------------------------

ids = st.sampled_from(["<1@x>", "<2@x>", "<3@x>", "<4@x>", "<5@x>", ""])
subjects = st.sampled_from(["hello", "Re: hello", "[fwd: hello]", "", "other", "Fwd: other"])


@st.composite
def sort_messages(draw: st.DrawFn) -> list[SortMessage]:
    out: list[SortMessage] = []
    for seq in range(1, draw(st.integers(0, 12)) + 1):
        sender = draw(st.sampled_from(["a@x", "B <b@y>", ""]))
        headers = [f"Subject: {draw(subjects)}", f"Message-ID: {draw(ids)}",
                   f"References: {' '.join(draw(st.lists(ids, max_size=4)))}",
                   f"In-Reply-To: {draw(ids)}", f"From: {sender}"]
        if draw(st.booleans()):
            headers.append(f"Date: Mon, {draw(st.integers(1, 28))} Feb 2024 10:00:00 +0100")
        data = ("\r\n".join(headers) + "\r\n\r\nx").encode()
        summary = json.dumps(mime.summarize(data, mime.parse_message(data)).to_json())
        out.append(SortMessage(seq, seq * 2, datetime(2024, 2, draw(st.integers(1, 28)),
                                                       tzinfo=UTC), draw(st.integers(0, 9)),
                               summary if draw(st.integers(0, 9)) else "{"))
    return out


@FUZZ
@given(batch=sort_messages(),
       keys=st.lists(st.tuples(st.sampled_from(c.SortKey), st.booleans()), min_size=1,
                     max_size=3))
def test_sort_is_a_permutation(batch: list[SortMessage],
                               keys: list[tuple[c.SortKey, bool]]) -> None:
    ordered = sort(batch, keys)
    assert sorted(m.seq for m in ordered) == [m.seq for m in batch]


def _seqs(nodes: list[ThreadNode]) -> list[int]:
    found: list[int] = []
    stack = list(nodes)
    while stack:
        node = stack.pop()
        if node.message is not None:
            found.append(node.message.seq)
        else:
            assert len(node.children) >= 2  # a dummy exists only to join several threads
        stack.extend(node.children)
    return sorted(found)


@FUZZ
@given(batch=sort_messages(), algorithm=st.sampled_from(c.ThreadAlgorithm))
def test_threads_hold_every_message_once(batch: list[SortMessage],
                                         algorithm: c.ThreadAlgorithm) -> None:
    threads = thread(batch, algorithm)
    assert _seqs(threads) == [m.seq for m in batch]
    rendered = render_threads(threads, uid=False).text
    assert rendered.count("(") == rendered.count(")")
    assert sorted(int(n) for n in rendered.replace("(", " ").replace(")", " ").split()) == \
        [m.seq for m in batch]
