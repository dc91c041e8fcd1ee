"""Message lists by UID keyset against the real SQLite store: correct pages in both orders,
with gaps, bounded store queries, and a 100,000-message mailbox that stays fast."""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import pytest

from postier.store.interface import DeliveryTarget, Store
from postier.types import AccountId, Mailbox, UidSet
from postier.web.listing import load_page
from postier.web.search import search
from tests.browser.webclient import message
from tests.harness import add_users


class SpyStore:
    """Delegates to the store and records how it is queried."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.calls: list[tuple[str, int]] = []

    async def get_messages(self, account: AccountId, mailbox: Any,
                           uids: UidSet | None = None) -> Any:
        assert uids is not None, "the list must never load a whole mailbox"
        found = await self._store.get_messages(account, mailbox, uids)
        self.calls.append(("get_messages", len(found)))
        return found

    async def message_states(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the list must not read the state of every message")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


async def fill(store: Store, count: int, *, subject: str = "msg") -> tuple[AccountId, Mailbox]:
    await add_users(store)
    account = await store.get_account("alice@example.test")
    assert account is not None
    target = [DeliveryTarget(AccountId(account.id))]
    for start in range(0, count, 500):
        await asyncio.gather(*(store.deliver(
            message(subject=f"{subject} {i}", body=f"body {i}", message_id=f"<m{i}@x>"), target)
            for i in range(start, min(count, start + 500))))
    return AccountId(account.id), await store.get_mailbox(account.id, "INBOX")


async def walk(store: Any, account: AccountId, mailbox: Mailbox, order: str) -> list[int]:
    seen: list[int] = []
    page = await load_page(store, account, mailbox, order=order)  # type: ignore[arg-type]
    while True:
        seen += [item.uid for item in page.items]
        cursor = page.older if order == "desc" else page.newer
        if cursor is None:
            return seen
        if order == "desc":
            page = await load_page(store, account, mailbox, order="desc", before=cursor)
        else:
            page = await load_page(store, account, mailbox, order="asc", after=cursor)


async def test_pages_cover_the_mailbox_once_in_both_orders(store: Store) -> None:
    account, inbox = await fill(store, 260)
    spy = SpyStore(store)
    newest = await walk(spy, account, inbox, "desc")
    assert newest == list(range(260, 0, -1))
    assert max(size for _, size in spy.calls) <= 51  # never more than a page (+1) per query
    assert await walk(store, account, inbox, "asc") == list(range(1, 261))


async def test_pages_with_gaps_and_links_back(store: Store) -> None:
    account, inbox = await fill(store, 400)
    removed = sorted(random.Random(7).sample(range(1, 401), 330))
    await store.remove(account, inbox.id, UidSet.of(removed))
    inbox = await store.get_mailbox(account, "INBOX")
    remaining = sorted(set(range(1, 401)) - set(removed), reverse=True)
    assert await walk(store, account, inbox, "desc") == remaining
    assert await walk(store, account, inbox, "asc") == sorted(remaining)
    first = await load_page(store, account, inbox)
    assert first.newer is None and first.older == remaining[49]
    second = await load_page(store, account, inbox, before=first.older)
    assert [i.uid for i in second.items] == remaining[50:70]
    assert second.newer == remaining[50] and second.older is None
    back = await load_page(store, account, inbox, after=second.newer)
    assert [i.uid for i in back.items] == remaining[:50]
    assert back.newer is None and back.older == remaining[49]


@pytest.mark.slow  # about a minute, nearly all of it filling the mailbox
async def test_one_hundred_thousand_messages_list_fast(store: Store) -> None:
    account, inbox = await fill(store, 100_000)
    inbox = await store.get_mailbox(account, "INBOX")
    spy = SpyStore(store)
    for before in (None, 50_001, 200):
        started = time.monotonic()
        page = await load_page(spy, account, inbox, before=before)  # type: ignore[arg-type]
        elapsed = time.monotonic() - started
        assert len(page.items) == 50
        assert elapsed < 0.5, f"page before={before} took {elapsed:.2f}s"
    assert max(size for _, size in spy.calls) <= 51
    assert len(spy.calls) <= 9
    started = time.monotonic()
    result = await search(store, account, inbox, "msg 99998", "subject")
    assert [item.uid for item in result.items][:1] == [99_999]
    assert time.monotonic() - started < 3.0  # bounded scan, continued with "older results"
    started = time.monotonic()
    body = await search(store, account, inbox, "body", "body")
    assert len(body.items) == 50 and body.resume_before is not None
    assert time.monotonic() - started < 3.0
