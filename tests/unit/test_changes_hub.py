"""ChangeHub and Subscription: fan-out, the ready future, overflow, the \\Recent claim memo."""

from __future__ import annotations

import asyncio

from postier.store.changes import ChangeHub, MessageAdded
from postier.types import AccountId, MailboxId, ModSeq, Uid

ACCOUNT, OTHER, BOX = AccountId(1), AccountId(2), MailboxId(7)


def added(uid: int, account: AccountId = ACCOUNT) -> MessageAdded:
    return MessageAdded(account, BOX, Uid(uid), ModSeq(uid), frozenset())


async def test_ready_is_shared_until_a_change_of_the_account_arrives() -> None:
    hub = ChangeHub()
    watcher = hub.subscribe(ACCOUNT)
    ready = watcher.ready()
    assert watcher.ready() is ready and not ready.done()
    hub.publish([added(1, OTHER)])
    assert not ready.done()
    hub.publish([added(1), added(2)])
    assert ready.done()
    assert watcher.ready().done()  # something is pending: done at once
    assert watcher.drain() == [added(1), added(2)]
    assert not watcher.ready().done()


async def test_wait_cancelled_leaves_the_shared_future_alone() -> None:
    hub = ChangeHub()
    watcher = hub.subscribe(ACCOUNT)
    waiting = asyncio.ensure_future(watcher.wait())
    await asyncio.sleep(0)
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)
    ready = watcher.ready()
    assert not ready.cancelled()
    hub.publish([added(1)])
    assert ready.done()
    await asyncio.wait_for(watcher.wait(), 1)


async def test_overflow_and_close_wake_the_waiter() -> None:
    hub = ChangeHub(subscription_limit=2)
    watcher = hub.subscribe(ACCOUNT)
    ready = watcher.ready()
    hub.publish([added(1), added(2), added(3)])
    assert ready.done() and watcher.overflowed and watcher.drain() == []
    closing = hub.subscribe(ACCOUNT)
    ready = closing.ready()
    closing.close()
    assert ready.done()
    await asyncio.wait_for(closing.wait(), 1)
    assert hub.subscriber_count(ACCOUNT) == 1


def test_recent_claimed_once_per_message() -> None:
    hub = ChangeHub()
    assert not hub.recent_claimed(BOX, 1, Uid(5))  # the first claims in the store
    assert hub.recent_claimed(BOX, 1, Uid(5))
    assert hub.recent_claimed(BOX, 1, Uid(3))
    assert not hub.recent_claimed(BOX, 1, Uid(6))  # a newer message: claim again
    assert not hub.recent_claimed(BOX, 2, Uid(1))  # another UIDVALIDITY is another mailbox
    assert not hub.recent_claimed(MailboxId(8), 1, Uid(1))
