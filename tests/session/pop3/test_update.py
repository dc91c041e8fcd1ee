"""QUIT and the UPDATE state: each delete policy, RSET, dropped connections, IMAP coherence."""

from __future__ import annotations

from postier.config import LimitsSection
from postier.services import Services
from postier.store.changes import MessageAdded, MessagesExpunged
from postier.store.interface import Store
from postier.types import INBOX, SEEN, Pop3DeletePolicy, SpecialUse
from tests.session.pop3.conversation import (
    account_id,
    connect,
    deliver,
    make_services,
    message,
    messages,
)

ALICE = "alice@example.test"


async def download_and_delete_first(services: Services) -> str:
    client = await connect(services)
    await client.login()
    await client.retr(1)
    await client.retr(2)
    assert await client.command("DELE 1") == "+OK message 1 deleted"
    return await client.quit()


async def test_expunge_policy_removes_and_imap_sees_the_expunge(services: Services,
                                                                users: Store) -> None:
    await users.set_pop3_delete_policy(ALICE, Pop3DeletePolicy.EXPUNGE)
    first = await deliver(users, message("one"))
    second = await deliver(users, message("two"))
    account = await account_id(users)
    inbox = await users.get_mailbox(account, INBOX)
    with users.hub.subscribe(account) as imap_observer:
        assert (await download_and_delete_first(services)).startswith("+OK")
        changes = imap_observer.drain()
    expunged = [c for c in changes if isinstance(c, MessagesExpunged)]
    assert [(c.mailbox, c.uids) for c in expunged] == [(inbox.id, (first,))]
    assert await messages(users) == {second: frozenset({SEEN})}


async def test_trash_policy_moves_to_trash(services: Services, users: Store) -> None:
    first = await deliver(users, message("one"))
    second = await deliver(users, message("two"))
    account = await account_id(users)
    trash = await users.find_special_use(account, SpecialUse.TRASH)
    assert trash is not None
    with users.hub.subscribe(account) as observer:
        await download_and_delete_first(services)
        changes = observer.drain()
    assert any(isinstance(c, MessagesExpunged) and c.uids == (first,) for c in changes)
    assert any(isinstance(c, MessageAdded) and c.mailbox == trash.id for c in changes)
    assert await messages(users) == {second: frozenset({SEEN})}
    assert list((await messages(users, "Trash")).values()) == [frozenset({SEEN})]
    records = await users.get_messages(account, trash.id)
    assert await users.read_message(account, records[0]) == message("one")


async def test_trash_policy_creates_trash_when_missing(services: Services,
                                                       users: Store) -> None:
    account = await account_id(users)
    await users.delete_mailbox(account, "Trash")
    await deliver(users, message("one"))
    await deliver(users, message("two"))
    await download_and_delete_first(services)
    trash = await users.find_special_use(account, SpecialUse.TRASH)
    assert trash is not None and trash.name == "Trash"
    assert len(await messages(users, "Trash")) == 1


async def test_keep_policy_hides_from_pop3_only(services: Services, users: Store) -> None:
    await users.set_pop3_delete_policy(ALICE, Pop3DeletePolicy.KEEP)
    first = await deliver(users, message("one"))
    second = await deliver(users, message("two"))
    await download_and_delete_first(services)
    assert await messages(users) == {first: frozenset({SEEN, "$POP3Deleted"}),
                                     second: frozenset({SEEN})}
    client = await connect(services)
    await client.login()
    assert await client.command("STAT") == f"+OK 1 {len(message('two'))}"
    assert await client.retr(1) == message("two")
    await client.quit()


async def test_dele_then_rset_keeps_everything(services: Services, users: Store) -> None:
    await users.set_pop3_delete_policy(ALICE, Pop3DeletePolicy.EXPUNGE)
    uids = [await deliver(users, message(str(n))) for n in range(3)]
    client = await connect(services)
    await client.login()
    for number in (1, 2, 3):
        assert (await client.command(f"DELE {number}")).startswith("+OK")
    assert await client.command("STAT") == "+OK 0 0"
    assert (await client.command("RSET")).startswith("+OK maildrop has 3 messages")
    assert await client.quit() == "+OK Postier POP3 server signing off (3 messages left)"
    assert sorted(await messages(users)) == uids


async def test_dropped_connection_deletes_nothing(services: Services, users: Store) -> None:
    await users.set_pop3_delete_policy(ALICE, Pop3DeletePolicy.EXPUNGE)
    uid = await deliver(users, message("one"))
    client = await connect(services)
    await client.login()
    await client.retr(1)
    assert (await client.command("DELE 1")).startswith("+OK")
    client.drop()
    await client.closed()
    assert await messages(users) == {uid: frozenset()}  # not even \Seen


async def test_autologout_deletes_nothing(users: Store) -> None:
    services = make_services(users, limits=LimitsSection(pop3_timeout=0.2))
    await users.set_pop3_delete_policy(ALICE, Pop3DeletePolicy.EXPUNGE)
    uid = await deliver(users, message("one"))
    client = await connect(services)
    await client.login()
    assert (await client.command("DELE 1")).startswith("+OK")
    await client.closed()  # the timer expires: closed without a response (RFC 1939 §3)
    assert client.conn.closed
    assert client.conn.outbound.endswith(b"+OK message 1 deleted\r\n")
    assert await messages(users) == {uid: frozenset()}
    again = await connect(services)
    assert (await again.login()).startswith("+OK")  # and the lock was released
    await again.quit()


async def test_quit_without_changes_touches_nothing(services: Services, users: Store) -> None:
    await deliver(users, message("one"))
    account = await account_id(users)
    with users.hub.subscribe(account) as observer:
        client = await connect(services)
        await client.login()
        await client.command("TOP 1 0")
        await client.body()
        await client.quit()
        assert observer.drain() == []


async def test_failed_update_reports_sys_temp(services: Services, users: Store) -> None:
    await deliver(users, message("one"))
    client = await connect(services)
    await client.login()
    assert (await client.command("DELE 1")).startswith("+OK")
    await users.delete_account(ALICE)  # the store can no longer apply anything
    assert await client.quit() == "-ERR [SYS/TEMP] some deleted messages not removed"
