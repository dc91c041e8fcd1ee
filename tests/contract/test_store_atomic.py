"""Writes that must be all or nothing: local delivery with remote queueing in one commit
(``deliver_and_enqueue``), MULTIAPPEND (``append_many``), and deliveries, moves and pruning
that lock several mailboxes at once without deadlocking each other."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta

import pytest

from postier.errors import NotFound, OverQuota
from postier.store.changes import MessageAdded
from postier.store.interface import (
    AppendedMessage,
    DeliveryTarget,
    OutboundCopy,
    OutboundEnvelope,
    OutboundRecipient,
)
from postier.types import UidSet
from tests.contract.bodies import stored_bodies


def message(subject: str, size: int = 0) -> bytes:
    return (f"From: carol@remote.test\r\nTo: bob@example.test\r\nSubject: {subject}\r\n"
            f"Message-ID: <{subject.replace(' ', '.')}@remote.test>\r\n\r\n").encode() + \
        b"x" * size + b"\r\n"


TRACE = b"Received: from client by mx.example.test id 1A2B; Mon, 2 Sep 2024 10:00:00 +0000\r\n"
LOCAL_PREFIX = b"Return-Path: <carol@remote.test>\r\n" + TRACE


@pytest.fixture
async def bob(store):
    await store.add_domain("example.test")
    return await store.add_account("bob@example.test", "h", None)


def outbound(*addresses: str, account=None) -> OutboundCopy:
    envelope = OutboundEnvelope("carol@example.test",
                                tuple(OutboundRecipient(a) for a in addresses),
                                account_id=account)
    return OutboundCopy(envelope, header_prefix=TRACE)


# Local delivery and remote queueing --------------------------------------------------------

async def test_deliver_and_enqueue_commits_local_and_queued_copies(store, bob) -> None:
    full = await store.add_account("full@example.test", "h", None, quota_bytes=10)
    data = message("to both")
    with store.hub.subscribe(bob.id) as changes:
        results, queue_id = await store.deliver_and_enqueue(
            data, [DeliveryTarget(bob.id, header_prefix=LOCAL_PREFIX),
                   DeliveryTarget(full.id, header_prefix=LOCAL_PREFIX)],
            outbound("x@remote.test", "y@other.test", account=bob.id))
        assert [type(c) for c in changes.drain()] == [MessageAdded]
    # Each target still fails on its own: the full mailbox does not stop the others.
    assert results[0].error is None and results[0].record is not None
    assert isinstance(results[1].error, OverQuota) and results[1].record is None
    inbox = await store.get_mailbox(bob.id, "INBOX")
    [record] = await store.get_messages(bob.id, inbox.id)
    assert record.uid == results[0].record.uid
    assert await store.read_message(bob.id, record) == LOCAL_PREFIX + data
    [queued] = await store.list_queue()
    assert queued.id == queue_id
    assert [r.address for r in queued.recipients] == ["x@remote.test", "y@other.test"]
    assert queued.envelope.account_id == bob.id
    assert queued.message_id == "to.both@remote.test"
    assert await store.read_queued(queued) == TRACE + data
    assert (await store.quota(full.id)).used_bytes == 0


async def test_deliver_and_enqueue_with_every_local_copy_failing_still_queues(store, bob) -> None:
    await store.set_quota("bob@example.test", 10)
    results, queue_id = await store.deliver_and_enqueue(
        message("remote only"), [DeliveryTarget(bob.id)], outbound("x@remote.test"))
    assert isinstance(results[0].error, OverQuota)
    assert [q.id for q in await store.list_queue()] == [queue_id]


async def test_a_queueing_failure_leaves_no_local_copy(store, bob) -> None:
    # A real failure of the queue part: the submitting account was deleted while its message
    # was on the way, so the queued row's account reference is refused by the database.
    gone = await store.add_account("gone@example.test", "h", None)
    await store.delete_account("gone@example.test")
    data = message("never half", 70 * 1024)  # large: a body file on SQLite
    inbox = await store.get_mailbox(bob.id, "INBOX")
    with store.hub.subscribe(bob.id) as changes:
        with pytest.raises(Exception):  # noqa: B017 - the database's own integrity error
            await store.deliver_and_enqueue(
                data, [DeliveryTarget(bob.id, header_prefix=LOCAL_PREFIX)],
                outbound("x@remote.test", account=gone.id))
        assert changes.drain() == []
    assert await store.get_messages(bob.id, inbox.id) == []
    assert await store.list_queue() == []
    assert (await store.quota(bob.id)).used_bytes == 0
    assert await stored_bodies(store) == {}
    # Nothing was taken: the next message gets the first UID.
    [result] = await store.deliver(data, [DeliveryTarget(bob.id)])
    assert result.record is not None and result.record.uid == 1


# MULTIAPPEND ---------------------------------------------------------------------------------

async def test_append_many_is_all_or_nothing_on_quota(store, bob) -> None:
    inbox = await store.get_mailbox(bob.id, "INBOX")
    batch = [AppendedMessage(message(f"part {i}", 100)) for i in range(3)]
    # Room for two of the three: the third goes over, and then none is kept.
    await store.set_quota("bob@example.test", sum(len(m.data) for m in batch[:2]) + 10)
    with store.hub.subscribe(bob.id) as changes:
        with pytest.raises(OverQuota):
            await store.append_many(bob.id, inbox.id, batch)
        assert changes.drain() == []
    assert await store.get_messages(bob.id, inbox.id) == []
    quota = await store.quota(bob.id)
    assert (quota.used_bytes, quota.messages) == (0, 0)
    assert await store.vanished_since(bob.id, inbox.id, 0) == UidSet()  # nothing came and went
    await store.set_quota("bob@example.test", None)
    date = datetime(2024, 3, 5, 10, 11, 12, tzinfo=UTC)
    batch[1] = AppendedMessage(batch[1].data, frozenset({"\\Seen", "$Work"}), date)
    results = await store.append_many(bob.id, inbox.id, batch)
    assert [r.record.uid for r in results] == [1, 2, 3]  # no UID was used by the failed set
    assert {r.uidvalidity for r in results} == {inbox.uidvalidity}
    stored = await store.get_messages(bob.id, inbox.id)
    assert [await store.read_message(bob.id, r) for r in stored] == [m.data for m in batch]
    assert stored[1].flags == frozenset({"\\Seen", "$Work"})
    assert stored[1].internal_date == date


async def test_append_many_to_a_missing_mailbox_stores_nothing(store, bob) -> None:
    inbox = await store.get_mailbox(bob.id, "INBOX")
    other = await store.add_account("other@example.test", "h", None)
    with pytest.raises(NotFound):
        await store.append_many(other.id, inbox.id, [AppendedMessage(message("a")),
                                                     AppendedMessage(message("b"))])
    assert await store.get_messages(bob.id, inbox.id) == []


async def test_concurrent_append_many_sets_get_consecutive_uids(two_stores) -> None:
    first, second = two_stores
    await first.add_domain("example.test")
    account = await first.add_account("bob@example.test", "h", None)
    inbox = await first.get_mailbox(account.id, "INBOX")

    async def multiappend(store, name: str) -> list[int]:
        batch = [AppendedMessage(message(f"{name} {i}")) for i in range(4)]
        return [r.record.uid for r in await store.append_many(account.id, inbox.id, batch)]

    async def single(store, name: str) -> list[int]:
        return [(await store.append(account.id, inbox.id, message(name))).record.uid]

    sets = await asyncio.gather(*(
        (multiappend if i % 3 else single)(first if i % 2 else second, f"w{i}")
        for i in range(18)))
    for uids in sets:
        assert uids == list(range(uids[0], uids[0] + len(uids)))
    everything = sorted(uid for uids in sets for uid in uids)
    assert everything == list(range(1, len(everything) + 1))


# Lock order ------------------------------------------------------------------------------------

async def test_deliveries_moves_and_pruning_across_accounts_never_deadlock(two_stores) -> None:
    """Mailbox ids sort the opposite way from account ids here (each account's "Lists" is
    created in reverse account order), so a writer that locked in account order would meet
    the ones that lock in mailbox id order (moves, pruning) in a cycle."""
    first, second = two_stores
    await first.add_domain("example.test")
    people = [await first.add_account(f"u{i}@example.test", "h", None) for i in range(4)]
    for person in reversed(people):
        await first.create_mailbox(person.id, "Lists")
    rounds = 12
    rng = random.Random(7)

    async def deliveries(store, name: str) -> None:
        for i in range(rounds):
            # Two copies per account (a filing rule, say): INBOX and Lists, in any order.
            targets = [DeliveryTarget(p.id, mailbox=name)
                       for p in people for name in ("INBOX", "Lists")]
            rng.shuffle(targets)
            data = message(f"{name} {i}")
            if i % 2:
                results = await store.deliver(data, targets)
            else:
                results, _ = await store.deliver_and_enqueue(data, targets,
                                                             outbound("x@remote.test"))
            assert all(r.error is None for r in results)

    async def moves(store, person) -> None:
        inbox = await store.get_mailbox(person.id, "INBOX")
        lists = await store.get_mailbox(person.id, "Lists")
        for i in range(rounds):
            source, destination = (inbox, lists) if i % 2 else (lists, inbox)
            await store.move(person.id, source.id, UidSet.span(1, 1_000_000), destination.id)

    async def pruning(store) -> None:
        for _ in range(rounds):
            await store.prune_expunge_history(datetime.now(UTC) + timedelta(days=1), batch=5)
            await asyncio.sleep(0)

    writers = 4
    await asyncio.gather(
        *(deliveries(first if w % 2 else second, f"w{w}") for w in range(writers)),
        *(moves(first if n % 2 else second, p) for n, p in enumerate(people)),
        pruning(first), pruning(second))
    for person in people:
        boxes = [await first.get_mailbox(person.id, n) for n in ("INBOX", "Lists")]
        found = [r for box in boxes for r in await first.get_messages(person.id, box.id)]
        assert len(found) == 2 * writers * rounds
        assert (await first.quota(person.id)).messages == 2 * writers * rounds
    assert len(await first.list_queue()) == writers * rounds // 2
    for store in (first, second):
        database = getattr(store, "database", None)
        if database is not None:  # PostgreSQL: nothing had to be redone
            assert database.deadlock_retries == 0
