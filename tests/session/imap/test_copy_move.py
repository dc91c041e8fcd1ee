"""COPY, MOVE and their UID forms: COPYUID, TRYCREATE, EXPUNGE order, quota."""

from __future__ import annotations

from postier.store.interface import Store
from tests.session.imap.client import ImapClient, account_of, deliver


async def test_copy_with_copyuid(client: ImapClient, users: Store) -> None:
    for _ in range(3):
        await deliver(users)
    archive = await users.get_mailbox(await account_of(users), "Archive")
    await client.ok("SELECT INBOX")
    lines = await client.ok("COPY 2:3 Archive")
    assert lines[-1] == f"a3 OK [COPYUID {archive.uidvalidity} 2:3 1:2] COPY completed"
    assert (await client.ok("STATUS Archive (MESSAGES)"))[0] == "* STATUS Archive (MESSAGES 2)"
    lines = await client.ok("UID COPY 1 Archive")
    assert lines[-1] == f"a5 OK [COPYUID {archive.uidvalidity} 1 3] COPY completed"
    assert (await client.ok("UID COPY 99 Archive"))[-1] == "a6 OK COPY completed; nothing to copy"


async def test_copy_to_missing_mailbox_is_trycreate(client: ImapClient, users: Store) -> None:
    await deliver(users)
    await client.ok("SELECT INBOX")
    assert (await client.command("COPY 1 Nowhere"))[-1].startswith("a3 NO [TRYCREATE]")
    assert (await client.command("MOVE 1 Nowhere"))[-1].startswith("a4 NO [TRYCREATE]")


async def test_copy_into_the_selected_mailbox_announces_exists(client: ImapClient,
                                                              users: Store) -> None:
    await deliver(users)
    await client.ok("SELECT INBOX")
    lines = await client.ok("COPY 1 INBOX")
    assert "* 2 EXISTS" in lines


async def test_move(client: ImapClient, users: Store) -> None:
    for _ in range(4):
        await deliver(users)
    trash = await users.get_mailbox(await account_of(users), "Trash")
    await client.ok("SELECT INBOX")
    lines = await client.ok("MOVE 2,4 Trash")
    assert lines == [f"* OK [COPYUID {trash.uidvalidity} 2,4 1:2] moved", "* 4 EXPUNGE",
                     "* 2 EXPUNGE", "a3 OK MOVE completed"]
    lines = await client.ok("UID MOVE 3 Trash")
    assert lines[1:] == ["* 2 EXPUNGE", "a4 OK MOVE completed"]
    assert (await client.ok("FETCH 1:* UID"))[:-1] == ["* 1 FETCH (UID 1)"]
    assert (await client.command("MOVE 1 INBOX"))[-1].startswith("a6 NO [CANNOT]")


async def test_move_from_read_only_is_refused(client: ImapClient, users: Store) -> None:
    await deliver(users)
    await client.ok("EXAMINE INBOX")
    assert (await client.command("MOVE 1 Trash"))[-1].startswith("a3 NO [READ-ONLY]")
    await client.ok("COPY 1 Trash")


async def test_copy_over_quota(client: ImapClient, users: Store) -> None:
    await deliver(users)
    await users.set_quota("alice@example.test", 10)
    await client.ok("SELECT INBOX")
    assert (await client.command("COPY 1 Archive"))[-1].startswith("a3 NO [OVERQUOTA]")
