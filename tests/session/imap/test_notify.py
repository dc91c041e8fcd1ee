"""NOTIFY (RFC 5465): STATUS for other mailboxes, MessageNew in SELECTED, LIST, NONE."""

from __future__ import annotations

from postier.services import Services
from postier.store.interface import Store
from tests.session.imap.client import ImapClient, account_of, connect, deliver


async def test_status_of_another_mailbox_on_delivery(services: Services, users: Store) -> None:
    client, _ = await connect(services)
    await client.login()
    await client.ok("CREATE Work")
    await client.ok("SELECT Work")
    await client.ok("NOTIFY SET (selected (MessageNew MessageExpunge)) "
                    "(personal (MessageNew MessageExpunge FlagChange))")
    uid = await deliver(users)  # into INBOX, while the client waits for its next command
    line = await client.line()
    assert line.startswith('* STATUS INBOX (MESSAGES 1 UIDNEXT ') and "UNSEEN 1" in line
    assert uid > 0
    await client.stop()


async def test_message_new_in_selected_with_fetch(services: Services, users: Store) -> None:
    client, _ = await connect(services)
    await client.login()
    await client.ok("SELECT INBOX")
    await client.ok("NOTIFY SET (selected (MessageNew (UID FLAGS) MessageExpunge))")
    uid = await deliver(users)
    assert await client.line() == "* 1 EXISTS"
    lines = [await client.line(), await client.line()]
    assert f"* 1 FETCH (UID {uid} FLAGS (\\Recent))" in lines or any(
        line.startswith("* 1 FETCH (") and f"UID {uid}" in line for line in lines)
    await client.stop()


async def test_mailbox_name_and_subscription_events(services: Services, users: Store) -> None:
    client, _ = await connect(services)
    await client.login()
    await client.ok("NOTIFY SET (personal (MailboxName SubscriptionChange))")
    account = await account_of(users)
    await users.create_mailbox(account, "Projects")
    assert await client.line() == '* LIST () "/" Projects'
    await users.set_subscribed(account, "Projects", True)
    assert await client.line() == '* LIST (\\Subscribed) "/" Projects'
    await client.stop()


async def test_status_on_set_and_condstore(services: Services, users: Store) -> None:
    await deliver(users)
    client, _ = await connect(services)
    await client.login()
    await client.ok("ENABLE CONDSTORE")
    lines = await client.ok("NOTIFY SET STATUS (inboxes (MessageNew MessageExpunge))")
    assert lines[0].startswith("* STATUS INBOX (MESSAGES 1 ") and "HIGHESTMODSEQ" in lines[0]
    await client.stop()


async def test_notify_none_and_no_notify_stay_quiet(client: ImapClient, users: Store) -> None:
    await client.ok("CREATE Work")
    await client.ok("SELECT Work")
    await client.ok("NOTIFY SET (inboxes (MessageNew MessageExpunge))")
    await client.ok("NOTIFY NONE")
    await deliver(users)
    assert (await client.ok("NOOP"))[:-1] == []


async def test_unsupported_event_is_badevent(client: ImapClient) -> None:
    lines = await client.command("NOTIFY SET (personal (MailboxMetadataChange))")
    assert lines[-1].split(" ", 2)[1] == "NO" and "[BADEVENT (MessageNew" in lines[-1]


async def test_idle_wakes_for_another_mailbox(client: ImapClient, users: Store) -> None:
    await client.ok("CREATE Work")
    await client.ok("SELECT Work")
    await client.ok("NOTIFY SET (inboxes (MessageNew MessageExpunge))")
    client.send("i1 IDLE\r\n")
    assert (await client.line()).startswith("+ ")
    await deliver(users)
    assert (await client.line()).startswith("* STATUS INBOX (MESSAGES 1 ")
    client.send("DONE\r\n")
    assert (await client.until_tagged("i1"))[-1].startswith("i1 OK")
