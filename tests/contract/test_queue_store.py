"""The queue's store operations on every backend: leases, outcomes, notices, purge, delivery
status for the webmail, and claims racing between two instances (nodes)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from postier.errors import NotFound
from postier.store.interface import (
    Notice,
    OutboundEnvelope,
    OutboundRecipient,
    RecipientState,
    RecipientUpdate,
)
from postier.types import AccountId

MESSAGE = b"From: a@example.test\r\nMessage-ID: <id1@example.test>\r\nSubject: s\r\n\r\nbody\r\n"


def envelope(*addresses: str, account: AccountId | None = None) -> OutboundEnvelope:
    return OutboundEnvelope("a@example.test", tuple(OutboundRecipient(a) for a in addresses),
                            account_id=account)


async def test_claims_lease_and_outcomes_release(store: Any) -> None:
    queue_id = await store.enqueue(MESSAGE, envelope("x@one.example", "y@two.example"))
    now = datetime.now(UTC) + timedelta(seconds=1)
    (claimed,) = await store.claim_due(now, now + timedelta(minutes=5), 100)
    assert claimed.id == queue_id and claimed.message_id == "id1@example.test"
    assert [r.address for r in claimed.recipients] == ["x@one.example", "y@two.example"]
    assert await store.claim_due(now, now + timedelta(minutes=5), 100) == []  # leased
    assert await store.next_due() == now + timedelta(minutes=5)
    x, _y = claimed.recipients
    later = now + timedelta(minutes=10)
    await store.record_attempt(queue_id, [RecipientUpdate(
        x.id, RecipientState.DEFERRED, later, "451 later", "451 later", "4.0.0", "mx")], now)
    stored = await store.get_queued(queue_id)
    assert stored.recipients[0].attempts == 1
    assert stored.recipients[0].lease_until is None
    assert stored.recipients[0].last_attempt == now
    assert stored.recipients[1].lease_until == now + timedelta(minutes=5)
    # a dead runner's lease ends, and the recipient is due again
    again = await store.claim_due(now + timedelta(minutes=6), now + timedelta(minutes=11), 100)
    assert [[r.address for r in m.recipients] for m in again] == [["y@two.example"]]
    assert await store.retry_now(queue_id, now) == 2
    with pytest.raises(NotFound):
        await store.retry_now(queue_id + 1, now)


async def test_notices_are_an_outbox(store: Any) -> None:
    queue_id = await store.enqueue(MESSAGE, envelope("x@one.example", "y@one.example"))
    now = datetime.now(UTC) + timedelta(seconds=1)
    (claimed,) = await store.claim_due(now, now, 100)
    x, y = claimed.recipients
    await store.record_attempt(queue_id, [
        RecipientUpdate(x.id, RecipientState.FAILED, now, "550 no", "550 no", "5.1.1", "mx",
                        Notice.FAILED),
        RecipientUpdate(y.id, RecipientState.DELIVERED, now, None, "250 ok", "2.0.0", "mx")],
        now)
    (owed,) = await store.pending_notices(10)
    assert [(r.address, r.notice) for r in owed.recipients] == [("x@one.example",
                                                                 Notice.FAILED)]
    assert await store.purge_queue(now + timedelta(days=1)) == 0  # a DSN is still owed
    await store.clear_notices(queue_id, [x.id])
    assert await store.pending_notices(10) == []
    assert await store.purge_queue(now - timedelta(days=1)) == 0  # too recent
    assert await store.purge_queue(now + timedelta(days=1)) == 1
    assert await store.list_queue() == []


async def test_outcomes_for_deleted_messages_are_dropped(store: Any) -> None:
    queue_id = await store.enqueue(MESSAGE, envelope("x@one.example"))
    now = datetime.now(UTC) + timedelta(seconds=1)
    (claimed,) = await store.claim_due(now, now, 100)
    await store.delete_queued(queue_id)
    await store.record_attempt(queue_id, [RecipientUpdate(
        claimed.recipients[0].id, RecipientState.DELIVERED, now)], now)
    assert await store.list_queue() == []


async def test_delivery_status_for_the_webmail(store: Any) -> None:
    await store.add_domain("example.test")
    account = await store.add_account("a@example.test", "x", None)
    first = await store.enqueue(MESSAGE, envelope("x@one.example", account=account.id))
    second = await store.enqueue(MESSAGE.replace(b"id1", b"id2"),
                                 envelope("y@one.example", account=account.id))
    await store.enqueue(MESSAGE, envelope("z@one.example"))  # someone else's
    assert [m.id for m in await store.queue_status(account.id)] == [second, first]
    only = await store.queue_status(account.id, ["<id1@example.test>"])
    assert [(m.id, m.recipients[0].state) for m in only] == [(first, RecipientState.PENDING)]
    assert await store.queue_status(account.id, []) == []


async def test_two_instances_never_claim_the_same_recipient(two_stores) -> None:
    first, second = two_stores
    queued = [await first.enqueue(MESSAGE, envelope(*(f"r{i}-{n}@one.example" for n in range(3))))
              for i in range(20)]
    now = datetime.now(UTC) + timedelta(seconds=1)
    lease = now + timedelta(minutes=5)
    claims = await asyncio.gather(*(
        (first if i % 2 else second).claim_due(now, lease, 7) for i in range(12)))
    claimed = [r.id for batch in claims for m in batch for r in m.recipients]
    assert len(claimed) == len(set(claimed)) == 60
    assert {m.id for batch in claims for m in batch} == set(queued)
    assert await first.claim_due(now, lease, 100) == []
    # the leases of a node that died end, and the other node takes the work
    later = lease + timedelta(seconds=1)
    again = await second.claim_due(later, later + timedelta(minutes=5), 100)
    assert sum(len(m.recipients) for m in again) == 60
