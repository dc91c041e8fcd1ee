"""Messages in PostgreSQL: append, flags, copy, move, expunge (async helpers for the store).

The invariants are the embedded store's (``store/sqlite/messages.py``), kept across nodes by
locking the mailbox row first in every transaction that changes a mailbox's messages:
- a UID comes from the mailbox's ``uidnext``, which only grows: never reused, even after expunge;
- every change bumps the mailbox's ``highest_modseq`` once and stamps the changed rows with it;
- every removal is logged in ``expunged`` with its modseq and time, for QRESYNC's VANISHED;
  pruning that log raises the mailbox's ``vanished_floor`` to the highest modseq it forgot;
- ``accounts.used_bytes``/``message_count`` move with every insert and delete (quota);
- ``blobs.refcount`` counts message and queue rows per body; the row goes when it reaches zero.
Every transaction that locks several rows locks the mailboxes first, in id order, then the
accounts, in id order (copy, move, delivery to several accounts, expunge-history pruning), so
no two writers wait for each other in a cycle. New messages are stored by the ``postier_deliver``
SQL function in one round trip (``insert_messages``); the rest runs as Python-driven
transactions.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from postier.errors import InvalidArgument, MailError, NotFound, OverQuota
from postier.store.bodies import ParsedBody
from postier.store.changes import Change, FlagsChanged, MessageAdded, MessagesExpunged
from postier.store.interface import CopyResult, FlagResult, MessageState
from postier.store.postgres.database import Connection, Transaction
from postier.store.records import DELETED_BIT, decode_flags, encode_flags
from postier.types import (
    AccountId,
    BlobId,
    Flag,
    FlagOp,
    MailboxId,
    MessageId,
    MessageRecord,
    ModSeq,
    Uid,
    UidSet,
    UidValidity,
)

RECORD_COLUMNS = ("m.id, m.mailbox_id, m.uid, m.modseq, m.system_flags, m.keywords,"
                   " m.internal_date, m.internal_offset, m.size, b.sha256, m.header_prefix,"
                   " m.structure, m.summary")
_INLINE_RANGES = 16


@dataclass(frozen=True, slots=True)
class Body:
    """A parsed body on its way into the ``blobs`` table, with its search document."""

    blob: BlobId
    data: bytes
    parsed: ParsedBody
    document: str  # tsvector literal (search.document)

    @property
    def size(self) -> int:
        return len(self.data)




def date_columns(moment: datetime) -> tuple[datetime, int | None]:
    """A datetime as (instant, UTC offset in seconds): timestamptz alone forgets the zone."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC), None
    offset = moment.utcoffset()
    return moment, None if offset is None else int(offset.total_seconds())


def date_from_columns(instant: datetime, offset: int | None) -> datetime:
    if offset is None:
        return instant.astimezone(UTC).replace(tzinfo=None)
    zone = UTC if offset == 0 else timezone(timedelta(seconds=offset))
    return instant.astimezone(zone)


def row_to_record(row: Any) -> MessageRecord:
    return MessageRecord(
        id=MessageId(int(row[0])),
        mailbox_id=MailboxId(int(row[1])),
        uid=Uid(int(row[2])),
        modseq=ModSeq(int(row[3])),
        flags=decode_flags(int(row[4]), str(row[5])),
        internal_date=date_from_columns(row[6], row[7]),
        size=int(row[8]),
        blob_id=BlobId(str(row[9])),
        header_prefix=bytes(row[10]),
        structure_json=str(row[11]),
        summary_json=str(row[12]),
    )


def uid_clause(uids: UidSet | None, params: list[Any], column: str = "m.uid") -> str:
    """SQL restricting ``column`` to ``uids`` (appending to ``params``); "" for all."""
    if uids is None:
        return ""
    if not uids:
        return " AND false"
    if len(uids.ranges) <= _INLINE_RANGES:
        parts = []
        for r in uids.ranges:
            params += [r.first, r.last]
            parts.append(f"{column} BETWEEN ${len(params) - 1} AND ${len(params)}")
        return " AND (" + " OR ".join(parts) + ")"
    params += [[r.first for r in uids.ranges], [r.last for r in uids.ranges]]
    first, last = len(params) - 1, len(params)
    return (f" AND EXISTS (SELECT 1 FROM unnest(${first}::bigint[], ${last}::bigint[])"
            f" AS r(f, l) WHERE {column} BETWEEN r.f AND r.l)")


async def require_mailbox(conn: Connection, account: AccountId, mailbox: MailboxId,
                          lock: bool = False) -> tuple[int, int, int, int]:
    """(uidvalidity, uidnext, highest_modseq, vanished_floor); ``lock`` takes the row lock."""
    row = await conn.fetchrow("SELECT uidvalidity, uidnext, highest_modseq, vanished_floor"
                              " FROM mailboxes WHERE id = $1 AND account_id = $2"
                              + (" FOR UPDATE" if lock else ""), mailbox, account)
    if row is None:
        raise NotFound("the mailbox no longer exists")
    return int(row[0]), int(row[1]), int(row[2]), int(row[3])


async def lock_mailboxes(conn: Connection, account: AccountId,
                         mailboxes: Sequence[MailboxId]) -> dict[MailboxId, int]:
    """Lock the account's mailboxes in id order; their UIDVALIDITY by id. NotFound if one is
    missing."""
    wanted = sorted(set(mailboxes))
    rows = await conn.fetch("SELECT id, uidvalidity FROM mailboxes WHERE account_id = $1"
                            " AND id = ANY($2::bigint[]) ORDER BY id FOR UPDATE",
                            account, wanted)
    found = {MailboxId(int(r[0])): int(r[1]) for r in rows}
    if len(found) != len(wanted):
        raise NotFound("the mailbox no longer exists")
    return found


async def _next_modseq(conn: Connection, mailbox: MailboxId) -> ModSeq:
    value = await conn.fetchval("UPDATE mailboxes SET highest_modseq = highest_modseq + 1"
                                " WHERE id = $1 RETURNING highest_modseq", mailbox)
    return ModSeq(int(value))


async def _take_uids(conn: Connection, mailbox: MailboxId,
                     count: int) -> tuple[Uid, ModSeq]:
    """Allocate ``count`` UIDs and one modseq in one statement: (first UID, modseq)."""
    row = await conn.fetchrow(
        "UPDATE mailboxes SET uidnext = uidnext + $2, highest_modseq = highest_modseq + 1"
        " WHERE id = $1 RETURNING uidnext - $2, highest_modseq", mailbox, count)
    assert row is not None  # the caller holds the mailbox's row lock
    return Uid(int(row[0])), ModSeq(int(row[1]))


async def charge_quota(conn: Connection, account: AccountId, size: int,
                       count: int) -> None:
    row = await conn.fetchrow(
        "UPDATE accounts SET used_bytes = used_bytes + $2, message_count = message_count + $3"
        " WHERE id = $1 RETURNING quota_bytes, used_bytes", account, size, count)
    if row is None:
        raise NotFound("the account no longer exists")
    quota, used = row
    if quota is not None and used > quota:
        # The transaction (or the delivery target's savepoint) is rolled back by the raise.
        raise OverQuota("mailbox is full: the account is over its storage quota")


async def ref_body(conn: Connection, body: Body) -> int:
    row_id = await conn.fetchval("UPDATE blobs SET refcount = refcount + 1 WHERE sha256 = $1"
                                 " RETURNING id", body.blob)
    if row_id is not None:
        return int(row_id)
    row = await conn.fetchrow(
        "INSERT INTO blobs (sha256, size, refcount, data) VALUES ($1, $2, 1, $3)"
        " ON CONFLICT (sha256) DO UPDATE SET refcount = blobs.refcount + 1"
        " RETURNING id, xmax = 0", body.blob, body.size, body.data)
    assert row is not None
    if row[1]:  # inserted (not a concurrent twin): index its text
        await conn.execute("INSERT INTO blob_text (blob_id, document) VALUES ($1, $2::tsvector)",
                           row[0], body.document)
    return int(row[0])


async def unref_bodies(conn: Connection, blob_ids: Iterable[int]) -> None:
    ids = sorted(blob_ids)
    if not ids:
        return
    rows = await conn.fetch(
        "UPDATE blobs b SET refcount = b.refcount - c.n FROM (SELECT id, count(*) AS n"
        " FROM unnest($1::bigint[]) AS id GROUP BY id) AS c WHERE b.id = c.id"
        " RETURNING b.id, b.refcount", ids)
    gone = [int(r[0]) for r in rows if r[1] <= 0]
    if gone:
        await conn.execute("DELETE FROM blobs WHERE id = ANY($1::bigint[])", gone)


@dataclass(frozen=True, slots=True)
class NewMessage:
    """One copy of a body to store: where, with which trace prefix, structure and flags."""

    account: AccountId
    mailbox: MailboxId | None  # None: look ``name`` up (INBOX when it does not exist)
    name: str
    prefix: bytes
    structure_json: str
    flags: frozenset[Flag]


async def insert_messages(conn: Connection, body: Body, targets: Sequence[NewMessage],
                          internal_date: datetime, node: str, channel: str
                          ) -> tuple[list[tuple[UidValidity, MessageRecord] | MailError],
                                     list[Change]]:
    """Store ``body`` once for every target in one statement (``postier_deliver``, migrations
    2 and 4): one round trip, each target in its own subtransaction, announced by the function,
    which locks the target mailboxes in id order and then their accounts in id order.
    Returns each target's (UIDVALIDITY, record) or error, in target order, and the changes made
    (in the order they were made)."""
    results: list[tuple[UidValidity, MessageRecord] | MailError | None] = []
    sent: list[tuple[int, NewMessage, int, str]] = []
    for index, target in enumerate(targets):
        try:
            bits, keywords = encode_flags(target.flags)
        except InvalidArgument as exc:
            results.append(exc)
            continue
        results.append(None)
        sent.append((index, target, bits, keywords))
    changes: list[Change] = []
    if not sent:
        return [r for r in results if r is not None], changes
    instant, offset = date_columns(internal_date)
    stored_flags = [decode_flags(bits, keywords) for _, _, bits, keywords in sent]
    rows = await conn.fetch(
        "SELECT idx, message_id, mailbox_id, uid, modseq, uidvalidity, error FROM"
        " postier_deliver($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15,"
        " $16, $17)",
        [t.account for _, t, _, _ in sent], [t.mailbox for _, t, _, _ in sent],
        [t.name for _, t, _, _ in sent], [t.prefix for _, t, _, _ in sent],
        [t.structure_json for _, t, _, _ in sent], [b for _, _, b, _ in sent],
        [k for _, _, _, k in sent], [json.dumps(sorted(f)) for f in stored_flags],
        body.blob, body.size, body.data, body.document, body.parsed.summary_json, instant,
        offset, node, channel)
    # Rows come in the order the function stored them (mailbox id order since migration 4);
    # ``idx`` (1-based) says which target each one is.
    for row in rows:
        index, target, _, _ = sent[row["idx"] - 1]
        flags = stored_flags[row["idx"] - 1]
        if row["error"] is not None:
            code, _, text = str(row["error"]).partition(" ")
            results[index] = OverQuota(text) if code == "PT507" else NotFound(text)
            continue
        mailbox, uid, modseq = MailboxId(row["mailbox_id"]), Uid(row["uid"]), ModSeq(row["modseq"])
        record = MessageRecord(
            MessageId(int(row["message_id"])), mailbox, uid, modseq, flags, internal_date,
            len(target.prefix) + body.size, body.blob, target.prefix, target.structure_json,
            body.parsed.summary_json)
        results[index] = (UidValidity(int(row["uidvalidity"])), record)
        changes.append(MessageAdded(target.account, mailbox, uid, modseq, flags))
    return [r for r in results if r is not None], changes


async def set_flags(tx: Transaction, account: AccountId, mailbox: MailboxId, uids: UidSet,
                    op: FlagOp, flags: frozenset[Flag],
                    unchanged_since: ModSeq | None) -> FlagResult:
    await require_mailbox(tx.conn, account, mailbox, lock=True)
    bits, keywords = encode_flags(flags)
    keyword_set = set(keywords.split(" ")) if keywords else set()
    params: list[Any] = [mailbox]
    clause = uid_clause(uids, params)
    rows = await tx.conn.fetch("SELECT m.id, m.uid, m.modseq, m.system_flags, m.keywords"
                               f" FROM messages m WHERE m.mailbox_id = $1{clause}"
                               " ORDER BY m.uid", *params)
    modseq: ModSeq | None = None
    changed: list[MessageState] = []
    conflicts: list[int] = []
    updates: list[tuple[int, int, str]] = []
    for row_id, uid, old_modseq, old_bits, old_keywords in rows:
        if unchanged_since is not None and old_modseq > unchanged_since:
            conflicts.append(uid)
            continue
        old_set = set(old_keywords.split(" ")) if old_keywords else set()
        if op is FlagOp.ADD:
            new_bits, new_set = old_bits | bits, old_set | keyword_set
        elif op is FlagOp.REMOVE:
            new_bits, new_set = old_bits & ~bits, old_set - keyword_set
        else:
            new_bits, new_set = bits, keyword_set
        if new_bits == old_bits and new_set == old_set:
            continue
        if modseq is None:
            modseq = await _next_modseq(tx.conn, mailbox)
        new_keywords = " ".join(sorted(new_set))
        updates.append((int(row_id), new_bits, new_keywords))
        state = MessageState(Uid(uid), modseq, decode_flags(new_bits, new_keywords))
        changed.append(state)
        tx.changes.append(FlagsChanged(account, mailbox, state.uid, state.modseq, state.flags))
    if updates:
        await tx.conn.execute(
            "UPDATE messages m SET system_flags = u.bits, keywords = u.keywords, modseq = $4"
            " FROM unnest($1::bigint[], $2::integer[], $3::text[]) AS u(id, bits, keywords)"
            " WHERE m.id = u.id", [u[0] for u in updates], [u[1] for u in updates],
            [u[2] for u in updates], modseq)
    return FlagResult(tuple(changed), UidSet.of(conflicts))


async def copy_messages(tx: Transaction, account: AccountId, source: MailboxId, uids: UidSet,
                        destination: MailboxId) -> CopyResult:
    validity = await lock_mailboxes(tx.conn, account, [source, destination])
    params: list[Any] = [source]
    clause = uid_clause(uids, params)
    rows = await tx.conn.fetch(
        "SELECT m.id, m.uid, m.size, m.blob_id, m.system_flags, m.keywords FROM messages m"
        f" WHERE m.mailbox_id = $1{clause} ORDER BY m.uid", *params)
    uidvalidity = UidValidity(validity[destination])
    if not rows:
        return CopyResult(uidvalidity, (), ())
    await charge_quota(tx.conn, account, sum(int(r[2]) for r in rows), len(rows))
    first, modseq = await _take_uids(tx.conn, destination, len(rows))
    new_uids = [Uid(first + i) for i in range(len(rows))]
    await tx.conn.execute(
        "UPDATE blobs b SET refcount = b.refcount + c.n FROM (SELECT id, count(*) AS n"
        " FROM unnest($1::bigint[]) AS id GROUP BY id) AS c WHERE b.id = c.id",
        sorted(int(r[3]) for r in rows))
    await tx.conn.execute(
        "INSERT INTO messages (mailbox_id, uid, modseq, system_flags, keywords, internal_date,"
        " internal_offset, size, blob_id, header_prefix, structure, summary)"
        " SELECT $1, u.uid, $2, m.system_flags, m.keywords, m.internal_date, m.internal_offset,"
        " m.size, m.blob_id, m.header_prefix, m.structure, m.summary"
        " FROM unnest($3::bigint[], $4::bigint[]) WITH ORDINALITY AS u(id, uid, n)"
        " JOIN messages m ON m.id = u.id ORDER BY u.n",
        destination, modseq, [int(r[0]) for r in rows], new_uids)
    for row, uid in zip(rows, new_uids, strict=True):
        tx.changes.append(MessageAdded(account, destination, uid, modseq,
                                       decode_flags(int(row[4]), str(row[5]))))
    return CopyResult(uidvalidity, tuple(Uid(int(r[1])) for r in rows), tuple(new_uids))


async def move_messages(tx: Transaction, account: AccountId, source: MailboxId, uids: UidSet,
                        destination: MailboxId) -> CopyResult:
    return await relocate(tx, account, source, destination, uids)


async def relocate(tx: Transaction, account: AccountId, source: MailboxId,
                   destination: MailboxId, uids: UidSet | None) -> CopyResult:
    """Move rows to another mailbox in place: new UIDs there, expunges here, same bodies."""
    validity = await lock_mailboxes(tx.conn, account, [source, destination])
    uidvalidity = UidValidity(validity[destination])
    if source == destination:
        raise InvalidArgument("source and destination mailbox are the same")
    params: list[Any] = [source]
    clause = uid_clause(uids, params)
    rows = await tx.conn.fetch("SELECT m.id, m.uid, m.system_flags, m.keywords FROM messages m"
                               f" WHERE m.mailbox_id = $1{clause} ORDER BY m.uid", *params)
    if not rows:
        return CopyResult(uidvalidity, (), ())
    source_modseq = await _next_modseq(tx.conn, source)
    first, modseq = await _take_uids(tx.conn, destination, len(rows))
    old_uids = [Uid(int(r[1])) for r in rows]
    new_uids = [Uid(first + i) for i in range(len(rows))]
    await tx.conn.execute(
        "UPDATE messages m SET mailbox_id = $1, uid = u.uid, modseq = $2"
        " FROM unnest($3::bigint[], $4::bigint[]) AS u(id, uid) WHERE m.id = u.id",
        destination, modseq, [int(r[0]) for r in rows], new_uids)
    for row, uid in zip(rows, new_uids, strict=True):
        tx.changes.append(MessageAdded(account, destination, uid, modseq,
                                       decode_flags(int(row[2]), str(row[3]))))
    await _log_expunged(tx, account, source, old_uids, source_modseq)
    return CopyResult(uidvalidity, tuple(old_uids), tuple(new_uids))


async def remove_messages(tx: Transaction, account: AccountId, mailbox: MailboxId,
                          uids: UidSet | None, only_deleted: bool) -> list[Uid]:
    await require_mailbox(tx.conn, account, mailbox, lock=True)
    params: list[Any] = [mailbox]
    clause = uid_clause(uids, params, column="uid")
    if only_deleted:
        clause += f" AND system_flags & {DELETED_BIT} <> 0"
    rows = await tx.conn.fetch(f"DELETE FROM messages WHERE mailbox_id = $1{clause}"
                               " RETURNING uid, size, blob_id", *params)
    if not rows:
        return []
    removed = sorted(Uid(int(r[0])) for r in rows)
    await tx.conn.execute("UPDATE accounts SET used_bytes = used_bytes - $1,"
                          " message_count = message_count - $2 WHERE id = $3",
                          sum(int(r[1]) for r in rows), len(rows), account)
    await unref_bodies(tx.conn, (int(r[2]) for r in rows))
    await _log_expunged(tx, account, mailbox, removed, await _next_modseq(tx.conn, mailbox))
    return removed


async def _log_expunged(tx: Transaction, account: AccountId, mailbox: MailboxId,
                        uids: list[Uid], modseq: ModSeq) -> None:
    await tx.conn.execute(
        "INSERT INTO expunged (mailbox_id, uid, modseq, expunged_at) SELECT $1, uid, $3, now()"
        " FROM unnest($2::bigint[]) AS uid ON CONFLICT (mailbox_id, uid)"
        " DO UPDATE SET modseq = excluded.modseq, expunged_at = excluded.expunged_at",
        mailbox, uids, modseq)
    tx.changes.append(MessagesExpunged(account, mailbox, tuple(sorted(uids)), modseq))


async def prune_expunged(tx: Transaction, before: datetime, limit: int) -> int:
    """Forget at most ``limit`` expunges logged before ``before``, oldest first; return how many.

    Like every change to a mailbox's messages, it locks the mailbox rows first (in id order),
    then deletes and raises each ``vanished_floor`` to the highest modseq forgotten there:
    ``vanished_since(m)`` answers None for m below it, and stays exact for m at or above it.
    Two nodes pruning at once queue on those locks; the second deletes what is left, if
    anything, and ``greatest`` never lowers a floor."""
    candidates = [int(r[0]) for r in await tx.conn.fetch(
        "SELECT DISTINCT mailbox_id FROM (SELECT mailbox_id FROM expunged WHERE expunged_at < $1"
        " ORDER BY expunged_at LIMIT $2) AS old", before, limit)]
    if not candidates:
        return 0
    locked = [int(r[0]) for r in await tx.conn.fetch(
        "SELECT id FROM mailboxes WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE",
        candidates)]
    rows = await tx.conn.fetch(
        "DELETE FROM expunged e USING (SELECT mailbox_id, uid FROM expunged"
        " WHERE mailbox_id = ANY($1::bigint[]) AND expunged_at < $2 ORDER BY expunged_at"
        " LIMIT $3) AS old WHERE e.mailbox_id = old.mailbox_id AND e.uid = old.uid"
        " RETURNING e.mailbox_id, e.modseq", locked, before, limit)
    floors: dict[int, int] = {}
    for mailbox, modseq in rows:
        floors[int(mailbox)] = max(floors.get(int(mailbox), 0), int(modseq))
    if floors:
        await tx.conn.execute(
            "UPDATE mailboxes m SET vanished_floor = greatest(m.vanished_floor, f.floor)"
            " FROM unnest($1::bigint[], $2::bigint[]) AS f(id, floor) WHERE m.id = f.id",
            list(floors), list(floors.values()))
    return len(rows)
