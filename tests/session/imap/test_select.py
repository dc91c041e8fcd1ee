"""SELECT, EXAMINE, CLOSE, UNSELECT, CHECK, EXPUNGE, UID EXPUNGE; \\Recent."""

from __future__ import annotations

from postier.services import Services
from postier.store.interface import Store
from tests.session.imap.client import ImapClient, account_of, connect, deliver


async def test_select_imap4rev1(client: ImapClient, users: Store) -> None:
    await deliver(users, flags=frozenset({"\\Seen", "$Label1"}))
    await deliver(users)
    box = await users.get_mailbox(await account_of(users), "INBOX")
    lines = await client.ok("SELECT INBOX")
    assert lines == [
        "* FLAGS (\\Seen \\Answered \\Flagged \\Deleted \\Draft $Label1)",
        "* 2 EXISTS",
        "* 2 RECENT",
        "* OK [UNSEEN 2] first unseen",
        "* OK [PERMANENTFLAGS (\\Seen \\Answered \\Flagged \\Deleted \\Draft $Label1 \\*)] "
        "flags permitted",
        f"* OK [UIDVALIDITY {box.uidvalidity}] UIDs valid",
        "* OK [UIDNEXT 3] predicted next UID",
        f"* OK [HIGHESTMODSEQ {box.highest_modseq}] highest mod-sequence",
        "a2 OK [READ-WRITE] SELECT completed",
    ]


async def test_select_imap4rev2_has_list_and_no_recent(client: ImapClient,
                                                       users: Store) -> None:
    await deliver(users)
    await client.ok("ENABLE IMAP4rev2")
    lines = await client.ok("SELECT inbox")
    assert "* 1 EXISTS" in lines
    assert not any("RECENT" in line or "UNSEEN" in line for line in lines)
    assert '* LIST () "/" INBOX' in lines


async def test_recent_belongs_to_the_first_session(services: Services, users: Store) -> None:
    await deliver(users)
    first, _ = await connect(services)
    await first.login()
    assert "* 1 RECENT" in await first.ok("SELECT INBOX")
    lines = await first.ok("FETCH 1 FLAGS")
    assert lines[0] == "* 1 FETCH (FLAGS (\\Recent))"
    second, _ = await connect(services)
    await second.login()
    assert "* 0 RECENT" in await second.ok("SELECT INBOX")
    assert "* 1 RECENT" not in await second.ok("SEARCH RECENT")
    # A message that arrives while both are selected is recent for the one told first.
    await deliver(users)
    assert "* 2 RECENT" in await first.ok("NOOP")
    assert "* 0 RECENT" in await second.ok("NOOP")
    await first.stop()
    await second.stop()


async def test_examine_is_read_only_and_does_not_claim_recent(services: Services,
                                                              users: Store) -> None:
    await deliver(users)
    client, _ = await connect(services)
    await client.login()
    lines = await client.ok("EXAMINE INBOX")
    assert lines[-1] == "a2 OK [READ-ONLY] EXAMINE completed"
    assert "* OK [PERMANENTFLAGS ()] flags permitted" in lines
    assert "* 1 RECENT" in lines
    assert (await client.command("STORE 1 +FLAGS (\\Seen)"))[-1].startswith("a3 NO [READ-ONLY]")
    assert (await client.command("EXPUNGE"))[-1].startswith("a4 NO [READ-ONLY]")
    await client.ok("FETCH 1 BODY[]")
    assert (await client.ok("FETCH 1 FLAGS"))[0] == "* 1 FETCH (FLAGS (\\Recent))"  # no \Seen
    again = await client.ok("SELECT INBOX")
    assert "* 1 RECENT" in again  # EXAMINE did not take it
    await client.stop()


async def test_select_missing_mailbox_leaves_nothing_selected(client: ImapClient) -> None:
    await client.ok("SELECT INBOX")
    lines = await client.command("SELECT Nope")
    assert lines[0] == "* OK [CLOSED] previous mailbox closed"
    assert lines[-1].startswith("a3 NO [NONEXISTENT]")
    assert (await client.command("FETCH 1 FLAGS"))[-1].endswith("BAD select a mailbox first")


async def test_close_expunges_silently_and_unselect_does_not(client: ImapClient,
                                                             users: Store) -> None:
    await deliver(users, flags=frozenset({"\\Deleted"}))
    await deliver(users)
    await client.ok("SELECT INBOX")
    await client.ok("UNSELECT")
    assert "* 2 EXISTS" in await client.ok("SELECT INBOX")
    await client.ok("CHECK")
    lines = await client.ok("CLOSE")
    assert not any("EXPUNGE" in line for line in lines)
    assert "* 1 EXISTS" in await client.ok("SELECT INBOX")
    await client.ok("CLOSE")
    assert (await client.command("UNSELECT"))[-1].endswith("BAD select a mailbox first")


async def test_expunge_reports_each_message(client: ImapClient, users: Store) -> None:
    for flags in ({"\\Deleted"}, set(), {"\\Deleted"}, {"\\Deleted"}):
        await deliver(users, flags=frozenset(flags))
    await client.ok("SELECT INBOX")
    lines = await client.ok("EXPUNGE")
    assert lines[:-1] == ["* 4 EXPUNGE", "* 3 EXPUNGE", "* 1 EXPUNGE"]
    assert (await client.ok("FETCH 1:* UID"))[:-1] == ["* 1 FETCH (UID 2)"]


async def test_uid_expunge_only_touches_the_given_uids(client: ImapClient,
                                                       users: Store) -> None:
    for _ in range(3):
        await deliver(users, flags=frozenset({"\\Deleted"}))
    await client.ok("SELECT INBOX")
    lines = await client.ok("UID EXPUNGE 2:3")
    assert lines[:-1] == ["* 3 EXPUNGE", "* 2 EXPUNGE"]
    assert (await client.ok("UID EXPUNGE 7"))[:-1] == []
    assert (await client.ok("SEARCH ALL"))[0] == "* SEARCH 1"


async def test_select_qresync_is_bad_until_implemented(client: ImapClient) -> None:
    assert (await client.command("EXAMINE INBOX (QRESYNC (1 1))"))[-1].startswith("a2 BAD")
