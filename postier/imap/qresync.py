"""UID-set arithmetic for QRESYNC (RFC 7162 §3.2): what a reconnecting client must forget.

How this works
--------------
A client that resynchronises names the UIDs it knows (``known-uids``, or by default every UID
below UIDNEXT) and the MODSEQ it last saw. The server answers ``VANISHED (EARLIER)`` with the
known UIDs expunged since then. When the store still has the expunge history
(``vanished_since``), that is the history restricted to the known UIDs; when it does not, the
honest answer is every known UID that is not in the mailbox now — possibly more than what
really changed, never a claim the server cannot back. These pure functions compute both on
range lists, so ``1:4294967295`` costs as much as the mailbox's own UIDs, not four billion.

The store forgets expunges after ``[store] expunge_history``; that is when the client's optional
message sequence match data (RFC 7162 §3.2.5.2) earns its keep: a pair "sequence number N is
UID u" that still holds proves the client already knows every expunge up to u (the N - 1
messages below u are the same ones, as UIDs only grow), so the honest answer can start above
the last such pair (``matched_through``). With the history at hand the answer is exact anyway
and the pairs are not needed.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Sequence

from postier.imap.commands import STAR, SequenceSet
from postier.types import Uid, UidRange, UidSet


def uid_ranges(sequence: SequenceSet, largest: int) -> UidSet:
    """A UID set named by the client, as ranges (``*`` is ``largest``), never expanded."""
    spans: list[tuple[int, int]] = []
    for r in sequence.ranges:
        a = largest if r.first is STAR else r.first
        b = largest if r.last is STAR else r.last
        assert isinstance(a, int) and isinstance(b, int)
        low, high = max(min(a, b), 1), max(a, b)
        if low <= high:
            spans.append((low, high))
    spans.sort()
    merged: list[UidRange] = []
    for low, high in spans:
        if merged and low <= merged[-1].last + 1:
            if high > merged[-1].last:
                merged[-1] = UidRange(merged[-1].first, Uid(high))
        else:
            merged.append(UidRange(Uid(low), Uid(high)))
    return UidSet(tuple(merged))


def contains(uids: UidSet, starts: Sequence[int], uid: int) -> bool:
    """``uid in uids`` in O(log n); ``starts`` is ``[r.first for r in uids.ranges]``."""
    index = bisect.bisect_right(starts, uid) - 1
    return index >= 0 and uids.ranges[index].last >= uid

__all__ = ["above", "clip", "contains", "intersect", "matched_through", "missing", "uid_ranges"]


def above(uids: UidSet, floor: int) -> UidSet:
    """``uids`` without the numbers up to ``floor``."""
    ranges = [UidRange(Uid(max(r.first, floor + 1)), r.last) for r in uids.ranges
              if r.last > floor]
    return UidSet(tuple(ranges))


def matched_through(sequences: SequenceSet, uids: SequenceSet, present: Sequence[int]) -> int:
    """RFC 7162 §3.2.5.2: the highest UID of the client's (sequence number, UID) pairs that the
    mailbox (``present``: its UIDs, ascending) still matches, taking the pairs in order and
    stopping at the first that does not match; 0 when none does. Pairs must ascend; the scan
    stops where they do not, and never runs past the mailbox's last message."""
    last = 0
    previous = (0, 0)
    for seq, uid in zip(_numbers(sequences), _numbers(uids), strict=False):
        if seq <= previous[0] or uid <= previous[1] or seq > len(present):
            break
        if present[seq - 1] != uid:
            break
        last, previous = uid, (seq, uid)
    return last


def _numbers(sequence: SequenceSet) -> Iterator[int]:
    """The numbers of a sequence set in the client's order (no ``*``: the grammar has none)."""
    for r in sequence.ranges:
        if not isinstance(r.first, int) or not isinstance(r.last, int):
            return
        step = 1 if r.last >= r.first else -1
        yield from range(r.first, r.last + step, step)


def clip(uids: UidSet, last: int) -> UidSet:
    """``uids`` without the numbers above ``last``."""
    ranges = [UidRange(r.first, Uid(min(r.last, last))) for r in uids.ranges if r.first <= last]
    return UidSet(tuple(ranges))


def intersect(a: UidSet, b: UidSet) -> UidSet:
    out: list[UidRange] = []
    i = j = 0
    while i < len(a.ranges) and j < len(b.ranges):
        x, y = a.ranges[i], b.ranges[j]
        first, last = max(x.first, y.first), min(x.last, y.last)
        if first <= last:
            out.append(UidRange(Uid(first), Uid(last)))
        if x.last < y.last:
            i += 1
        else:
            j += 1
    return UidSet(tuple(out))


def missing(scope: UidSet, present: Sequence[int]) -> UidSet:
    """The UIDs of ``scope`` that are not in ``present`` (sorted ascending)."""
    out: list[UidRange] = []
    for r in scope.ranges:
        start: int = r.first
        index = bisect.bisect_left(present, r.first)
        while index < len(present) and present[index] <= r.last:
            uid = present[index]
            if uid > start:
                out.append(UidRange(Uid(start), Uid(uid - 1)))
            start = uid + 1
            index += 1
        if start <= r.last:
            out.append(UidRange(Uid(start), r.last))
    return UidSet(tuple(out))
