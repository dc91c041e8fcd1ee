"""UID-set arithmetic for QRESYNC: ``above`` and the message sequence match data scan."""

from __future__ import annotations

from postier.imap.commands import SequenceSet
from postier.imap.qresync import above, matched_through
from postier.types import UidSet

PRESENT = [1, 3, 4, 6, 9]  # the mailbox now: message 1 is UID 1, message 2 is UID 3, ...


def test_above_drops_numbers_up_to_the_floor() -> None:
    uids = UidSet.of([1, 2, 3, 7, 8, 20])
    assert above(uids, 0) == uids
    assert above(uids, 2) == UidSet.of([3, 7, 8, 20])
    assert above(uids, 7) == UidSet.of([8, 20])
    assert above(uids, 20) == UidSet()


def test_pairs_match_up_to_the_first_mismatch() -> None:
    assert matched_through(SequenceSet.of((1, 3)), SequenceSet.of(1, 3, 4), PRESENT) == 4
    assert matched_through(SequenceSet.of(2, 4), SequenceSet.of(3, 6), PRESENT) == 6
    # Message 3 was UID 5 for the client: stop there, keep what matched before.
    assert matched_through(SequenceSet.of(2, 3, 5), SequenceSet.of(3, 5, 9), PRESENT) == 3
    assert matched_through(SequenceSet.of(1), SequenceSet.of(2), PRESENT) == 0


def test_pairs_past_the_mailbox_or_out_of_order_stop_the_scan() -> None:
    assert matched_through(SequenceSet.of(5, 6), SequenceSet.of(9, 10), PRESENT) == 9
    assert matched_through(SequenceSet.of(3, 1), SequenceSet.of(4, 1), PRESENT) == 4
    assert matched_through(SequenceSet.of(1, 2), SequenceSet.of(1), PRESENT) == 1  # unequal sizes
    assert matched_through(SequenceSet.of(1), SequenceSet.of(1), []) == 0
    # A huge range costs at most one step per message.
    everything = SequenceSet.of((1, 4294967295))
    assert matched_through(everything, SequenceSet.of(1, 3, 4, 6, 9, 10), PRESENT) == 9
