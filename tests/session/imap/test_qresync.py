"""QRESYNC (RFC 7162 §3.2): VANISHED (EARLIER) on SELECT and UID FETCH, VANISHED instead of
EXPUNGE, CLOSED."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from postier.services import Services
from postier.store.interface import Store
from postier.types import FlagOp, UidSet
from tests.session.imap.client import ImapClient, account_of, connect, deliver


async def _state(users: Store) -> tuple[int, int]:
    account = await account_of(users)
    box = await users.get_mailbox(account, "INBOX")
    return box.uidvalidity, box.highest_modseq


async def _expunge(users: Store, uids: list[int]) -> None:
    account = await account_of(users)
    box = await users.get_mailbox(account, "INBOX")
    await users.remove(account, box.id, UidSet.of(uids))


async def test_select_qresync_reports_vanished_and_changed(client: ImapClient,
                                                           users: Store) -> None:
    uids = [await deliver(users) for _ in range(5)]
    uidvalidity, modseq = await _state(users)
    await _expunge(users, uids[1:3])
    account = await account_of(users)
    box = await users.get_mailbox(account, "INBOX")
    await users.set_flags(account, box.id, UidSet.of([uids[3]]), FlagOp.ADD,
                          frozenset({"\\Flagged"}))
    await client.ok("ENABLE QRESYNC")
    lines = await client.ok(f"SELECT INBOX (QRESYNC ({uidvalidity} {modseq} 1:{uids[-1]}))")
    body = lines[:-1]
    assert f"* VANISHED (EARLIER) {uids[1]}:{uids[2]}" in body
    fetches = [line for line in body if " FETCH " in line]
    assert len(fetches) == 1 and f"UID {uids[3]} " in fetches[0]
    assert "\\Flagged" in fetches[0] and "MODSEQ (" in fetches[0]
    # VANISHED comes after the HIGHESTMODSEQ line and before the FETCH.
    assert body.index(f"* VANISHED (EARLIER) {uids[1]}:{uids[2]}") < body.index(fetches[0])


async def test_known_uids_restrict_the_answer(client: ImapClient, users: Store) -> None:
    uids = [await deliver(users) for _ in range(4)]
    uidvalidity, modseq = await _state(users)
    await _expunge(users, [uids[0], uids[3]])
    await client.ok("ENABLE QRESYNC")
    lines = await client.ok(f"EXAMINE INBOX (QRESYNC ({uidvalidity} {modseq} {uids[3]}))")
    assert f"* VANISHED (EARLIER) {uids[3]}" in lines


async def _forget_history(users: Store) -> int:
    """Prune the whole expunge history, as ``[store] expunge_history`` does for old expunges;
    return the mailbox's modseq then (the floor: every expunge so far is forgotten)."""
    assert await users.prune_expunge_history(datetime.now(UTC) + timedelta(days=1)) > 0
    return (await _state(users))[1]


async def test_short_history_reports_every_known_uid_not_present(client: ImapClient,
                                                                 users: Store) -> None:
    uids = [await deliver(users) for _ in range(6)]
    uidvalidity, modseq = await _state(users)
    await _expunge(users, [uids[1]])
    floor = await _forget_history(users)
    await _expunge(users, [uids[3]])  # after the prune: still in the history
    await client.ok("ENABLE QRESYNC")
    lines = await client.ok(f"EXAMINE INBOX (QRESYNC ({uidvalidity} {modseq} 1:4294967295))")
    # No history back to the client's modseq: every UID below UIDNEXT that is not there.
    assert f"* VANISHED (EARLIER) {uids[1]},{uids[3]}" in lines
    # A client at the floor still gets the exact answer from the history.
    lines = await client.ok(f"EXAMINE INBOX (QRESYNC ({uidvalidity} {floor}))")
    assert f"* VANISHED (EARLIER) {uids[3]}" in lines


async def test_sequence_match_data_narrows_the_answer_without_history(client: ImapClient,
                                                                      users: Store) -> None:
    uids = [await deliver(users) for _ in range(6)]
    await _expunge(users, [uids[1]])
    uidvalidity, modseq = await _state(users)  # the client saw that expunge
    await _expunge(users, [uids[4]])
    await _forget_history(users)
    await client.ok("ENABLE QRESYNC")
    known = f"{uids[0]}:{uids[5]}"
    # Without pairs: every known UID that is gone, including the one the client knew about.
    lines = await client.ok(f"EXAMINE INBOX (QRESYNC ({uidvalidity} {modseq} {known}))")
    assert f"* VANISHED (EARLIER) {uids[1]},{uids[4]}" in lines
    # Messages 1-3 are still UIDs 1, 3, 4: the client knows every expunge up to UID 4.
    pairs = f"(1:3 {uids[0]},{uids[2]},{uids[3]})"
    lines = await client.ok(f"EXAMINE INBOX (QRESYNC ({uidvalidity} {modseq} {known} {pairs}))")
    assert f"* VANISHED (EARLIER) {uids[4]}" in lines
    # Message 4 was UID 5 for the client and is UID 6 now: the scan stops there.
    pairs = f"(1:4 {uids[0]},{uids[2]},{uids[3]},{uids[4]})"
    lines = await client.ok(f"EXAMINE INBOX (QRESYNC ({uidvalidity} {modseq} {known} {pairs}))")
    assert f"* VANISHED (EARLIER) {uids[4]}" in lines
    # A first pair that no longer holds proves nothing.
    pairs = f"(2 {uids[3]})"
    lines = await client.ok(f"EXAMINE INBOX (QRESYNC ({uidvalidity} {modseq} {known} {pairs}))")
    assert f"* VANISHED (EARLIER) {uids[1]},{uids[4]}" in lines


async def test_uid_fetch_vanished_after_the_history_was_pruned(client: ImapClient,
                                                               users: Store) -> None:
    uids = [await deliver(users) for _ in range(5)]
    await _expunge(users, [uids[0]])
    await client.ok("ENABLE QRESYNC")
    lines = await client.ok("SELECT INBOX")
    modseq = next(int(m.group(1)) for x in lines if (m := re.search(r"HIGHESTMODSEQ (\d+)", x)))
    await client.ok(f"UID STORE {uids[2]} +FLAGS.SILENT (\\Deleted)")
    await client.ok("EXPUNGE")
    query = f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {modseq} VANISHED)"
    assert (await client.ok(query))[0] == f"* VANISHED (EARLIER) {uids[2]}"
    floor = await _forget_history(users)
    # Below the floor: every UID asked for that is neither in the mailbox nor numbered.
    assert (await client.ok(query))[0] == f"* VANISHED (EARLIER) {uids[0]},{uids[2]}"
    lines = await client.ok(f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {floor} VANISHED)")
    assert not any("VANISHED" in line for line in lines)


async def test_other_uidvalidity_is_a_plain_select(client: ImapClient, users: Store) -> None:
    await deliver(users)
    await client.ok("ENABLE QRESYNC")
    lines = await client.ok("SELECT INBOX (QRESYNC (1 1))")
    assert not any("VANISHED" in line for line in lines)


async def test_qresync_parameter_needs_enable(client: ImapClient, users: Store) -> None:
    uidvalidity, _ = await _state(users)
    lines = await client.command(f"SELECT INBOX (QRESYNC ({uidvalidity} 1))")
    assert " BAD " in lines[-1]


async def test_uid_fetch_changedsince_vanished(client: ImapClient, users: Store) -> None:
    uids = [await deliver(users) for _ in range(4)]
    await client.ok("ENABLE QRESYNC")
    await client.ok("SELECT INBOX")
    _, modseq = await _state(users)
    await client.ok(f"UID STORE {uids[0]} +FLAGS (\\Deleted)")
    await client.ok("EXPUNGE")
    await client.ok(f"UID STORE {uids[2]} +FLAGS.SILENT (\\Seen)")
    lines = await client.ok(f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {modseq} VANISHED)")
    assert lines[0] == f"* VANISHED (EARLIER) {uids[0]}"
    assert len([line for line in lines[:-1] if " FETCH " in line]) == 1
    assert " BAD " in (await client.command("FETCH 1 (FLAGS) (CHANGEDSINCE 1 VANISHED)"))[-1]


async def test_vanished_needs_qresync(client: ImapClient, users: Store) -> None:
    await deliver(users)
    await client.ok("SELECT INBOX")
    lines = await client.command("UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)")
    assert " BAD " in lines[-1]


async def test_vanished_instead_of_expunge(services: Services, users: Store) -> None:
    uids = [await deliver(users, flags=frozenset({"\\Deleted"})) for _ in range(3)]
    a, _ = await connect(services)
    b, _ = await connect(services)
    await a.login()
    await b.login()
    await b.ok("CREATE Elsewhere")
    await a.ok("ENABLE QRESYNC")
    await a.ok("SELECT INBOX")
    await b.ok("SELECT INBOX")
    await b.ok(f"UID EXPUNGE {uids[0]}")
    # Not during a FETCH by sequence number; on NOOP as one VANISHED.
    assert not any("VANISHED" in line for line in await a.command("FETCH 1 UID"))
    assert (await a.ok("NOOP"))[:-1] == [f"* VANISHED {uids[0]}"]
    # The session's own EXPUNGE and MOVE are reported the same way.
    assert (await a.ok(f"UID EXPUNGE {uids[1]}"))[:-1] == [f"* VANISHED {uids[1]}"]
    lines = await a.ok(f"UID MOVE {uids[2]} Elsewhere")
    assert f"* VANISHED {uids[2]}" in lines and not any("EXPUNGE" in x for x in lines)
    await a.stop()
    await b.stop()


async def test_select_while_selected_says_closed(client: ImapClient) -> None:
    await client.ok("ENABLE QRESYNC")
    await client.ok("SELECT INBOX")
    lines = await client.ok("EXAMINE INBOX")
    assert lines[0].startswith("* OK [CLOSED]")


async def test_capabilities_and_enable(client: ImapClient) -> None:
    capability = (await client.ok("CAPABILITY"))[0]
    assert " QRESYNC" in capability and " NOTIFY" in capability
    assert (await client.ok("ENABLE QRESYNC"))[0] == "* ENABLED QRESYNC"
    lines = await client.ok("SELECT INBOX")
    assert any("HIGHESTMODSEQ" in line for line in lines)
