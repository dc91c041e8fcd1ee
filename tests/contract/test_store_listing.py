"""``list_messages``: the narrow rows a listing reads are the records' own values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from postier.errors import NotFound
from postier.types import FlagOp, UidRange, UidSet

MESSAGE = (b"From: Alice <alice@example.test>\r\nTo: bob@example.test\r\n"
           b"Subject: listing\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
           b"--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b--\r\n")


@pytest.fixture
async def account(store):
    await store.add_domain("example.test")
    return await store.add_account("bob@example.test", "h", None)


def projection(record, structure: bool):
    return (record.uid, record.modseq, record.flags, record.internal_date, record.size,
            record.summary_json, record.structure_json if structure else "")


async def test_rows_are_the_records_columns(store, account) -> None:
    inbox = await store.get_mailbox(account.id, "INBOX")
    zones = [UTC, timezone(timedelta(hours=-8)), timezone(timedelta(minutes=330))]
    for n in range(6):
        date = datetime(2024, 2, 29, 23, 5, n, tzinfo=zones[n % 3])
        await store.append(account.id, inbox.id, MESSAGE + b"x" * n,
                           frozenset({"\\Seen", "$Work"} if n % 2 else {"\\Flagged"}), date)
    await store.set_flags(account.id, inbox.id, UidSet.of([2, 3]), FlagOp.ADD,
                          frozenset({"\\Deleted"}))
    await store.expunge(account.id, inbox.id, UidSet.of([3]))
    records = await store.get_messages(account.id, inbox.id)
    for structure in (False, True):
        rows = await store.list_messages(account.id, inbox.id, structure=structure)
        assert rows == [projection(r, structure) for r in records]
        assert [row[3].utcoffset() for row in rows] == [r.internal_date.utcoffset()
                                                         for r in records]
    wanted = UidSet((UidRange(1, 2), UidRange(4, 4), UidRange(6, 9)))
    rows = await store.list_messages(account.id, inbox.id, wanted)
    assert [row[0] for row in rows] == [1, 2, 4, 6]
    assert rows[1] == projection(records[1], False)
    assert rows[1][2] == {"\\Seen", "$Work", "\\Deleted"}
    assert await store.list_messages(account.id, inbox.id, UidSet.of([3])) == []
    assert await store.list_messages(account.id, inbox.id, UidSet()) == []
    assert '"imap_envelope"' in rows[0][5] and rows[0][6] == ""
    assert (await store.list_messages(account.id, inbox.id, structure=True))[0][6] != ""


async def test_empty_missing_and_foreign_mailboxes(store, account) -> None:
    empty = await store.create_mailbox(account.id, "Empty")
    assert await store.list_messages(account.id, empty.id) == []
    other = await store.add_account("eve@example.test", "h", None)
    with pytest.raises(NotFound):
        await store.list_messages(other.id, empty.id)
    await store.delete_mailbox(account.id, "Empty")
    with pytest.raises(NotFound):
        await store.list_messages(account.id, empty.id)
