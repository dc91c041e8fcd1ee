"""What only several PostgreSQL nodes have: the change bus between them (LISTEN/NOTIFY), POP3
locks and login throttling shared by all, versioned migrations, and lock-order deadlocks
resolved by retrying."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from postier.auth.throttle import ThrottleLimits
from postier.errors import MailError
from postier.store.changes import FlagsChanged, MessageAdded, MessagesExpunged, Subscription
from postier.store.interface import DeliveryTarget
from postier.store.postgres.migrations import available
from postier.store.postgres.store import PostgresStore
from postier.types import FlagOp, UidSet
from tests.postgres_support import fresh_schema

DEADLINE = 5.0


@pytest.fixture
async def dsn() -> AsyncIterator[str]:
    async with fresh_schema() as value:
        yield value


@pytest.fixture
async def nodes(dsn: str) -> AsyncIterator[list[PostgresStore]]:
    """Two listening nodes on one schema."""
    stores = [await PostgresStore.open(dsn), await PostgresStore.open(dsn)]
    try:
        for store in stores:
            await store.start_listening()
        yield stores
    finally:
        for store in stores:
            await store.close()


async def _account(store: PostgresStore, address: str = "bob@example.test") -> Any:
    if await store.get_domain("example.test") is None:
        await store.add_domain("example.test")
    account = await store.add_account(address, "h", None)
    return account, await store.get_mailbox(account.id, "INBOX")


async def _next(watcher: Subscription, kind: type, count: int = 1) -> list[Any]:
    """Wait (with a deadline) until ``count`` changes of ``kind`` arrived."""
    found: list[Any] = []
    async with asyncio.timeout(DEADLINE):
        while len(found) < count:
            await watcher.wait()
            found += [c for c in watcher.drain() if isinstance(c, kind)]
    return found


async def test_a_change_on_one_node_reaches_the_others_hub(nodes) -> None:
    a, b = nodes
    account, inbox = await _account(a)
    with b.hub.subscribe(account.id) as on_b, a.hub.subscribe(account.id) as on_a:
        appended = await a.append(account.id, inbox.id, b"Subject: hi\r\n\r\nx\r\n")
        [added] = await _next(on_b, MessageAdded)
        assert (added.uid, added.modseq) == (appended.record.uid, appended.record.modseq)
        await b.set_flags(account.id, inbox.id, UidSet.of([added.uid]), FlagOp.ADD,
                          frozenset({"\\Seen"}))
        [flagged] = await _next(on_a, FlagsChanged)
        assert flagged.flags == {"\\Seen"}
        # Each node published its own change once (locally), not again from the bus.
        await asyncio.sleep(0.3)
        assert [type(c) for c in on_a.drain()] == []
        assert [type(c) for c in on_b.drain()] == [FlagsChanged]


async def test_a_batch_too_large_for_one_notification_still_arrives(nodes) -> None:
    a, b = nodes
    account, inbox = await _account(a)
    for i in range(300):
        await a.append(account.id, inbox.id, f"Subject: {i}\r\n\r\nx\r\n".encode())
    keywords = frozenset(f"$label-{n}-{'x' * 20}" for n in range(5))
    with b.hub.subscribe(account.id) as on_b:
        await a.set_flags(account.id, inbox.id, UidSet.span(1, 300), FlagOp.ADD, keywords)
        changed = await _next(on_b, FlagsChanged, 300)
        assert {c.uid for c in changed} == set(range(1, 301))
        assert all(c.flags == keywords for c in changed)
        await a.remove(account.id, inbox.id, UidSet.span(1, 300))
        [expunged] = await _next(on_b, MessagesExpunged)
        assert expunged.uids == tuple(range(1, 301))


async def test_the_listener_reconnects_and_asks_watchers_to_resynchronise(nodes) -> None:
    a, b = nodes
    account, inbox = await _account(a)
    async with b.database.pool.acquire() as conn:
        pids = await conn.fetch("SELECT pid FROM pg_stat_activity WHERE query LIKE 'LISTEN %'"
                                " AND datname = current_database()")
    assert pids
    with b.hub.subscribe(account.id) as on_b:
        async with a.database.pool.acquire() as conn:
            for row in pids:
                await conn.execute("SELECT pg_terminate_backend($1)", row[0])
        async with asyncio.timeout(DEADLINE):
            while not on_b.overflowed:
                await on_b.wait()
    # a fresh subscription receives changes made after the reconnection
    with b.hub.subscribe(account.id) as again:
        async with asyncio.timeout(DEADLINE):
            while True:
                await a.append(account.id, inbox.id, b"Subject: after\r\n\r\nx\r\n")
                try:
                    async with asyncio.timeout(0.5):
                        await _next(again, MessageAdded)
                    break
                except TimeoutError:
                    continue


async def test_pop3_locks_hold_across_nodes(nodes) -> None:
    a, b = nodes
    account, _ = await _account(a)
    locks_a, locks_b = a.maildrop_locks(), b.maildrop_locks()
    try:
        lease = await locks_a.try_acquire(account.id)
        assert lease is not None and lease.account == account.id
        assert await locks_a.try_acquire(account.id) is None  # same node
        assert await locks_b.try_acquire(account.id) is None  # other node
        await lease.release()
        await lease.release()  # idempotent
        other = await locks_b.try_acquire(account.id)
        assert other is not None
        assert await locks_a.try_acquire(account.id) is None
        await other.release()
        assert (await locks_a.try_acquire(account.id)) is not None
    finally:
        await locks_a.close()
        await locks_b.close()
    # A node that goes away (its connection closes) gives its locks back.
    locks_c = a.maildrop_locks()
    try:
        assert await locks_c.try_acquire(account.id) is not None
    finally:
        await locks_c.close()


async def test_failed_logins_count_across_nodes(nodes) -> None:
    a, b = nodes
    limits = ThrottleLimits(free_failures=2, base_delay=1.0, max_delay=8.0, window=60)
    on_a, on_b = a.failure_throttle(limits), b.failure_throttle(limits)
    for _ in range(2):
        await on_a.record_failure("192.0.2.1", "Bob@example.test", 0.0)
    assert await on_b.delay_for("192.0.2.1", "", 0.0) == 0.0
    await on_b.record_failure("192.0.2.9", "bob@example.test", 0.0)
    assert await on_a.delay_for("198.51.100.7", "BOB@example.test", 0.0) == 1.0
    assert await on_b.delay_for("192.0.2.1", "carol@example.test", 0.0) == 0.0
    await on_a.record_failure("192.0.2.1", "carol@example.test", 0.0)
    assert await on_b.delay_for("192.0.2.1", "dave@example.test", 0.0) == 1.0
    await on_b.record_success("192.0.2.9", "bob@example.test", 0.0)
    assert await on_a.delay_for("198.51.100.7", "bob@example.test", 0.0) == 0.0
    assert await on_a.delay_for("192.0.2.1", "", 0.0) == 1.0  # success does not launder an IP


async def test_migrations_are_versioned_and_applied_once(dsn) -> None:
    first = await PostgresStore.open(dsn)
    second = await PostgresStore.open(dsn)
    try:
        async with first.database.pool.acquire() as conn:
            versions = [r[0] for r in await conn.fetch(
                "SELECT version FROM schema_migrations ORDER BY version")]
            assert versions == [v for v, _, _ in available()]
            await conn.execute("INSERT INTO schema_migrations (version, name)"
                               " VALUES (9999, 'from_the_future')")
    finally:
        await first.close()
        await second.close()
    with pytest.raises(MailError, match="newer Postier"):
        await PostgresStore.open(dsn)


async def test_crossing_deliveries_and_moves_on_two_nodes_all_commit(nodes) -> None:
    """Deliveries to the same people in opposite orders, and moves between two mailboxes in
    both directions, take row locks in conflicting orders: PostgreSQL breaks the deadlocks
    and the store retries, so every operation commits and UIDs stay unique."""
    a, b = nodes
    alice, alice_inbox = await _account(a, "alice@example.test")
    bob, bob_inbox = await _account(a, "bob@example.test")
    to_both = [DeliveryTarget(alice.id), DeliveryTarget(bob.id)]
    data = [f"Subject: {i}\r\n\r\n{i}\r\n".encode() for i in range(40)]
    results = await asyncio.gather(*(
        (a if i % 2 else b).deliver(body, to_both if i % 3 else to_both[::-1])
        for i, body in enumerate(data)))
    assert all(r.error is None for rs in results for r in rs)
    for account, inbox in ((alice, alice_inbox), (bob, bob_inbox)):
        uids = [r.uid for r in await a.get_messages(account.id, inbox.id)]
        assert uids == list(range(1, 41))
    archive = await a.get_mailbox(alice.id, "Archive")
    moves = await asyncio.gather(*(
        (a if i % 2 else b).move(alice.id, alice_inbox.id, UidSet.of([i + 1]), archive.id)
        for i in range(20)), *(
        (b if i % 2 else a).copy(alice.id, alice_inbox.id, UidSet.of([i + 21]), archive.id)
        for i in range(20)))
    destination = [uid for m in moves for uid in m.destination_uids]
    assert sorted(destination) == list(range(1, 41))
    quota = await b.quota(alice.id)
    assert quota.messages == 60


async def test_a_store_that_cannot_connect_says_so(dsn) -> None:
    with pytest.raises(MailError):
        await PostgresStore.open("postgresql://postgres@127.0.0.1:1/test")
    conn = await asyncpg.connect(dsn)
    await conn.close()
