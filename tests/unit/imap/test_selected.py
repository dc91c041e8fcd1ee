"""SelectedView: numbering, pending changes and the responses they become (pure, no I/O)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postier.imap.commands import STAR, SequenceSet
from postier.imap.responses import serialize
from postier.imap.selected import (
    FlagsUpdated,
    KnownMessage,
    MailboxGone,
    MessageAppeared,
    MessagesRemoved,
    SelectedView,
    SequenceError,
)


def view(uids: list[int], *, baseline: int = 10, recent_from: int | None = None) -> SelectedView:
    return SelectedView(1, 7, uids, baseline_modseq=baseline, readonly=False,
                        recent_from=recent_from)


def text(responses: list[object]) -> list[str]:
    return [b"".join(serialize(r)).decode().rstrip("\r\n")  # type: ignore[arg-type]
            for r in responses]


def test_numbering() -> None:
    v = view([3, 5, 9])
    assert v.exists == 3 and v.uid_at(2) == 5 and v.seq_of(9) == 3 and v.seq_of(4) is None
    assert v.messages(SequenceSet.of((2, STAR)), uid=False) == [(2, 5), (3, 9)]
    assert v.messages(SequenceSet.of((4, 100)), uid=True) == [(2, 5), (3, 9)]
    assert v.messages(SequenceSet.of((20, STAR)), uid=True) == [(3, 9)]  # n:* has the last
    with pytest.raises(SequenceError):
        v.messages(SequenceSet.of(4), uid=False)
    assert view([]).messages(SequenceSet.of((1, STAR)), uid=False) == []


def test_updates_come_in_rfc_order() -> None:
    v = view([1, 2, 3], recent_from=3)
    v.apply([MessageAppeared(4, 11), FlagsUpdated(2, 12, frozenset({"\\Seen"})),
             MessagesRemoved((1,), 13)])
    v.claim_new(4)
    held = v.take_updates(allow_expunge=False, rev2=False)
    # No EXPUNGE yet: the count includes the removed message, numbers do not move.
    assert text(held) == ["* 4 EXISTS", "* 2 RECENT", "* 2 FETCH (UID 2 FLAGS (\\Seen))"]
    assert text(v.take_updates(allow_expunge=True, rev2=False)) == ["* 1 EXPUNGE"]
    assert v.exists == 3 and v.uid_at(1) == 2


def test_changes_in_the_snapshot_and_own_changes_are_not_repeated() -> None:
    v = view([1, 2], baseline=10)
    v.note_own_flags(2, 15)
    v.apply([FlagsUpdated(1, 9, frozenset()), FlagsUpdated(2, 15, frozenset({"\\Seen"})),
             MessageAppeared(2, 8)])
    assert v.take_updates(allow_expunge=True, rev2=True) == []
    v.apply([FlagsUpdated(2, 16, frozenset({"\\Flagged"}))])  # someone else, later
    assert text(v.take_updates(allow_expunge=True, rev2=True, condstore=True)) == [
        "* 2 FETCH (UID 2 FLAGS (\\Flagged) MODSEQ (16))"]


def test_added_and_removed_before_announced_is_never_mentioned() -> None:
    v = view([1])
    v.apply([MessageAppeared(2, 11), FlagsUpdated(2, 12, frozenset()), MessagesRemoved((2,), 13)])
    assert v.take_updates(allow_expunge=True, rev2=True) == []
    assert v.highest_modseq == 13


def test_own_expunge_and_saved_result() -> None:
    v = view([1, 2, 3, 4])
    v.saved = (2, 4)
    assert text(v.expunge_now([4, 2, 99])) == ["* 4 EXPUNGE", "* 2 EXPUNGE"]
    assert v.saved == () and v.exists == 2
    v.apply([MessagesRemoved((2, 4), 20)])  # the hub's echo
    assert v.take_updates(allow_expunge=True, rev2=True) == []


def test_resync_after_overflow() -> None:
    v = view([1, 2, 3], baseline=10)
    v.resync([KnownMessage(1, 5, frozenset()), KnownMessage(3, 14, frozenset({"\\Seen"})),
              KnownMessage(4, 15, frozenset())])
    assert text(v.take_updates(allow_expunge=True, rev2=True)) == [
        "* 2 EXPUNGE", "* 3 EXISTS", "* 2 FETCH (UID 3 FLAGS (\\Seen))"]


def test_mailbox_gone() -> None:
    v = view([1])
    v.apply([MailboxGone()])
    assert v.gone


@given(st.lists(st.tuples(st.sampled_from(["add", "remove", "flag", "take", "take_held"]),
                          st.integers(min_value=0, max_value=30)), max_size=60))
def test_numbering_always_matches_the_client_model(operations: list[tuple[str, int]]) -> None:
    """Replaying the responses on a client-side list keeps it equal to the view's numbering,
    and after an EXPUNGE-allowed flush the view holds exactly the live messages."""
    v = view([1, 2, 3])
    client = [1, 2, 3]  # the client's idea: UIDs by sequence number
    live = {1, 2, 3}
    next_uid, modseq = 4, 10
    for kind, number in [*operations, ("take", 0)]:
        modseq += 1
        if kind == "add":
            v.apply([MessageAppeared(next_uid, modseq)])
            live.add(next_uid)
            next_uid += 1
        elif kind == "remove" and live:
            uid = sorted(live)[number % len(live)]
            live.discard(uid)
            v.apply([MessagesRemoved((uid,), modseq)])
        elif kind == "flag" and live:
            uid = sorted(live)[number % len(live)]
            v.apply([FlagsUpdated(uid, modseq, frozenset({"\\Seen"}))])
        elif kind.startswith("take"):
            for line in text(v.take_updates(allow_expunge=kind == "take", rev2=True)):
                words = line.split(" ")
                if words[2] == "EXPUNGE":
                    del client[int(words[1]) - 1]
                elif words[2] == "EXISTS":
                    count = int(words[1])
                    assert count >= len(client)
                    client += [0] * (count - len(client))  # UIDs learnt by FETCH later
                elif words[2] == "FETCH":
                    seq, uid = int(words[1]), int(words[4])
                    assert client[seq - 1] in (uid, 0)
                    client[seq - 1] = uid
            assert len(client) == v.exists
    assert [v.uid_at(s) for s in range(1, v.exists + 1)] == sorted(live)
    assert all(uid in (0, v.uid_at(seq)) for seq, uid in enumerate(client, 1))
