"""Concurrent writers on two store instances: two processes on one directory (SQLite), or two
nodes on one database (PostgreSQL: two pools, so two sets of connections racing for rows)."""

from __future__ import annotations

import asyncio

from postier.types import FlagOp, UidSet


async def test_concurrent_appends_from_two_store_instances_never_share_a_uid(two_stores) -> None:
    first, second = two_stores
    await first.add_domain("example.test")
    account = await first.add_account("bob@example.test", "h", None)
    inbox = await first.get_mailbox(account.id, "INBOX")
    per_writer = 60

    async def writer(store, name: str) -> list[int]:
        results = await asyncio.gather(*(
            store.append(account.id, inbox.id, f"Subject: {name} {i}\r\n\r\nbody\r\n".encode())
            for i in range(per_writer)))
        return [r.record.uid for r in results]

    uids_a, uids_b = await asyncio.gather(writer(first, "a"), writer(second, "b"))
    all_uids = uids_a + uids_b
    assert len(set(all_uids)) == 2 * per_writer
    stored = await second.get_messages(account.id, inbox.id)
    assert sorted(all_uids) == [r.uid for r in stored]
    modseqs = [r.modseq for r in stored]
    assert len(set(modseqs)) == len(modseqs)
    assert max(modseqs) == (await first.get_mailbox(account.id, "INBOX")).highest_modseq
    assert (await first.quota(account.id)).messages == 2 * per_writer


async def test_concurrent_flag_changes_are_all_kept(two_stores) -> None:
    first, second = two_stores
    await first.add_domain("example.test")
    account = await first.add_account("bob@example.test", "h", None)
    inbox = await first.get_mailbox(account.id, "INBOX")
    await first.append(account.id, inbox.id, b"Subject: shared\r\n\r\nx\r\n")
    one = UidSet.of([1])
    keywords = [f"k{i}" for i in range(40)]
    await asyncio.gather(*(
        (first if i % 2 else second).set_flags(account.id, inbox.id, one, FlagOp.ADD,
                                               frozenset({kw}))
        for i, kw in enumerate(keywords)))
    [state] = await first.message_states(account.id, inbox.id)
    assert state.flags == frozenset(keywords)
    # Every change got its own modseq, so a resyncing device can see each one happened.
    assert state.modseq == (await second.get_mailbox(account.id, "INBOX")).highest_modseq


async def test_group_commit_isolates_a_failing_job(store) -> None:
    await store.add_domain("example.test")
    account = await store.add_account("bob@example.test", "h", None)
    inbox = await store.get_mailbox(account.id, "INBOX")
    results = await asyncio.gather(
        store.append(account.id, inbox.id, b"Subject: ok 1\r\n\r\n."),
        store.create_mailbox(account.id, "INBOX"),  # fails: already exists
        store.append(account.id, inbox.id, b"Subject: ok 2\r\n\r\n."),
        return_exceptions=True)
    assert isinstance(results[1], Exception)
    assert sorted(r.record.uid for r in (results[0], results[2])) == [1, 2]
    assert (await store.status(account.id, inbox.id)).messages == 2
