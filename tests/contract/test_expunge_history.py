"""Expunge-history retention: pruning forgets old expunges and raises ``vanished_floor`` so that
``vanished_since`` is exact at or above the floor and says "don't know" (None) below it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from postier.types import UidSet

MESSAGE = b"From: a@example.test\r\nSubject: x\r\n\r\nbody\r\n"
LATER = datetime.now(UTC) + timedelta(days=1)  # a cutoff after every expunge of a test
EARLIER = datetime(2000, 1, 1, tzinfo=UTC)  # a cutoff before every expunge


@pytest.fixture
async def account(store):
    await store.add_domain("example.test")
    return await store.add_account("bob@example.test", "h", None)


async def _fill(store, account, name: str, count: int):
    box = (await store.get_mailbox(account.id, name) if name == "INBOX"
           else await store.create_mailbox(account.id, name))
    uids = [(await store.append(account.id, box.id, MESSAGE)).record.uid for _ in range(count)]
    return box, uids


async def _floor(store, box) -> int:
    return next(row.vanished_floor for row in await store.transfer().mailboxes()
                if row.id == box.id)


async def _highest(store, account, box) -> int:
    return (await store.get_mailbox_by_id(account.id, box.id)).highest_modseq


async def test_pruning_raises_the_floor_to_the_highest_forgotten_modseq(store, account) -> None:
    box, uids = await _fill(store, account, "INBOX", 5)
    start = await _highest(store, account, box)
    await store.remove(account.id, box.id, UidSet.of(uids[0:2]))
    floor = await _highest(store, account, box)  # the modseq of that removal
    await store.remove(account.id, box.id, UidSet.of([uids[2]]))
    assert await store.prune_expunge_history(EARLIER) == 0
    assert await store.vanished_since(account.id, box.id, start) == UidSet.of(uids[0:3])

    assert await store.prune_expunge_history(LATER) == 3
    assert await _floor(store, box) > floor
    newest = await _highest(store, account, box)
    assert await _floor(store, box) == newest
    # Below the floor the store cannot tell; at the floor it can (nothing since).
    assert await store.vanished_since(account.id, box.id, start) is None
    assert await store.vanished_since(account.id, box.id, newest - 1) is None
    assert await store.vanished_since(account.id, box.id, newest) == UidSet()
    # Expunges after the prune are exact again for a client at or above the floor.
    await store.remove(account.id, box.id, UidSet.of([uids[4]]))
    assert await store.vanished_since(account.id, box.id, newest) == UidSet.of([uids[4]])
    assert await store.prune_expunge_history(EARLIER) == 0


async def test_a_partial_prune_keeps_later_expunges_exact(store, account) -> None:
    box, uids = await _fill(store, account, "INBOX", 4)
    await store.remove(account.id, box.id, UidSet.of([uids[0]]))
    old_floor = await _highest(store, account, box)
    await store.remove(account.id, box.id, UidSet.of([uids[1]]))
    await store.remove(account.id, box.id, UidSet.of([uids[2]]))
    logged = {uid: when for uid, _, when in await store.transfer().expunged(box.id)}
    assert set(logged) == set(uids[0:3])
    assert logged[uids[0]] < logged[uids[1]] <= logged[uids[2]]
    # Forget only the first expunge: everything after it is still answered exactly.
    assert await store.prune_expunge_history(logged[uids[1]]) == 1
    assert await _floor(store, box) == old_floor
    assert await store.vanished_since(account.id, box.id, old_floor - 1) is None
    assert await store.vanished_since(account.id, box.id, old_floor) == UidSet.of(uids[1:3])


async def test_pruning_runs_in_batches_and_per_mailbox(store, account) -> None:
    inbox, inbox_uids = await _fill(store, account, "INBOX", 7)
    other, other_uids = await _fill(store, account, "Other", 3)
    for uid in inbox_uids[:6]:
        await store.remove(account.id, inbox.id, UidSet.of([uid]))
    await store.remove(account.id, other.id, UidSet.of(other_uids))
    inbox_top, other_top = await _highest(store, account, inbox), await _highest(store, account,
                                                                                 other)
    assert await store.prune_expunge_history(LATER, batch=4) == 9
    assert await store.transfer().expunged(inbox.id) == []
    assert await store.transfer().expunged(other.id) == []
    assert await _floor(store, inbox) == inbox_top
    assert await _floor(store, other) == other_top
    # Messages still there are untouched; a mailbox without expunges keeps floor 0.
    assert [r.uid for r in await store.get_messages(account.id, inbox.id)] == [inbox_uids[6]]
    empty = await store.create_mailbox(account.id, "Empty")
    assert await store.prune_expunge_history(LATER) == 0
    assert await _floor(store, empty) == 0


async def test_moves_are_logged_and_pruned_like_expunges(store, account) -> None:
    inbox, uids = await _fill(store, account, "INBOX", 2)
    other = await store.create_mailbox(account.id, "Other")
    before = await _highest(store, account, inbox)
    await store.move(account.id, inbox.id, UidSet.of([uids[0]]), other.id)
    assert await store.vanished_since(account.id, inbox.id, before) == UidSet.of([uids[0]])
    assert await store.prune_expunge_history(LATER) == 1
    assert await store.vanished_since(account.id, inbox.id, before) is None
    assert await store.vanished_since(account.id, other.id, 0) == UidSet()


async def test_two_instances_pruning_at_once_forget_each_expunge_once(two_stores) -> None:
    first, second = two_stores
    await first.add_domain("example.test")
    account = await first.add_account("bob@example.test", "h", None)
    boxes = []
    for name in ("INBOX", "A", "B"):
        box, uids = await _fill(first, account, name, 6)
        for uid in uids:  # one expunge (and modseq) each
            await first.remove(account.id, box.id, UidSet.of([uid]))
        boxes.append(box)
    counts = await asyncio.gather(first.prune_expunge_history(LATER, batch=2),
                                  second.prune_expunge_history(LATER, batch=3))
    assert sum(counts) == 18
    for box in boxes:
        found = await second.get_mailbox_by_id(account.id, box.id)
        assert await _floor(second, box) == found.highest_modseq
        assert await second.transfer().expunged(box.id) == []
