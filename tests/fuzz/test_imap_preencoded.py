"""Hypothesis properties of the texts pre-encoded at delivery and of FETCH listing lines.

(a) the ENVELOPE and BODYSTRUCTURE texts stored in the summary JSON are byte for byte what
    rendering from the parsed envelope and part tree gives, for both kinds of client, with or
    without a per-recipient header prefix, whatever the JSON's whitespace;
(b) a LinePlan writes exactly the bytes the general path (render_fetch + serialize) writes, for
    summaries with the pre-encoded texts, without them (stored by an older version) and
    unreadable ones;
(c) BODY[HEADER] and BODY[TEXT] of the whole message, taken from the stored root offsets, are
    what the rebuilt part tree gives.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from postier import mime
from postier.imap import commands as c
from postier.imap.bodystructure import body_structure, envelope_value, stored_envelope_value
from postier.imap.fetch import FetchContext, StructureCache, fetch_response, line_plan
from postier.imap.responses import serialize
from postier.imap.stored_message import pre_encoded
from postier.types import BlobId, MailboxId, MessageId, MessageRecord, ModSeq, Uid
from tests.fuzz.test_imap_render_fuzz import junk_json, messages

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

LISTING_ITEMS = [c.FetchAttribute.UID, c.FetchAttribute.FLAGS, c.FetchAttribute.INTERNALDATE,
                 c.FetchAttribute.RFC822_SIZE, c.FetchAttribute.ENVELOPE,
                 c.FetchAttribute.BODYSTRUCTURE, c.FetchAttribute.BODY, c.FetchAttribute.MODSEQ]
UNICODE_HEADERS = [
    "Subject: Grüße aus Köln, 東京", "From: Jörg <jörg@bücher.example>",
    "To: \"Zoë\" <zoe@例え.jp>, undisclosed-recipients:;",
    "Content-Type: text/plain; charset=utf-8; name=\"résumé.txt\"",
    "Content-Disposition: attachment; filename*=UTF-8''%E2%82%AC.txt",
    "Content-Language: fr", "Message-ID: <ü@x>", "In-Reply-To: <a\"b@x>",
    "Subject: back\\slash \"quoted\"",
]
separators = st.sampled_from([(",", ":"), (", ", ": ")])
zones = st.sampled_from([UTC, timezone(timedelta(hours=-8)), timezone(timedelta(minutes=330))])


@st.composite
def any_messages(draw: st.DrawFn) -> bytes:
    if draw(st.booleans()):
        return draw(messages())
    headers = draw(st.lists(st.sampled_from(UNICODE_HEADERS), max_size=5))
    return ("\r\n".join(headers) + "\r\n\r\nbody\r\n").encode()


def summary_json(data: bytes, tree: mime.MessageTree, separator: tuple[str, str],
                 pre_encode: bool = True) -> str:
    summary = mime.summarize(data, tree).to_json()
    if not pre_encode:
        summary = {k: v for k, v in summary.items() if not k.startswith("imap_")}
    return json.dumps(summary, separators=separator)


@FUZZ
@given(data=any_messages(), utf8=st.booleans(), separator=separators,
       prefix=st.sampled_from([b"", b"Return-Path: <a@b>\r\nReceived: x\r\n"]))
def test_pre_encoded_texts_are_the_rendered_ones(data: bytes, utf8: bool,
                                                 separator: tuple[str, str],
                                                 prefix: bytes) -> None:
    tree = mime.parse_message(data)
    stored = summary_json(data, tree, separator)
    summary = mime.summarize(data, tree)
    envelope = pre_encoded(stored, "imap_envelope", utf8)
    assert envelope == envelope_value(summary.envelope, utf8).text
    assert envelope == stored_envelope_value(json.loads(stored)["envelope"], utf8).text
    # What FETCH would render from the stored (prefix-shifted) part tree.
    shifted = mime.MessageTree.from_json(json.loads(json.dumps(
        tree.shifted(len(prefix)).to_json())))
    structure = pre_encoded(stored, "imap_bodystructure", utf8)
    assert structure == body_structure(shifted.root, extensible=True, utf8=utf8).text
    if not utf8:
        assert envelope.isascii() and structure.isascii()


def record_for(data: bytes, prefix: bytes, summary: str, flags: frozenset[str],
               date: datetime) -> MessageRecord:
    tree = mime.parse_message(data)
    return MessageRecord(
        MessageId(1), MailboxId(1), Uid(4321), ModSeq(77), flags, date,
        len(prefix) + len(data), BlobId("ab" * 32), prefix,
        structure_json=json.dumps(tree.shifted(len(prefix)).to_json()), summary_json=summary)


@FUZZ
@given(data=any_messages(), utf8=st.booleans(), separator=separators,
       stored=st.sampled_from(["pre-encoded", "older", "junk"]), junk=junk_json,
       items=st.lists(st.sampled_from(LISTING_ITEMS), min_size=1, max_size=6),
       include_uid=st.booleans(), include_modseq=st.booleans(), zone=zones,
       flags=st.frozensets(st.sampled_from(["\\Seen", "\\Recent", "\\Answered", "$Junk", "a"]),
                           max_size=3),
       prefix=st.sampled_from([b"", b"Received: x\r\n"]))
def test_listing_lines_are_what_the_general_path_writes(
        data: bytes, utf8: bool, separator: tuple[str, str], stored: str, junk: str,
        items: list[c.FetchItem], include_uid: bool, include_modseq: bool, zone: timezone,
        flags: frozenset[str], prefix: bytes) -> None:
    tree = mime.parse_message(data)
    summary = (junk if stored == "junk"
               else summary_json(data, tree, separator, pre_encode=stored == "pre-encoded"))
    record = record_for(data, prefix, summary, frozenset({"\\Seen"}),
                        datetime(2024, 2, 29, 23, 5, 9, tzinfo=zone))
    plan = line_plan(items, utf8=utf8, include_uid=include_uid, include_modseq=include_modseq)
    assert plan is not None
    row = (record.uid, record.modseq, record.flags, record.internal_date, record.size,
           record.summary_json, record.structure_json if plan.needs_structure else "")
    line = plan.line(12, row, flags, 99)
    general = fetch_response(items, FetchContext(12, record, None, utf8=utf8, rev2=utf8),
                             flags=flags, modseq=99, include_uid=include_uid,
                             include_modseq=include_modseq)
    assert line == b"".join(serialize(general, utf8=utf8))


def test_items_that_need_more_take_the_general_path() -> None:
    header = c.BodySection(c.Section(text=c.SectionText.HEADER), None, True)
    for item in (header, c.Preview(), c.FetchAttribute.EMAILID, c.FetchAttribute.RFC822,
                 c.BinarySize(())):
        assert line_plan([c.FetchAttribute.FLAGS, item], utf8=False) is None
    assert line_plan([c.FetchAttribute.FLAGS, c.FetchAttribute.FLAGS], utf8=False) is not None


def test_unsafe_or_misplaced_texts_are_not_sent() -> None:
    def summary(**forms: object) -> str:
        return json.dumps({**forms, "envelope": {}}, separators=(",", ":"))

    assert pre_encoded(summary(imap_envelope="(NIL)"), "imap_envelope", False) == "(NIL)"
    assert pre_encoded(summary(imap_envelope="(\"a\r\nb\")"), "imap_envelope", True) is None
    assert pre_encoded(summary(imap_envelope="(\"é\")"), "imap_envelope", False) is None
    assert pre_encoded(summary(imap_envelope="(\"a\")", imap_envelope_utf8="(\"é\")"),
                       "imap_envelope", True) == "(\"é\")"
    assert pre_encoded(summary(imap_envelope=5), "imap_envelope", False) is None
    assert pre_encoded('{"envelope":{},"imap_envelope":"x"}', "imap_envelope", False) is None
    assert pre_encoded('{"imap_envelope":"(NIL)"}', "imap_envelope", False) == "(NIL)"
    assert pre_encoded('{"imap_envelope":"(NIL', "imap_envelope", False) is None
    assert pre_encoded(summary(imap_envelope="x"), "imap_bodystructure", False) is None


@FUZZ
@given(data=any_messages(), prefix=st.sampled_from([b"", b"Received: x\r\n"]),
       structure=st.sampled_from(["stored", "junk", "wrong format"]))
def test_whole_message_header_and_text_need_no_part_tree(data: bytes, prefix: bytes,
                                                        structure: str) -> None:
    record = record_for(data, prefix, "{}", frozenset(), datetime(2024, 1, 1, tzinfo=UTC))
    if structure == "junk":
        record = dataclasses.replace(record, structure_json='{"format": 1, "root": []}')
    elif structure == "wrong format":
        record = dataclasses.replace(record, structure_json='{"format": 0, "root": {}}')
    items = [c.BodySection(c.Section(text=c.SectionText.HEADER), None, True),
             c.BodySection(c.Section(text=c.SectionText.TEXT), c.Partial(1, 50), True)]
    ctx = FetchContext(1, record, prefix + data, utf8=False, rev2=False)
    from_offsets = b"".join(serialize(fetch_response(items, ctx)))
    cache = StructureCache()
    fetch_response([c.FetchAttribute.BODY], ctx, cache=cache)  # parses the part tree
    assert cache.entry(record).tree is not None or structure != "stored"
    from_tree = b"".join(serialize(fetch_response(items, ctx, cache=cache)))
    assert from_offsets == from_tree
