"""CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, STATUS, and mailbox name encodings."""

from __future__ import annotations

from postier.store.interface import Store
from tests.session.imap.client import ImapClient, account_of, deliver


async def test_create_nested_with_trailing_separator(client: ImapClient, users: Store) -> None:
    await client.ok("CREATE Projects/2024/")
    names = {m.name for m in await users.list_mailboxes(await account_of(users))}
    assert {"Projects", "Projects/2024"} <= names


async def test_create_existing_and_inbox(client: ImapClient) -> None:
    await client.ok("CREATE Work")
    assert (await client.command("CREATE Work"))[-1].startswith("a3 NO [ALREADYEXISTS]")
    assert (await client.command("CREATE inbox"))[-1].startswith("a4 NO [ALREADYEXISTS]")


async def test_create_invalid_name_is_cannot(client: ImapClient) -> None:
    assert (await client.command('CREATE "a//b"'))[-1].startswith("a2 NO [CANNOT]")


async def test_create_special_use(client: ImapClient, users: Store) -> None:
    await client.ok("CREATE Sent2 (USE (\\Sent))")
    box = await users.get_mailbox(await account_of(users), "Sent2")
    assert box.special_use is not None and box.special_use.value == "\\Sent"
    lines = await client.command("CREATE Everything (USE (\\All))")
    assert lines[-1].startswith("a3 NO [USEATTR]")
    lines = await client.command("CREATE Two (USE (\\Sent \\Trash))")
    assert lines[-1].startswith("a4 NO [USEATTR]")


async def test_delete(client: ImapClient) -> None:
    await client.ok("CREATE Old")
    await client.ok("DELETE Old")
    assert (await client.command("DELETE Old"))[-1].startswith("a4 NO [NONEXISTENT]")
    assert (await client.command("DELETE INBOX"))[-1].startswith("a5 NO [CANNOT]")
    await client.ok("CREATE Parent/Child")
    assert (await client.command("DELETE Parent"))[-1].startswith("a7 NO [HASCHILDREN]")
    await client.ok("DELETE Parent/Child")
    await client.ok("DELETE Parent")


async def test_delete_the_selected_mailbox_closes_it(client: ImapClient) -> None:
    await client.ok("CREATE Doomed")
    await client.ok("SELECT Doomed")
    lines = await client.ok("DELETE Doomed")
    assert any("[CLOSED]" in line for line in lines)
    assert (await client.command("FETCH 1 FLAGS"))[-1].endswith("BAD select a mailbox first")


async def test_rename(client: ImapClient, users: Store) -> None:
    await client.ok("CREATE A/B")
    await client.ok("RENAME A Z")
    names = {m.name for m in await users.list_mailboxes(await account_of(users))}
    assert {"Z", "Z/B"} <= names and "A" not in names
    assert (await client.command("RENAME Nope X"))[-1].startswith("a4 NO [NONEXISTENT]")
    assert (await client.command("RENAME Z Sent"))[-1].startswith("a5 NO [ALREADYEXISTS]")


async def test_rename_inbox_moves_messages(client: ImapClient, users: Store) -> None:
    await deliver(users)
    await client.ok("RENAME INBOX Saved")
    lines = await client.ok("STATUS Saved (MESSAGES)")
    assert lines[0] == "* STATUS Saved (MESSAGES 1)"
    assert (await client.ok("STATUS INBOX (MESSAGES)"))[0] == "* STATUS INBOX (MESSAGES 0)"


async def test_rename_selected_mailbox_keeps_selection(client: ImapClient, users: Store) -> None:
    await client.ok("CREATE Box")
    await deliver(users, mailbox="Box")
    await client.ok("SELECT Box")
    await client.ok("RENAME Box Renamed")
    lines = await client.ok("FETCH 1 UID")
    assert lines[0] == "* 1 FETCH (UID 1)"


async def test_subscribe_and_unsubscribe(client: ImapClient, users: Store) -> None:
    await client.ok("CREATE News")
    await client.ok("SUBSCRIBE News")
    assert "News" in await users.list_subscriptions(await account_of(users))
    await client.ok("UNSUBSCRIBE News")
    assert "News" not in await users.list_subscriptions(await account_of(users))


async def test_status_items(client: ImapClient, users: Store) -> None:
    await deliver(users, flags=frozenset({"\\Seen"}))
    await deliver(users, flags=frozenset({"\\Deleted"}))
    box = await users.get_mailbox(await account_of(users), "INBOX")
    lines = await client.ok(
        "STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE RECENT)")
    size = sum(r.size for r in await users.get_messages(box.account_id, box.id))
    assert lines[0] == (f"* STATUS INBOX (MESSAGES 2 UIDNEXT 3 UIDVALIDITY {box.uidvalidity}"
                        f" UNSEEN 1 DELETED 1 SIZE {size} RECENT 2)")
    assert (await client.command("STATUS Nope (MESSAGES)"))[-1].startswith("a3 NO [NONEXISTENT]")
    assert (await client.command("STATUS INBOX (BOGUS)"))[-1].startswith("a4 BAD")


async def test_modified_utf7_names_for_imap4rev1(client: ImapClient, users: Store) -> None:
    await client.ok("CREATE &AMk-t&AOk-")  # "Été"
    names = {m.name for m in await users.list_mailboxes(await account_of(users))}
    assert "Été" in names
    lines = await client.ok('LIST "" "&AMk-*"')
    assert lines[0] == '* LIST (\\HasNoChildren) "/" &AMk-t&AOk-'
    assert (await client.command("CREATE &Jjo"))[-1].startswith("a4 BAD")


async def test_utf8_names_after_enable_imap4rev2(client: ImapClient, users: Store) -> None:
    await client.ok("ENABLE IMAP4rev2")
    await client.ok('CREATE "Привет"')
    lines = await client.ok('LIST "" "Пр*"')
    assert lines[0] == '* LIST (\\HasNoChildren) "/" "Привет"'
    lines = await client.ok('STATUS "Привет" (MESSAGES)')
    assert lines[0] == '* STATUS "Привет" (MESSAGES 0)'
    # In rev2, "&" has no special meaning.
    await client.ok('CREATE "R&D"')
    assert "R&D" in {m.name for m in await users.list_mailboxes(await account_of(users))}
