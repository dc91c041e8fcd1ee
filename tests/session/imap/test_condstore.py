"""CONDSTORE (RFC 7162 §3.1): HIGHESTMODSEQ, MODSEQ, CHANGEDSINCE, UNCHANGEDSINCE/MODIFIED."""

from __future__ import annotations

import re

from postier.services import Services
from postier.store.interface import Store
from tests.session.imap.client import ImapClient, account_of, connect, deliver


def _modseq(line: str) -> int:
    match = re.search(r"MODSEQ \((\d+)\)", line)
    assert match, line
    return int(match.group(1))


async def test_select_condstore_and_fetch_modseq(client: ImapClient, users: Store) -> None:
    await deliver(users)
    await deliver(users)
    box = await users.get_mailbox(await account_of(users), "INBOX")
    lines = await client.ok("SELECT INBOX (CONDSTORE)")
    assert f"* OK [HIGHESTMODSEQ {box.highest_modseq}] highest mod-sequence" in lines
    lines = await client.ok("FETCH 1:2 (FLAGS MODSEQ)")
    first, second = _modseq(lines[0]), _modseq(lines[1])
    assert second > first
    await client.ok("STORE 1 +FLAGS (\\Seen)")
    lines = await client.ok(f"FETCH 1:* (FLAGS) (CHANGEDSINCE {second})")
    assert len(lines) == 2 and lines[0].startswith("* 1 FETCH (FLAGS (\\Seen \\Recent) MODSEQ (")


async def test_store_reports_uid_and_modseq_once_enabled(client: ImapClient,
                                                         users: Store) -> None:
    await deliver(users)
    await client.ok("ENABLE CONDSTORE")
    await client.ok("SELECT INBOX")
    lines = await client.ok("STORE 1 +FLAGS (\\Flagged)")
    assert re.fullmatch(r"\* 1 FETCH \(UID 1 MODSEQ \(\d+\) FLAGS \(\\Flagged \\Recent\)\)",
                        lines[0])
    lines = await client.ok("STORE 1 +FLAGS.SILENT (\\Seen)")
    assert re.fullmatch(r"\* 1 FETCH \(UID 1 MODSEQ \(\d+\)\)", lines[0])


async def test_unchanged_since_conflict_gives_modified(services: Services,
                                                       users: Store) -> None:
    await deliver(users)
    await deliver(users)
    a, _ = await connect(services)
    b, _ = await connect(services)
    await a.login()
    await b.login()
    await a.ok("SELECT INBOX")
    await b.ok("SELECT INBOX")
    lines = await a.ok("FETCH 1:2 MODSEQ")
    assert lines[0].startswith("* OK [HIGHESTMODSEQ ")  # enabling while selected
    known = max(_modseq(lines[1]), _modseq(lines[2]))
    await b.ok("STORE 2 +FLAGS (\\Seen)")  # another device changes message 2
    lines = await a.ok(f"STORE 1:2 (UNCHANGEDSINCE {known}) +FLAGS (\\Flagged)")
    # Message 2 is refused; message 1 changes. Message 2's change by b arrives too.
    assert lines[-1] == "a4 OK [MODIFIED 2] conditional STORE failed for some messages"
    assert any(line.startswith("* 1 FETCH (UID 1 MODSEQ (") for line in lines)
    assert any(line.startswith("* 2 FETCH (UID 2 ") and "\\Seen" in line for line in lines)
    lines = await a.ok(f"UID STORE 2 (UNCHANGEDSINCE {known}) +FLAGS (\\Flagged)")
    assert lines[-1].startswith("a5 OK [MODIFIED 2]")
    await a.stop()
    await b.stop()


async def test_search_modseq_and_status_highestmodseq(client: ImapClient, users: Store) -> None:
    await deliver(users)
    box = await users.get_mailbox(await account_of(users), "INBOX")
    lines = await client.ok("STATUS INBOX (HIGHESTMODSEQ)")
    assert lines[0] == f"* STATUS INBOX (HIGHESTMODSEQ {box.highest_modseq})"
    await client.ok("SELECT INBOX")
    lines = await client.ok("SEARCH MODSEQ 1")
    assert re.fullmatch(r"\* SEARCH 1 \(MODSEQ \d+\)", lines[0])


async def test_enabling_while_selected_reports_highestmodseq(client: ImapClient,
                                                            users: Store) -> None:
    await deliver(users)
    await client.ok("SELECT INBOX")
    lines = await client.ok("FETCH 1 MODSEQ")
    assert lines[0].startswith("* OK [HIGHESTMODSEQ ")
    assert lines[1].startswith("* 1 FETCH (MODSEQ (")


async def test_unsolicited_fetch_carries_modseq(services: Services, users: Store) -> None:
    await deliver(users)
    a, _ = await connect(services)
    b, _ = await connect(services)
    await a.login()
    await b.login()
    await a.ok("SELECT INBOX (CONDSTORE)")
    await b.ok("SELECT INBOX")
    await b.ok("STORE 1 +FLAGS (\\Answered)")
    lines = await a.ok("NOOP")
    assert re.fullmatch(r"\* 1 FETCH \(UID 1 FLAGS \(\\Answered \\Recent\) MODSEQ \(\d+\)\)",
                        lines[0])
    await a.stop()
    await b.stop()
