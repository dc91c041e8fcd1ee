"""Reading messages in PostgreSQL: states, records, bodies, VANISHED and full-text search.

Each read is one statement where it can be (one snapshot, one round trip): the mailbox's
ownership check rides along, and only an empty answer costs a second look, to tell an empty
mailbox from a missing one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from postier.errors import NotFound
from postier.store.interface import MessageState
from postier.store.postgres import search
from postier.store.postgres.database import Connection
from postier.store.postgres.messages import (
    RECORD_COLUMNS,
    date_from_columns,
    require_mailbox,
    row_to_record,
    uid_clause,
)
from postier.store.records import decode_flags
from postier.types import (
    AccountId,
    BlobId,
    ListedMessage,
    MailboxId,
    MessageRecord,
    ModSeq,
    Uid,
    UidSet,
)

_OWNED = "EXISTS (SELECT 1 FROM mailboxes o WHERE o.id = $1 AND o.account_id = $2)"


async def message_states(conn: Connection, account: AccountId, mailbox: MailboxId,
                         changed_since: ModSeq | None) -> list[MessageState]:
    query = ("SELECT uid, modseq, system_flags, keywords FROM messages WHERE mailbox_id = $1"
             f" AND {_OWNED}")
    params: list[int] = [mailbox, account]
    if changed_since is not None:
        query += " AND modseq > $3"
        params.append(changed_since)
    rows = await conn.fetch(query + " ORDER BY uid", *params)
    if not rows:
        await require_mailbox(conn, account, mailbox)
    return [MessageState(Uid(int(u)), ModSeq(int(m)), decode_flags(b, k)) for u, m, b, k in rows]


async def get_messages(conn: Connection, account: AccountId, mailbox: MailboxId,
                       uids: UidSet | None) -> list[MessageRecord]:
    params: list[Any] = [mailbox, account]
    clause = uid_clause(uids, params)
    rows = await conn.fetch(
        f"SELECT {RECORD_COLUMNS} FROM messages m JOIN blobs b ON b.id = m.blob_id"
        f" WHERE m.mailbox_id = $1 AND {_OWNED}{clause} ORDER BY m.uid", *params)
    if not rows:
        await require_mailbox(conn, account, mailbox)
    return [row_to_record(r) for r in rows]


async def list_messages(conn: Connection, account: AccountId, mailbox: MailboxId,
                        uids: UidSet | None, structure: bool) -> list[ListedMessage]:
    params: list[Any] = [mailbox, account]
    clause = uid_clause(uids, params)
    tree = "m.structure" if structure else "''"
    rows = await conn.fetch(
        "SELECT m.uid, m.modseq, m.system_flags, m.keywords, m.internal_date,"
        f" m.internal_offset, m.size, m.summary, {tree} FROM messages m"
        f" WHERE m.mailbox_id = $1 AND {_OWNED}{clause} ORDER BY m.uid", *params)
    if not rows:
        await require_mailbox(conn, account, mailbox)
    return [(Uid(int(uid)), ModSeq(int(modseq)), decode_flags(bits, keywords),
             date_from_columns(instant, offset), int(size), str(summary), str(tree_json))
            for uid, modseq, bits, keywords, instant, offset, size, summary, tree_json in rows]


async def read_body(conn: Connection, blob: BlobId) -> bytes:
    data = await conn.fetchval("SELECT data FROM blobs WHERE sha256 = $1", blob)
    if data is None:
        raise NotFound("the message no longer exists")
    return bytes(data)


async def read_bodies(conn: Connection, blob_ids: Sequence[BlobId]) -> dict[BlobId, bytes]:
    """The bodies of ``blob_ids`` that still exist, in one statement."""
    rows = await conn.fetch("SELECT sha256, data FROM blobs WHERE sha256 = ANY($1::text[])",
                            list(dict.fromkeys(blob_ids)))
    return {BlobId(sha256): bytes(data) for sha256, data in rows if data is not None}


async def vanished_since(conn: Connection, account: AccountId, mailbox: MailboxId,
                         modseq: ModSeq) -> UidSet | None:
    floor = (await require_mailbox(conn, account, mailbox))[3]
    if modseq < floor:
        return None
    return UidSet.of(int(r[0]) for r in await conn.fetch(
        "SELECT uid FROM expunged WHERE mailbox_id = $1 AND modseq > $2", mailbox, modseq))


async def search_text(conn: Connection, account: AccountId, mailbox: MailboxId,
                      text: str) -> UidSet:
    await require_mailbox(conn, account, mailbox)
    tsquery = search.query(text)
    if tsquery is None:
        return UidSet()
    if not tsquery:
        return UidSet.of(int(r[0]) for r in await conn.fetch(
            "SELECT uid FROM messages WHERE mailbox_id = $1", mailbox))
    return UidSet.of(int(r[0]) for r in await conn.fetch(
        "SELECT m.uid FROM messages m JOIN blob_text t ON t.blob_id = m.blob_id"
        " WHERE m.mailbox_id = $1 AND t.document @@ $2::tsquery", mailbox, tsquery))
