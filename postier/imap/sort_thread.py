"""SORT and THREAD (RFC 5256, RFC 5957): ordering and threading the messages a search matched.

How this works
--------------
Everything is read from the stored summary (one JSON parse per message): the decoded Subject
for the base subject (RFC 5256 §2.1, collation.py), the Date header as the sent date with the
internal date as fallback (§2.2), Message-ID/References/In-Reply-To for REFERENCES, and the
envelope's address lists for FROM/TO/CC and DISPLAYFROM/DISPLAYTO. Strings compare folded
(i;unicode-casemap), dates in UTC; ties always fall back to the sequence number.

SORT sorts once by sequence number and then once per key, last key first: Python's sort is
stable (also with ``reverse=True``), so earlier keys dominate and equal messages stay in
mailbox order, as RFC 5256 §3 requires.

THREAD=ORDEREDSUBJECT groups by base subject (§3); THREAD=REFERENCES is the algorithm of §3
step by step, in threads.py. Both return :class:`ThreadNode` trees; a node without a message is
a dummy parent joining top-level threads of one subject. :func:`render_threads` writes them as
``(2)(3 6 (4 23)(44 7 96))``: a chain of only children is a space-separated run, two or more
children each get parentheses (§4 thread-list). The text is built without recursion, since a
thread can be thousands of messages deep.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from postier.imap.collation import fold, subject_base
from postier.imap.commands import SortCriterion, SortKey, ThreadAlgorithm
from postier.imap.responses import Atom, Untagged, Value
from postier.imap.threads import (
    SortMessage,
    ThreadNode,
    ordered_subject,
    references,
    sent_date,
    summary_of,
    utc,
)
from postier.mime import decode_words

__all__ = ["SortMessage", "ThreadNode", "base_subject", "render_threads", "sort",
           "sort_response", "thread", "thread_response"]


def base_subject(subject: str) -> str:
    """The folded base subject of a decoded subject (RFC 5256 §2.1)."""
    return subject_base(subject)[0]


def _first_address(summary: dict[str, object], key: str, *,
                   groups: bool = False) -> list[str | None] | None:
    """The first mailbox of an envelope address list; with ``groups``, a group's start marker
    (NIL NIL "name" NIL) counts too, as its addr-mailbox is the group name."""
    envelope = summary.get("envelope")
    addresses = envelope.get(key) if isinstance(envelope, dict) else None
    if not isinstance(addresses, list):
        return None
    for address in addresses:
        if not (isinstance(address, list) and len(address) == 4):
            continue
        if isinstance(address[3], str) or (groups and isinstance(address[2], str)):
            return [a if isinstance(a, str) else None for a in address]
    return None


def _mailbox_key(summary: dict[str, object], key: str) -> str:
    """RFC 5256 §3: the addr-mailbox of the first address in the ENVELOPE's list, which for a
    group ("undisclosed-recipients:;") is the group name, as Dovecot and Cyrus sort it."""
    address = _first_address(summary, key, groups=True)
    return fold(address[2] or "") if address is not None else ""


def _display_key(summary: dict[str, object], key: str) -> str:
    """RFC 5957 §3: the decoded display name of the first address, else its addr-spec."""
    address = _first_address(summary, key)
    if address is None:
        return ""
    name = decode_words(address[0]).strip() if address[0] else ""
    if name:
        return fold(name)
    return fold(f"{address[2] or ''}@{address[3]}" if address[3] else address[2] or "")


def _subject(summary: dict[str, object]) -> str:
    subject = summary.get("subject")
    return base_subject(subject) if isinstance(subject, str) else ""


_SortValue = datetime | int | str  # one type per key, so values of one key always compare


def _sort_value(key: SortKey, message: SortMessage, summary: dict[str, object]) -> _SortValue:
    match key:
        case SortKey.ARRIVAL:
            return utc(message.internal_date)
        case SortKey.DATE:
            return sent_date(message, summary)
        case SortKey.SIZE:
            return message.size
        case SortKey.SUBJECT:
            return _subject(summary)
        case SortKey.FROM:
            return _mailbox_key(summary, "from")
        case SortKey.TO:
            return _mailbox_key(summary, "to")
        case SortKey.CC:
            return _mailbox_key(summary, "cc")
        case SortKey.DISPLAYFROM:
            return _display_key(summary, "from")
        case SortKey.DISPLAYTO:
            return _display_key(summary, "to")
    raise AssertionError(key)  # pragma: no cover - the match is exhaustive


def sort(messages: Sequence[SortMessage],
         keys: Sequence[tuple[SortKey, bool] | SortCriterion]) -> list[SortMessage]:
    """``messages`` ordered by ``(key, reverse)`` pairs (or the parser's SortCriterion)."""
    criteria = [(k.key, k.reverse) if isinstance(k, SortCriterion) else k for k in keys]
    summaries = {id(m): summary_of(m) for m in messages}
    ordered = sorted(messages, key=lambda m: m.seq)
    for key, reverse in reversed(criteria):
        values = {id(m): _sort_value(key, m, summaries[id(m)]) for m in messages}
        ordered.sort(key=lambda m: values[id(m)], reverse=reverse)
    return ordered


def thread(messages: Sequence[SortMessage], algorithm: ThreadAlgorithm) -> list[ThreadNode]:
    """The threads of ``messages``, in the order RFC 5256 §3 gives them."""
    if algorithm is ThreadAlgorithm.ORDEREDSUBJECT:
        return ordered_subject(messages)
    return references(messages)


def render_threads(threads: Sequence[ThreadNode], uid: bool) -> Atom:
    """The thread-list text of ``* THREAD``: ``(2)(3 6 (4 23)(44 7 96))``."""
    out: list[str] = []
    work: list[str | ThreadNode] = []
    for root in reversed(threads):
        work += (")", root, "(")
    while work:
        item = work.pop()
        if isinstance(item, str):
            out.append(item)
            continue
        numbers: list[str] = []
        node = item
        while True:  # a chain of only children is one run of numbers
            if node.message is not None:
                numbers.append(str(node.message.uid if uid else node.message.seq))
            if node.message is not None and len(node.children) == 1:
                node = node.children[0]
                continue
            break
        out.append(" ".join(numbers))
        if node.children:
            if numbers:
                out.append(" ")
            for child in reversed(node.children):
                work += (")", child, "(")
    return Atom("".join(out))


def thread_response(threads: Sequence[ThreadNode], uid: bool) -> Untagged:
    """``* THREAD (...)(...)``, or a bare ``* THREAD`` when nothing matched."""
    if not threads:
        return Untagged((Atom("THREAD"),))
    return Untagged((Atom("THREAD"), render_threads(threads, uid)))


def sort_response(messages: Sequence[SortMessage], uid: bool) -> Untagged:
    """``* SORT 2 3 6`` (RFC 5256 §4) in the order given."""
    values: list[Value] = [Atom("SORT")]
    values.extend(m.uid if uid else m.seq for m in messages)
    return Untagged(tuple(values))

