"""``postier store copy``: embedded → PostgreSQL → embedded with identical content (ids, UIDs,
UIDVALIDITY, MODSEQ, flags, dates with their zones, trace prefixes, shared bodies, expunge log,
subscriptions, queue states), resuming after an interruption, and refusing a conflicting
target with one line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from postier.config import load_config
from postier.errors import MailError
from postier.server import open_store
from postier.store.copy import copy_store, verify_copy
from postier.store.interface import (
    DeliveryTarget,
    OutboundEnvelope,
    OutboundRecipient,
    RecipientState,
    RecipientUpdate,
)
from postier.types import FlagOp, UidSet
from tests.e2e.queue_sinks import make_message
from tests.e2e.test_cli import postier
from tests.harness import write_config
from tests.postgres_support import fresh_schema


def sqlite_config(directory: Path) -> Path:
    return write_config(directory)


def postgres_config(directory: Path, dsn: str) -> Path:
    return write_config(directory, extra=f'\n[store]\nbackend = "postgresql"\ndsn = "{dsn}"\n')


async def fill(store: Any) -> None:
    """A bit of everything the store holds."""
    await store.add_domain("example.test")
    await store.add_domain("other.test")
    await store.set_catch_all("other.test", "bob@example.test")
    alice = await store.add_account("alice@example.test", "$argon2id$alice", "scram-a", 10**7)
    bob = await store.add_account("bob@example.test", "$argon2id$bob", None)
    await store.add_alias("team@example.test", ["alice@example.test", "friend@remote.test"])
    await store.set_pop3_delete_policy("bob@example.test", _policy("keep"))
    inbox = await store.get_mailbox(alice.id, "INBOX")
    nested = await store.create_mailbox(alice.id, "Projects/2024")
    await store.set_subscribed(alice.id, "Not/Yet", True)
    zone = timezone(timedelta(hours=2))
    for i in range(30):
        await store.append(alice.id, inbox.id, make_message(subject=f"note {i}",
                                                            message_id=f"n{i}@example.test"),
                           frozenset({"\\Seen", f"$tag{i % 3}"}),
                           datetime(2024, 5, 1, 12, i, tzinfo=zone))
    await store.deliver(make_message(subject="to both", message_id="both@example.test"),
                        [DeliveryTarget(alice.id, header_prefix=b"Received: one\r\n"),
                         DeliveryTarget(bob.id, header_prefix=b"Received: two\r\n")])
    await store.append(alice.id, nested.id, make_message(body="x" * 150_000 + "\r\n"))
    await store.set_flags(alice.id, inbox.id, UidSet.span(3, 7), FlagOp.ADD,
                          frozenset({"\\Deleted"}))
    await store.expunge(alice.id, inbox.id)
    await store.copy(alice.id, inbox.id, UidSet.of([1, 2]), nested.id)
    await store.claim_recent(alice.id, inbox.id)
    queued = await store.enqueue(make_message(message_id="out@example.test"), OutboundEnvelope(
        "alice@example.test", (OutboundRecipient("x@remote.test", ("FAILURE",), "rfc822;x@r"),
                               OutboundRecipient("y@remote.test")), account_id=alice.id,
        envid="env-1", ret="HDRS"))
    now = datetime.now(UTC)
    claimed = await store.claim_due(now, now + timedelta(minutes=5), 10)
    x = claimed[0].recipients[0]
    await store.record_attempt(queued, [RecipientUpdate(
        x.id, RecipientState.DEFERRED, now + timedelta(minutes=10), "451 later", "451 later",
        "4.0.0", "mx.remote.test")], now)


def _policy(name: str) -> Any:
    from postier.types import Pop3DeletePolicy

    return Pop3DeletePolicy(name)


async def _open(config: Path) -> Any:
    return await open_store(load_config(config))


async def _content(store: Any) -> dict[str, Any]:
    """What a client could see, through the ordinary store interface."""
    seen: dict[str, Any] = {"domains": await store.list_domains(),
                            "aliases": await store.list_aliases(),
                            "queue": await store.list_queue()}
    for account in await store.list_accounts():
        boxes = await store.list_mailboxes(account.id)
        seen[account.address] = (account, await store.get_credentials(account.address),
                                 boxes, await store.list_subscriptions(account.id))
        for box in boxes:
            records = await store.get_messages(account.id, box.id)
            seen[f"{account.address}/{box.name}"] = (
                [(r, r.internal_date.utcoffset(), r.structure_json, r.summary_json,
                  await store.read_message(account.id, r)) for r in records],
                await store.vanished_since(account.id, box.id, 1),
                await store.search_text(account.id, box.id, "note"))
    return seen


def test_round_trip_sqlite_postgres_sqlite(tmp_path: Path) -> None:
    import asyncio

    asyncio.run(_round_trip(tmp_path))


async def _round_trip(tmp_path: Path) -> None:
    first = sqlite_config(tmp_path / "first")
    back = sqlite_config(tmp_path / "back")
    store = await _open(first)
    try:
        await fill(store)
        original = await _content(store)
    finally:
        await store.close()
    async with fresh_schema() as dsn:
        middle = postgres_config(tmp_path / "middle", dsn)
        # First a copy that dies half-way (after two pages of messages) ...
        await _interrupted_copy(first, middle, after_pages=2)
        # ... then the command, which resumes it.
        done = await _run("store", "copy", "--from", str(first), "--to", str(middle))
        assert done.returncode == 0, done.stderr
        assert "verified" in done.stdout and "content sha256:" in done.stdout
        copied = int(done.stdout.split("copied ")[1].split()[0])
        assert 0 < copied < 36
        store = await _open(middle)
        try:
            assert await _content(store) == original
            inbox = await store.get_mailbox((await store.get_account("alice@example.test")).id,
                                            "INBOX")
            # New mail after the move continues the same UID and UIDVALIDITY sequences.
            appended = await store.append(inbox.account_id, inbox.id, b"Subject: new\r\n\r\n.")
            assert appended.uidvalidity == inbox.uidvalidity
            assert appended.record.uid == inbox.uidnext
            created = await store.create_mailbox(inbox.account_id, "After")
            assert created.uidvalidity > max(b.uidvalidity for b in
                                              await store.list_mailboxes(inbox.account_id)
                                              if b.name != "After")
            await store.remove(inbox.account_id, inbox.id, UidSet.of([inbox.uidnext]))
            moved = await _content(store)
        finally:
            await store.close()
        done = await _run("store", "copy", "--from", str(middle), "--to", str(back))
        assert done.returncode == 0, done.stderr
        again = await _run("store", "copy", "--from", str(middle), "--to", str(back))
        assert again.returncode == 0 and again.stdout.startswith("copied 0 new message(s)")
    store = await _open(back)
    try:
        final = await _content(store)
    finally:
        await store.close()
    assert final == moved


async def _run(*args: str) -> Any:
    import asyncio

    return await asyncio.to_thread(postier, *args)


class _Dies(Exception):
    pass


async def _interrupted_copy(source_config: Path, target_config: Path, after_pages: int) -> None:
    source, target = await _open(source_config), await _open(target_config)
    try:
        writer = target.transfer()
        real = writer.put_messages
        calls = 0

        async def put_messages(rows: Any) -> int:
            nonlocal calls
            calls += 1
            if calls > after_pages:
                raise _Dies()
            return await real(rows)
        writer.put_messages = put_messages
        import postier.store.copy as copying

        page = copying.PAGE
        copying.PAGE = 10  # several pages per mailbox
        try:
            with pytest.raises(_Dies):
                await copy_store(source.transfer(), writer)
        finally:
            copying.PAGE = page
        with pytest.raises(MailError, match="verification failed"):
            await verify_copy(source.transfer(), target.transfer())
    finally:
        await source.close()
        await target.close()


def test_a_conflicting_target_is_refused_in_one_line(tmp_path: Path) -> None:
    import asyncio

    first = sqlite_config(tmp_path / "first")
    other = sqlite_config(tmp_path / "other")

    async def prepare() -> None:
        for config, domain in ((first, "example.test"), (other, "elsewhere.test")):
            store = await _open(config)
            try:
                await store.add_domain(domain)
            finally:
                await store.close()
    asyncio.run(prepare())
    refused = postier("store", "copy", "--from", str(first), "--to", str(other))
    assert refused.returncode == 2
    assert refused.stderr.strip().count("\n") == 0
    assert "empty store" in refused.stderr
    same = postier("store", "copy", "--from", str(first), "--to", str(first))
    assert same.returncode == 2 and "same store" in same.stderr
