"""SEARCH: which messages a search-key tree matches, and the SEARCH/ESEARCH responses.

How this works
--------------
The session first asks :func:`search_needs` what the criteria read: the stored summary (address
and subject fields, the Date header), the raw header block (HEADER, TEXT), and which BODY/TEXT
strings the full-text index must answer. It runs those index queries itself (they hit the
store) and passes the hits in as ``text_hits``: ``(field, string) -> UIDs``. :func:`matches`
then decides every key in memory, reading the summary JSON and the header only when a key
needs them, once per message.

Rules, with their sources:

- Strings match as case-insensitive substrings of the decoded text, folded as i;unicode-casemap
  (RFC 9051 §6.4.4, collation.py). FROM/TO/CC/BCC/SUBJECT read the decoded header text the
  summary stores; HEADER reads every field of that name in the header, unfolded and decoded,
  and an empty string matches any message that has the field. BODY is the index's answer;
  TEXT is the index's answer or a match anywhere in the header. The index matches words by
  their beginning (every word of the string must start a word of the message, diacritics and
  case ignored): ``harb`` finds "harbour", ``arbour`` does not. That is narrower than the
  substring rule of RFC 9051 §6.4.4, which only reading every body could honour; it is the
  same rule on both backends, and no hit is re-checked against the body.
- BEFORE/ON/SINCE compare the date of the internal date in its own time zone; SENTBEFORE/
  SENTON/SENTSINCE the date of the Date header as written, or the internal date when there
  is none (as Dovecot does; RFC 5256 §2.2 makes the same fallback for SORT).
- Sequence sets resolve ``*`` against the largest sequence number or UID and treat ranges as
  unordered (RFC 9051 §9); ``$`` is the saved result, kept as UIDs (RFC 5182).
- MODSEQ compares the message's mod-sequence: flags are not tracked separately, so the entry
  name is ignored (RFC 7162 §3.1.5 allows this). OLDER/YOUNGER count seconds from ``now``
  (RFC 5032). RECENT reads ``SearchMessage.recent`` (IMAP4rev1 only; RFC 3501).
- Keywords match exactly, then case-insensitively: clients disagree on their case.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass
from datetime import UTC, date, datetime

from postier.imap.collation import fold
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
    SearchKey,
    SearchReturn,
    SequenceSet,
    SizeCompare,
    TextField,
)
from postier.imap.responses import Atom, Untagged, Value
from postier.mime import decode_words, header_fields
from postier.types import UidSet

__all__ = ["SearchMessage", "SearchNeeds", "esearch_result", "matches", "saved_result",
           "search_needs", "search_response", "sequence_set_text"]

RECENT = "\\Recent"
_SUMMARY_FIELDS = {TextField.FROM: "from", TextField.TO: "to", TextField.CC: "cc",
                   TextField.BCC: "bcc", TextField.SUBJECT: "subject"}
_INDEX_FIELDS = frozenset({TextField.BODY, TextField.TEXT})
# HEADER on a message whose header block was not provided: what the summary can answer.
_SUMMARY_HEADERS = {"from": "from", "to": "to", "cc": "cc", "bcc": "bcc", "subject": "subject",
                    "message-id": "message_id"}


@dataclass(frozen=True, slots=True)
class SearchMessage:
    seq: int
    uid: int
    modseq: int
    flags: frozenset[str]
    internal_date: datetime
    size: int
    summary_json: str
    recent: bool = False
    header: bytes | None = None  # the raw header block, only when search_needs(...).headers
    email_id: str | None = None  # RFC 8474, for EMAILID
    thread_id: str | None = None  # RFC 8474, for THREADID


@dataclass(frozen=True, slots=True)
class SearchNeeds:
    summary: bool  # SearchMessage.summary_json is read
    headers: bool  # SearchMessage.header must be provided
    text_queries: tuple[tuple[str, str], ...]  # (field, value) for BODY/TEXT keys: ask the index
    modseq: bool = False  # a MODSEQ key: the response carries the highest mod-sequence


def _children(key: SearchKey) -> tuple[SearchKey, ...]:
    if isinstance(key, Not):
        return (key.key,)
    if isinstance(key, Or):
        return (key.left, key.right)
    if isinstance(key, And):
        return key.keys
    return ()


def search_needs(criteria: SearchKey) -> SearchNeeds:
    summary = headers = modseq = False
    queries: dict[tuple[str, str], None] = {}  # ordered and without duplicates
    stack = [criteria]
    while stack:  # no recursion: trees built in code need not respect the parser's depth limit
        key = stack.pop()
        stack.extend(reversed(_children(key)))
        if isinstance(key, Contains):
            if key.field in _INDEX_FIELDS:
                queries[(key.field.value, key.value)] = None
                headers = headers or key.field is TextField.TEXT
            else:
                summary = True
        elif isinstance(key, HeaderContains):
            headers = True
        elif isinstance(key, DateCompare) and key.field is DateField.SENT:
            summary = True
        elif isinstance(key, ModSeqAtLeast):
            modseq = True
    return SearchNeeds(summary, headers, tuple(queries), modseq)


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _in_set(sequence: SequenceSet, number: int, largest: int, uid: int,
            saved: Set[int]) -> bool:
    if sequence.saved:
        return uid in saved
    for span in sequence.ranges:
        first = largest if span.first is STAR else span.first
        last = largest if span.last is STAR else span.last
        assert isinstance(first, int) and isinstance(last, int)
        if min(first, last) <= number <= max(first, last):
            return True
    return False


class _Matcher:
    """One message against one criteria tree; parses what it reads at most once."""

    __slots__ = ("_header_text", "_headers", "_message", "_options", "_summary")

    def __init__(self, message: SearchMessage, options: _Options) -> None:
        self._message = message
        self._options = options
        self._summary: Mapping[str, object] | None = None
        self._headers: list[tuple[str, str]] | None = None  # (folded name, folded value)
        self._header_text: str | None = None

    def summary(self) -> Mapping[str, object]:
        if self._summary is None:
            try:
                loaded = json.loads(self._message.summary_json)
            except (ValueError, RecursionError):
                loaded = None
            self._summary = loaded if isinstance(loaded, Mapping) else {}
        return self._summary

    def summary_text(self, key: str) -> str:
        value = self.summary().get(key)
        return fold(value) if isinstance(value, str) else ""

    def sent_date(self) -> date:
        value = self.summary().get("date")
        if isinstance(value, str):
            try:
                return datetime.fromisoformat(value).date()
            except ValueError:
                pass
        return self._message.internal_date.date()

    def headers(self) -> list[tuple[str, str]]:
        if self._headers is None:
            block = self._message.header or b""
            self._headers = [(fold(field.name), fold(decode_words(field.value)))
                             for field in header_fields(block) if field.name]
        return self._headers

    def header_text(self) -> str:
        if self._header_text is None:
            if self._message.header is None:
                parts = [self.summary_text(key) for key in _SUMMARY_FIELDS.values()]
            else:
                parts = [f"{name}: {value}" for name, value in self.headers()]
            self._header_text = "\n".join(parts)
        return self._header_text

    def header_contains(self, key: HeaderContains) -> bool:
        name, wanted = fold(key.name), fold(key.value)
        if self._message.header is None:
            summary_key = _SUMMARY_HEADERS.get(name)
            if summary_key is None:
                return False
            text = self.summary_text(summary_key)
            if summary_key == "message_id" and text:
                text = f"<{text}>"  # the summary keeps it without the angle brackets
            return bool(text) and wanted in text  # "" matches the messages with that field
        return any(field == name and wanted in value for field, value in self.headers())

    def has_flag(self, flag: str) -> bool:
        message = self._message
        if flag == RECENT:
            return message.recent
        if flag in message.flags:
            return True
        if flag.startswith("\\"):
            return False  # system flags are stored in one canonical spelling
        wanted = flag.lower()
        return any(f.lower() == wanted for f in message.flags)

    def contains(self, key: Contains) -> bool:
        message = self._message
        if key.field in _INDEX_FIELDS:
            hits = self._options.text_hits.get((key.field.value, key.value))
            if hits is not None and message.uid in hits:
                return True
            return key.field is TextField.TEXT and fold(key.value) in self.header_text()
        text = self.summary_text(_SUMMARY_FIELDS[key.field])
        return bool(text) and fold(key.value) in text  # SUBJECT "": those with a subject

    def date_matches(self, key: DateCompare) -> bool:
        if key.field is DateField.SENT:
            day = self.sent_date()
        else:
            day = self._message.internal_date.date()  # in the internal date's own zone
        if key.relation == "BEFORE":
            return day < key.day
        if key.relation == "ON":
            return day == key.day
        return day >= key.day  # SINCE

    def test(self, key: SearchKey) -> bool:
        message, options = self._message, self._options
        match key:
            case All():
                return True
            case HasFlag(flag, present):
                return self.has_flag(flag) == present
            case Contains():
                return self.contains(key)
            case HeaderContains():
                return self.header_contains(key)
            case DateCompare():
                return self.date_matches(key)
            case SizeCompare(larger, size):
                return message.size > size if larger else message.size < size
            case Age(older, seconds):
                age = (_utc(options.now) - _utc(message.internal_date)).total_seconds()
                return age > seconds if older else age <= seconds
            case InSet(sequence, uid):
                if uid:
                    return _in_set(sequence, message.uid, options.max_uid, message.uid,
                                   options.saved)
                return _in_set(sequence, message.seq, options.max_seq, message.uid,
                               options.saved)
            case ModSeqAtLeast(modseq):
                return message.modseq >= modseq
            case ObjectId(field, value):
                found = message.email_id if field == "EMAILID" else message.thread_id
                return found is not None and found == value
            case Not(inner):
                return not self.test(inner)
            case Or(left, right):
                return self.test(left) or self.test(right)
            case And(keys):
                return all(self.test(k) for k in keys)
        return False  # pragma: no cover - every SearchKey is matched above


@dataclass(frozen=True, slots=True)
class _Options:
    text_hits: Mapping[tuple[str, str], Set[int]]
    max_seq: int
    max_uid: int
    now: datetime
    saved: Set[int]


def matches(criteria: SearchKey, message: SearchMessage, *,
            text_hits: Mapping[tuple[str, str], Set[int]], max_seq: int, max_uid: int,
            now: datetime, saved: Set[int] = frozenset()) -> bool:
    """Whether ``message`` satisfies ``criteria``; never raises on stored data."""
    options = _Options(text_hits, max_seq, max_uid, now, saved)
    return _Matcher(message, options).test(criteria)


# -- responses -----------------------------------------------------------------------------------


def sequence_set_text(numbers: Sequence[int], *, ordered: bool = False) -> str:
    """A compact sequence-set: sorted ranges, or (``ordered``) runs that keep the given order."""
    if not ordered:
        return str(UidSet.of(numbers))
    runs: list[list[int]] = []
    for number in numbers:
        if runs and number == runs[-1][1] + 1:
            runs[-1][1] = number
        else:
            runs.append([number, number])
    return ",".join(str(a) if a == b else f"{a}:{b}" for a, b in runs)


def search_response(numbers: Sequence[int], *, modseq: int | None = None) -> Untagged:
    """``* SEARCH 2 3 6``, with ``(MODSEQ n)`` after a MODSEQ search (RFC 7162 §3.1.5)."""
    values: list[Value] = [Atom("SEARCH"), *numbers]
    if modseq is not None and numbers:
        values.append((Atom("MODSEQ"), modseq))
    return Untagged(tuple(values))


def esearch_result(tag: str | None, uids_or_seqs: Sequence[int],
                   returns: frozenset[SearchReturn], uid: bool, *, modseq: int | None = None,
                   ordered: bool = False) -> Untagged:
    """``* ESEARCH (TAG "x") UID MIN n MAX n ALL set COUNT n`` (RFC 4731 §3.1).

    With no match, MIN, MAX and ALL are left out and COUNT is 0. ``ordered`` is for ESORT
    (RFC 5267 §3.2): the numbers are in sort order, MIN/MAX are the first and last of them and
    ALL keeps the order. A session sends nothing when SAVE was the only option (RFC 5182 §2.4).
    """
    numbers = list(uids_or_seqs)
    values: list[Value] = [Atom("ESEARCH")]
    if tag is not None:
        values.append((Atom("TAG"), tag))
    if uid:
        values.append(Atom("UID"))
    if numbers and SearchReturn.MIN in returns:
        values += (Atom("MIN"), numbers[0] if ordered else min(numbers))
    if numbers and SearchReturn.MAX in returns:
        values += (Atom("MAX"), numbers[-1] if ordered else max(numbers))
    if numbers and SearchReturn.ALL in returns:
        values += (Atom("ALL"), Atom(sequence_set_text(numbers, ordered=ordered)))
    if SearchReturn.COUNT in returns:  # after ALL, in Dovecot's order
        values += (Atom("COUNT"), len(numbers))
    if modseq is not None and numbers:
        values += (Atom("MODSEQ"), modseq)
    return Untagged(tuple(values))


def saved_result(uids: Sequence[int], returns: frozenset[SearchReturn]) -> list[int]:
    """What SEARCH RETURN (SAVE ...) saves (RFC 5182 §2.4): all matches, except that SAVE with
    only MIN and/or MAX saves just those."""
    numbers = list(uids)
    if not numbers or returns & {SearchReturn.ALL, SearchReturn.COUNT} \
            or not returns & {SearchReturn.MIN, SearchReturn.MAX}:
        return numbers
    chosen = set()
    if SearchReturn.MIN in returns:
        chosen.add(min(numbers))
    if SearchReturn.MAX in returns:
        chosen.add(max(numbers))
    return sorted(chosen)
