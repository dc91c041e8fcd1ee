"""Messages, flags, modseq, copy/move/expunge, quota and change notification."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from postier.errors import AlreadyExists, InvalidArgument, NotFound, OverQuota
from postier.store.changes import FlagsChanged, MessageAdded, MessagesExpunged
from postier.store.interface import DeliveryTarget
from postier.types import FlagOp, UidSet
from tests.contract.bodies import body_files, stored_bodies

MESSAGE = (b"From: Alice <alice@example.test>\r\nTo: bob@example.test\r\n"
           b"Subject: =?utf-8?q?Caf=C3=A9?= meeting\r\nMessage-ID: <m1@example.test>\r\n"
           b"Date: Mon, 2 Sep 2024 10:00:00 +0000\r\n\r\nLet us meet at the harbour.\r\n")


@pytest.fixture
async def account(store):
    await store.add_domain("example.test")
    return await store.add_account("bob@example.test", "h", None)


async def test_append_assigns_increasing_uids_and_modseqs(store, account) -> None:
    inbox = await store.get_mailbox(account.id, "INBOX")
    date = datetime(2024, 9, 2, 10, 0, tzinfo=UTC)
    first = await store.append(account.id, inbox.id, MESSAGE, frozenset({"\\seen", "$Work"}), date)
    second = await store.append(account.id, inbox.id, MESSAGE + b"more\r\n")
    assert first.uidvalidity == inbox.uidvalidity
    assert (first.record.uid, second.record.uid) == (1, 2)
    assert second.record.modseq > first.record.modseq
    assert first.record.flags == {"\\Seen", "$Work"}
    assert first.record.internal_date == date
    after = await store.get_mailbox(account.id, "INBOX")
    assert after.uidnext == 3 and after.highest_modseq == second.record.modseq
    records = await store.get_messages(account.id, inbox.id)
    assert [r.uid for r in records] == [1, 2]
    assert await store.read_message(account.id, records[0]) == MESSAGE
    assert records[0].size == len(MESSAGE)


async def test_uids_are_never_reused_after_expunge(store, account) -> None:
    inbox = await store.get_mailbox(account.id, "INBOX")
    for _ in range(3):
        await store.append(account.id, inbox.id, MESSAGE)
    await store.set_flags(account.id, inbox.id, UidSet.of([2, 3]), FlagOp.ADD,
                          frozenset({"\\Deleted"}))
    before = (await store.get_mailbox(account.id, "INBOX")).highest_modseq
    assert await store.expunge(account.id, inbox.id, UidSet.of([3])) == [3]
    assert await store.expunge(account.id, inbox.id) == [2]
    new = await store.append(account.id, inbox.id, MESSAGE)
    assert new.record.uid == 4
    assert await store.vanished_since(account.id, inbox.id, before) == UidSet.of([2, 3])
    status = await store.status(account.id, inbox.id)
    assert (status.messages, status.unseen, status.deleted) == (2, 2, 0)


async def test_unchanged_since_reports_conflicts_without_losing_changes(store, account) -> None:
    inbox = await store.get_mailbox(account.id, "INBOX")
    a = (await store.append(account.id, inbox.id, MESSAGE)).record
    b = (await store.append(account.id, inbox.id, MESSAGE)).record
    seen = frozenset({"\\Seen"})
    # Another device changes message b after we read its modseq.
    await store.set_flags(account.id, inbox.id, UidSet.of([b.uid]), FlagOp.ADD,
                          frozenset({"\\Flagged"}))
    result = await store.set_flags(account.id, inbox.id, UidSet.of([a.uid, b.uid]), FlagOp.ADD,
                                   seen, unchanged_since=b.modseq)
    assert result.conflicts == UidSet.of([b.uid])
    assert [s.uid for s in result.changed] == [a.uid]
    states = {s.uid: s for s in await store.message_states(account.id, inbox.id)}
    assert states[a.uid].flags == seen
    assert states[b.uid].flags == {"\\Flagged"}
    changed = await store.message_states(account.id, inbox.id, changed_since=b.modseq)
    assert {s.uid for s in changed} == {a.uid, b.uid}


async def test_flag_operations(store, account) -> None:
    inbox = await store.get_mailbox(account.id, "INBOX")
    uid = (await store.append(account.id, inbox.id, MESSAGE)).record.uid
    one = UidSet.of([uid])
    await store.set_flags(account.id, inbox.id, one, FlagOp.ADD, frozenset({"\\Seen", "k1"}))
    await store.set_flags(account.id, inbox.id, one, FlagOp.REMOVE, frozenset({"k1"}))
    same = await store.set_flags(account.id, inbox.id, one, FlagOp.ADD, frozenset({"\\SEEN"}))
    assert same.changed == ()  # no change, no new modseq
    replaced = await store.set_flags(account.id, inbox.id, one, FlagOp.REPLACE,
                                     frozenset({"\\Answered", "\\Recent"}))
    assert replaced.changed[0].flags == {"\\Answered"}
    with pytest.raises(InvalidArgument):
        await store.set_flags(account.id, inbox.id, one, FlagOp.ADD, frozenset({"bad keyword"}))


async def test_copy_and_move_report_uid_mapping(store, account) -> None:
    inbox = await store.get_mailbox(account.id, "INBOX")
    archive = await store.get_mailbox(account.id, "Archive")
    for _ in range(3):
        await store.append(account.id, inbox.id, MESSAGE, frozenset({"\\Flagged"}))
    copied = await store.copy(account.id, inbox.id, UidSet.of([1, 3]), archive.id)
    assert copied.source_uids == (1, 3) and copied.destination_uids == (1, 2)
    assert copied.uidvalidity == archive.uidvalidity
    moved = await store.move(account.id, inbox.id, UidSet.of([2]), archive.id)
    assert moved.source_uids == (2,) and moved.destination_uids == (3,)
    assert [s.uid for s in await store.message_states(account.id, inbox.id)] == [1, 3]
    in_archive = await store.get_messages(account.id, archive.id)
    assert all(r.flags == {"\\Flagged"} for r in in_archive)
    assert all([await store.read_message(account.id, r) == MESSAGE for r in in_archive])
    quota = await store.quota(account.id)
    assert quota.messages == 5 and quota.used_bytes == 5 * len(MESSAGE)


async def test_quota_is_enforced_on_append_copy_and_delivery(store, account) -> None:
    await store.set_quota("bob@example.test", len(MESSAGE) * 2)
    inbox = await store.get_mailbox(account.id, "INBOX")
    await store.append(account.id, inbox.id, MESSAGE)
    await store.append(account.id, inbox.id, MESSAGE)
    with pytest.raises(OverQuota):
        await store.append(account.id, inbox.id, MESSAGE)
    with pytest.raises(OverQuota):
        await store.copy(account.id, inbox.id, UidSet.of([1]), inbox.id)
    other = await store.add_account("carol@example.test", "h", None)
    results = await store.deliver(MESSAGE, [DeliveryTarget(account.id),
                                            DeliveryTarget(other.id, header_prefix=b"X-T: 1\r\n")])
    assert isinstance(results[0].error, OverQuota) and results[0].record is None
    assert results[1].error is None and results[1].record.uid == 1
    carol_inbox = await store.get_mailbox(other.id, "INBOX")
    [record] = await store.get_messages(other.id, carol_inbox.id)
    assert await store.read_message(other.id, record) == b"X-T: 1\r\n" + MESSAGE
    assert (await store.quota(account.id)).messages == 2


async def test_delivery_shares_one_body_file(store, account) -> None:
    other = await store.add_account("carol@example.test", "h", None)
    targets = [DeliveryTarget(account.id, header_prefix=b"Received: one\r\n"),
               DeliveryTarget(other.id, mailbox="Nope", header_prefix=b"Received: two\r\n")]
    results = await store.deliver(MESSAGE, targets)
    assert all(r.error is None for r in results)
    assert len(await stored_bodies(store)) == 1
    assert (await store.status(other.id, (await store.get_mailbox(other.id, "INBOX")).id)
            ).messages == 1


async def test_mailbox_hierarchy_operations(store, account) -> None:
    created = await store.create_mailbox(account.id, "Projects/2024/Q1")
    names = {b.name for b in await store.list_mailboxes(account.id)}
    assert {"Projects", "Projects/2024", "Projects/2024/Q1"} <= names
    with pytest.raises(AlreadyExists):
        await store.create_mailbox(account.id, "Projects")
    with pytest.raises(InvalidArgument):
        await store.create_mailbox(account.id, "bad//name")
    with pytest.raises(InvalidArgument, match="child"):
        await store.delete_mailbox(account.id, "Projects")
    await store.rename_mailbox(account.id, "Projects", "Work/Projects")
    names = {b.name for b in await store.list_mailboxes(account.id)}
    assert "Work/Projects/2024/Q1" in names and "Projects/2024" not in names
    renamed = await store.get_mailbox(account.id, "Work/Projects/2024/Q1")
    assert renamed.id == created.id and renamed.uidvalidity == created.uidvalidity
    with pytest.raises(InvalidArgument):
        await store.delete_mailbox(account.id, "INBOX")
    await store.delete_mailbox(account.id, "Work/Projects/2024/Q1")
    with pytest.raises(NotFound):
        await store.get_mailbox(account.id, "Work/Projects/2024/Q1")
    recreated = await store.create_mailbox(account.id, "Work/Projects/2024/Q1")
    assert recreated.uidvalidity > created.uidvalidity


async def test_rename_inbox_moves_messages_and_keeps_inbox(store, account) -> None:
    inbox = await store.get_mailbox(account.id, "INBOX")
    await store.append(account.id, inbox.id, MESSAGE)
    await store.rename_mailbox(account.id, "inbox", "Old Mail")
    assert (await store.status(account.id, inbox.id)).messages == 0
    old = await store.get_mailbox(account.id, "Old Mail")
    assert (await store.status(account.id, old.id)).messages == 1


async def test_subscriptions(store, account) -> None:
    await store.set_subscribed(account.id, "Not/Yet/There", True)
    await store.set_subscribed(account.id, "Junk", False)
    subscribed = await store.list_subscriptions(account.id)
    assert "Not/Yet/There" in subscribed and "Junk" not in subscribed


async def test_changes_are_published_in_commit_order(store, account) -> None:
    inbox = await store.get_mailbox(account.id, "INBOX")
    with store.hub.subscribe(account.id) as watcher:
        added = await store.append(account.id, inbox.id, MESSAGE)
        await store.set_flags(account.id, inbox.id, UidSet.of([1]), FlagOp.ADD,
                              frozenset({"\\Deleted"}))
        await store.expunge(account.id, inbox.id)
        await watcher.wait()
        changes = watcher.drain()
    assert [type(c) for c in changes] == [MessageAdded, FlagsChanged, MessagesExpunged]
    assert changes[0].uid == added.record.uid
    assert changes[1].flags == {"\\Deleted"}
    assert changes[2].uids == (1,)
    assert [c.modseq for c in changes] == sorted(c.modseq for c in changes)


async def test_search_text_uses_the_index(store, account) -> None:
    inbox = await store.get_mailbox(account.id, "INBOX")
    await store.append(account.id, inbox.id, MESSAGE)
    await store.append(account.id, inbox.id, b"Subject: other\r\n\r\nnothing here\r\n")
    assert await store.search_text(account.id, inbox.id, "harbour") == UidSet.of([1])
    assert await store.search_text(account.id, inbox.id, "cafe") == UidSet.of([1])
    assert await store.search_text(account.id, inbox.id, "nothing") == UidSet.of([2])


async def test_other_accounts_mailboxes_are_invisible(store, account) -> None:
    other = await store.add_account("eve@example.test", "h", None)
    inbox = await store.get_mailbox(account.id, "INBOX")
    await store.append(account.id, inbox.id, MESSAGE)
    with pytest.raises(NotFound):
        await store.get_messages(other.id, inbox.id)
    with pytest.raises(NotFound):
        await store.set_flags(other.id, inbox.id, UidSet.of([1]), FlagOp.ADD,
                              frozenset({"\\Seen"}))


async def test_outbound_queue_is_durable_and_shares_bodies(store, account) -> None:
    from postier.store.interface import OutboundEnvelope, OutboundRecipient, RecipientState

    envelope = OutboundEnvelope(
        "bob@example.test",
        (OutboundRecipient("x@remote.test", ("FAILURE", "DELAY"), "rfc822;x@remote.test"),
         OutboundRecipient("y@other.test")),
        account_id=account.id, envid="abc", ret="HDRS")
    queue_id = await store.enqueue(MESSAGE, envelope)
    [queued] = await store.list_queue()
    assert queued.id == queue_id and queued.envelope == envelope
    assert [r.state for r in queued.recipients] == [RecipientState.PENDING] * 2
    assert await store.read_queued(queued) == MESSAGE
    # The Sent copy and the queued copy share one body file, freed when both are gone.
    sent = await store.get_mailbox(account.id, "Sent")
    await store.append(account.id, sent.id, MESSAGE)
    assert len(await stored_bodies(store)) == 1
    await store.delete_queued(queue_id)
    assert await store.list_queue() == []
    assert len(await stored_bodies(store)) == 1
    with pytest.raises(NotFound):
        await store.delete_queued(queue_id)


async def test_large_bodies_are_files_and_small_ones_inline(store, account) -> None:
    inbox = await store.get_mailbox(account.id, "INBOX")
    small = MESSAGE
    large = MESSAGE + b"x" * 200_000 + b"\r\n"
    await store.append(account.id, inbox.id, small)
    await store.append(account.id, inbox.id, large)
    bodies = await stored_bodies(store)
    data_dir = getattr(store, "data_dir", None)
    if data_dir is not None:  # embedded: large bodies are files
        assert sorted(bodies.values()) == [False, True]
        assert body_files(data_dir) == [sha for sha, is_file in bodies.items() if is_file]
    else:  # PostgreSQL: every body is a row
        assert list(bodies.values()) == [False, False]
    records = await store.get_messages(account.id, inbox.id)
    assert [await store.read_message(account.id, r) for r in records] == [small, large]
    await store.set_flags(account.id, inbox.id, UidSet.of([1, 2]), FlagOp.ADD,
                          frozenset({"\\Deleted"}))
    await store.expunge(account.id, inbox.id)
    assert await stored_bodies(store) == {}
    if data_dir is not None:
        assert body_files(data_dir) == []


async def test_search_text_matches_word_prefixes_like_every_backend(store, account) -> None:
    inbox = await store.get_mailbox(account.id, "INBOX")
    await store.append(account.id, inbox.id, b"From: alice@example.test\r\nSubject: Caf\xc3\xa9"
                       b" foo-bar\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
                       b"snake_case words and R\xc3\xa9sum\xc3\xa9s\r\n")
    await store.append(account.id, inbox.id, b"Subject: unrelated\r\n\r\nbar foo\r\n")
    one, both, none = UidSet.of([1]), UidSet.of([1, 2]), UidSet()
    cases = {"caf": one, "CAFE": one, "alice@ex": one, "example.te": one, "foo-b": one,
             "bar-foo": UidSet.of([2]), "bar-fo": UidSet.of([2]), "case": one, "resume": one,
             "foo": both, "foo bar": both,
             "foo unrel": UidSet.of([2]), "!!": none, "caf !!": none, '"words"': one, "": both}
    for query, expected in cases.items():
        assert await store.search_text(account.id, inbox.id, query) == expected, query


async def test_recent_is_claimed_once(store, account) -> None:
    inbox = await store.get_mailbox(account.id, "INBOX")
    await store.append(account.id, inbox.id, MESSAGE)
    await store.append(account.id, inbox.id, MESSAGE)
    assert (await store.status(account.id, inbox.id)).recent == 2
    assert await store.claim_recent(account.id, inbox.id) == 1
    assert (await store.status(account.id, inbox.id)).recent == 0
    await store.append(account.id, inbox.id, MESSAGE)
    assert await store.claim_recent(account.id, inbox.id) == 3
    assert await store.claim_recent(account.id, inbox.id) == 4
    other = await store.add_account("zoe@example.test", "h", None)
    with pytest.raises(NotFound):
        await store.claim_recent(other.id, inbox.id)


async def test_read_messages_returns_bodies_in_order_and_none_for_gone_ones(store,
                                                                            account) -> None:
    inbox = await store.get_mailbox(account.id, "INBOX")
    large = MESSAGE + b"x" * 100 + b"\r\n" * 40_000  # over the inline limit: a file in SQLite
    await store.append(account.id, inbox.id, MESSAGE)
    await store.append(account.id, inbox.id, large)
    await store.append(account.id, inbox.id, MESSAGE + b"gone\r\n")
    [delivered] = await store.deliver(
        MESSAGE, [DeliveryTarget(account.id, header_prefix=b"Received: one\r\n")])
    first, second, third, fourth = await store.get_messages(account.id, inbox.id)
    assert delivered.record is not None and delivered.record.uid == fourth.uid
    await store.remove(account.id, inbox.id, UidSet.of([third.uid]))
    bodies = await store.read_messages(account.id, [fourth, second, third, first, first])
    assert bodies == [b"Received: one\r\n" + MESSAGE, large, None, MESSAGE, MESSAGE]
    assert bodies[1] == await store.read_message(account.id, second)
    assert await store.read_messages(account.id, []) == []
