"""The Trash retention task of the "trash" policy."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from postier.config import Pop3Section
from postier.pop3.retention import sweep_trash, trash_retention
from postier.services import Services
from postier.store.changes import MessagesExpunged
from postier.store.interface import Store
from postier.types import Pop3DeletePolicy
from tests.session.pop3.conversation import account_id, deliver, message, messages

NOW = datetime.now(UTC)


async def test_old_trash_goes_recent_trash_stays(users: Store) -> None:
    old = await deliver(users, message("old"), mailbox="Trash", date=NOW - timedelta(days=31))
    recent = await deliver(users, message("recent"), mailbox="Trash",
                           date=NOW - timedelta(days=29))
    inbox_old = await deliver(users, message("inbox"), date=NOW - timedelta(days=400))
    with users.hub.subscribe(await account_id(users)) as observer:
        assert await sweep_trash(users, NOW - timedelta(days=30)) == 1
        expunged = [c for c in observer.drain() if isinstance(c, MessagesExpunged)]
    assert [c.uids for c in expunged] == [(old,)]
    assert list(await messages(users, "Trash")) == [recent]
    assert list(await messages(users)) == [inbox_old]


async def test_only_accounts_with_the_trash_policy(users: Store) -> None:
    await users.set_pop3_delete_policy("bob@example.test", Pop3DeletePolicy.KEEP)
    await deliver(users, message("a"), mailbox="Trash", date=NOW - timedelta(days=90))
    kept = await deliver(users, message("b"), "bob@example.test", mailbox="Trash",
                         date=NOW - timedelta(days=90))
    assert await sweep_trash(users, NOW - timedelta(days=30)) == 1
    assert list(await messages(users, "Trash", "bob@example.test")) == [kept]


async def test_accounts_without_trash_are_skipped(users: Store) -> None:
    await users.delete_mailbox(await account_id(users), "Trash")
    assert await sweep_trash(users, NOW) == 0


async def test_many_old_messages_go_in_batches(users: Store) -> None:
    for n in range(1203):
        await deliver(users, message(str(n)), mailbox="Trash", date=NOW - timedelta(days=60))
    assert await sweep_trash(users, NOW - timedelta(days=30)) == 1203
    assert await messages(users, "Trash") == {}


async def test_zero_days_turns_the_task_off(services: Services) -> None:
    config = dataclasses.replace(services.config, pop3=Pop3Section(trash_retention_days=0))
    await trash_retention(dataclasses.replace(services, config=config))  # returns at once
