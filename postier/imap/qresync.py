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
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

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

__all__ = ["clip", "contains", "intersect", "missing", "uid_ranges"]


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
