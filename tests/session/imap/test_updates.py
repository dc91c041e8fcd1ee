"""Changes made by other sessions reach a selected session at the moments RFC 9051 allows."""

from __future__ import annotations

from postier.services import Services
from postier.store.interface import Store
from tests.session.imap.client import ImapClient, account_of, connect, deliver


async def _pair(services: Services) -> tuple[ImapClient, ImapClient]:
    a, _ = await connect(services)
    b, _ = await connect(services)
    await a.login()
    await b.login()
    await a.ok("SELECT INBOX")
    await b.ok("SELECT INBOX")
    return a, b


async def test_no_expunge_during_fetch_store_search(services: Services, users: Store) -> None:
    for _ in range(3):
        await deliver(users, flags=frozenset({"\\Deleted"}))
    a, b = await _pair(services)
    await a.ok("EXPUNGE")
    for command in ("FETCH 3 UID", "STORE 3 +FLAGS.SILENT (\\Seen)", "SEARCH ALL",
                    "SORT (ARRIVAL) UTF-8 ALL", "THREAD ORDEREDSUBJECT UTF-8 ALL"):
        lines = await b.command(command)
        assert not any(line.endswith(" EXPUNGE") for line in lines), (command, lines)
    # Numbers stay the client's: SEARCH still counts the messages it knows of.
    assert (await b.ok("SEARCH 1:3"))[0] == "* SEARCH"
    lines = await b.ok("UID SEARCH ALL")
    assert lines[:-1] == ["* SEARCH", "* 3 EXPUNGE", "* 2 EXPUNGE", "* 1 EXPUNGE"]
    await a.stop()
    await b.stop()


async def test_new_messages_appear_as_exists_at_the_end_of_any_command(
        services: Services, users: Store) -> None:
    a, b = await _pair(services)
    await deliver(users)
    lines = await b.command("FETCH 1:* UID")
    assert lines[:-1] == ["* 1 EXISTS", "* 1 RECENT"]
    assert lines[-1].endswith("OK FETCH completed")
    await a.stop()
    await b.stop()


async def test_added_then_removed_is_never_mentioned(services: Services, users: Store) -> None:
    a, b = await _pair(services)
    account = await account_of(users)
    box = await users.get_mailbox(account, "INBOX")
    uid = await deliver(users)
    from postier.types import UidSet

    await users.remove(account, box.id, UidSet.of([uid]))
    assert (await b.ok("NOOP"))[:-1] == []
    await a.stop()
    await b.stop()


async def test_subscription_overflow_resyncs(services: Services, users: Store) -> None:
    a, b = await _pair(services)
    account = await account_of(users)
    box = await users.get_mailbox(account, "INBOX")
    for _ in range(3):
        await users.append(account, box.id, b"Subject: x\r\n\r\nx\r\n")
    # Force the overflow path: the hub drops pending changes and flags the subscription.
    for subscription in list(users.hub._by_account.get(account, ())):
        subscription._pending.clear()
        subscription.overflowed = True
    lines = await b.ok("NOOP")
    assert lines[:-1] == ["* 3 EXISTS", "* 3 RECENT"]
    assert (await b.ok("NOOP"))[:-1] == []
    await a.stop()
    await b.stop()


async def test_selected_mailbox_deleted_elsewhere_ends_the_session(services: Services) -> None:
    a, b = await _pair(services)
    await a.ok("CREATE Gone")
    await b.ok("SELECT Gone")
    await a.ok("DELETE Gone")
    b.send("x1 NOOP\r\n")
    output = await b.closed()
    assert "* BYE the selected mailbox was deleted" in output
    await a.stop()
