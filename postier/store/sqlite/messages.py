"""Messages in SQLite: append, flags, copy, move, expunge (blocking helpers for the store threads).

Invariants kept here, inside one transaction each:
- a UID comes from the mailbox's ``uidnext``, which only grows: never reused, even after expunge;
- every change bumps the mailbox's ``highest_modseq`` once and stamps the changed rows with it;
- every removal is logged in ``expunged`` with its modseq and time, for QRESYNC's VANISHED;
  pruning that log raises the mailbox's ``vanished_floor`` to the highest modseq it forgot;
- ``accounts.used_bytes``/``message_count`` move with every insert and delete (quota);
- ``blobs.refcount`` counts message rows per body; a body's file goes when it reaches zero.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from postier.errors import InvalidArgument, NotFound, OverQuota, TryLater
from postier.store.blobs_fs import FileBlobStore
from postier.store.bodies import StoredBody
from postier.store.changes import FlagsChanged, MessageAdded, MessagesExpunged
from postier.store.interface import CopyResult, FlagResult, MessageState
from postier.store.records import DELETED_BIT, decode_flags, encode_flags
from postier.store.sqlite.database import Transaction, stamp
from postier.types import (
    AccountId,
    BlobId,
    Flag,
    FlagOp,
    ListedMessage,
    MailboxId,
    MessageId,
    MessageRecord,
    ModSeq,
    Uid,
    UidSet,
    UidValidity,
)

_RECORD_COLUMNS = ("m.id, m.mailbox_id, m.uid, m.modseq, m.system_flags, m.keywords,"
                   " m.internal_date, m.size, b.sha256, m.header_prefix, m.structure, m.summary")
_IN_LIMIT = 500  # ids per "IN (...)": well under SQLite's bound-parameter limit


def row_to_record(row: Any) -> MessageRecord:
    return MessageRecord(
        id=MessageId(int(row[0])),
        mailbox_id=MailboxId(int(row[1])),
        uid=Uid(int(row[2])),
        modseq=ModSeq(int(row[3])),
        flags=decode_flags(int(row[4]), str(row[5])),
        internal_date=datetime.fromisoformat(str(row[6])),
        size=int(row[7]),
        blob_id=BlobId(str(row[8])),
        header_prefix=bytes(row[9]),
        structure_json=str(row[10]),
        summary_json=str(row[11]),
    )


def _uid_clause(uids: UidSet | None, column: str = "m.uid") -> tuple[str, list[int]]:
    if uids is None:
        return "", []
    if not uids:
        return " AND 0", []
    parts = []
    params: list[int] = []
    for r in uids.ranges:
        parts.append(f"{column} BETWEEN ? AND ?")
        params += [r.first, r.last]
    return " AND (" + " OR ".join(parts) + ")", params


def require_mailbox(conn: sqlite3.Connection, account: AccountId,
                    mailbox: MailboxId) -> tuple[int, int, int, int]:
    """Return (uidvalidity, uidnext, highest_modseq, vanished_floor) of the account's mailbox."""
    row = conn.execute("SELECT uidvalidity, uidnext, highest_modseq, vanished_floor"
                       " FROM mailboxes WHERE id = ? AND account_id = ?",
                       (mailbox, account)).fetchone()
    if row is None:
        raise NotFound("the mailbox no longer exists")
    return int(row[0]), int(row[1]), int(row[2]), int(row[3])


class _Stamp:
    """Allocates one new modseq per mailbox per transaction (RFC 7162 §3.1 allows sharing)."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx
        self._modseq: dict[MailboxId, ModSeq] = {}

    def modseq(self, mailbox: MailboxId) -> ModSeq:
        value = self._modseq.get(mailbox)
        if value is None:
            row = self._tx.conn.execute(
                "UPDATE mailboxes SET highest_modseq = highest_modseq + 1 WHERE id = ?"
                " RETURNING highest_modseq", (mailbox,)).fetchone()
            value = self._modseq[mailbox] = ModSeq(int(row[0]))
        return value


def _charge_quota(tx: Transaction, account: AccountId, size: int, count: int) -> None:
    row = tx.conn.execute("SELECT quota_bytes, used_bytes FROM accounts WHERE id = ?",
                          (account,)).fetchone()
    if row is None:
        raise NotFound("the account no longer exists")
    quota, used = row
    if quota is not None and used + size > quota:
        raise OverQuota("mailbox is full: the account is over its storage quota")
    tx.conn.execute("UPDATE accounts SET used_bytes = used_bytes + ?,"
                    " message_count = message_count + ? WHERE id = ?", (size, count, account))


def ref_body(tx: Transaction, blobs: FileBlobStore, body: StoredBody) -> int:
    row = tx.conn.execute("UPDATE blobs SET refcount = refcount + 1 WHERE sha256 = ?"
                          " RETURNING id", (body.blob,)).fetchone()
    if row is not None:
        return int(row[0])
    # A new file-backed row promises the file exists. The file may have been unlinked by an
    # earlier job that dropped the last reference after this body was written: then the caller
    # writes it again. Inline bodies travel in this very transaction and cannot vanish.
    if body.inline is None and not blobs.exists(body.blob):
        raise TryLater("message body vanished before commit; retrying")
    rowid = int(tx.conn.execute("INSERT INTO blobs (sha256, size, refcount, data)"
                                " VALUES (?, ?, 1, ?) RETURNING id",
                                (body.blob, body.size, body.inline)).fetchone()[0])
    tx.conn.execute("INSERT INTO blob_text (rowid, subject, addresses, body) VALUES (?, ?, ?, ?)",
                    (rowid, body.parsed.search_subject, body.parsed.search_addresses,
                     body.parsed.search_body))
    return rowid


def unref_bodies(tx: Transaction, blobs: FileBlobStore, rowids: Iterable[int]) -> None:
    for rowid in rowids:
        row = tx.conn.execute("UPDATE blobs SET refcount = refcount - 1 WHERE id = ?"
                              " RETURNING refcount, sha256, data IS NULL", (rowid,)).fetchone()
        if row is not None and row[0] <= 0:
            tx.conn.execute("DELETE FROM blobs WHERE id = ?", (rowid,))
            tx.conn.execute("DELETE FROM blob_text WHERE rowid = ?", (rowid,))
            if row[2]:
                blob = BlobId(row[1])
                tx.after_commit.append(lambda blob=blob: blobs.delete(blob))  # type: ignore[misc]


def insert_message(tx: Transaction, blobs: FileBlobStore, account: AccountId,
                   mailbox: MailboxId, body: StoredBody, structure_json: str, prefix: bytes,
                   flags: frozenset[Flag], internal_date: datetime,
                   stamp: _Stamp | None = None) -> MessageRecord:
    require_mailbox(tx.conn, account, mailbox)
    size = len(prefix) + body.size
    _charge_quota(tx, account, size, 1)
    bits, keywords = encode_flags(flags)
    blob_rowid = ref_body(tx, blobs, body)
    modseq = (stamp or _Stamp(tx)).modseq(mailbox)
    uid = Uid(int(tx.conn.execute("UPDATE mailboxes SET uidnext = uidnext + 1 WHERE id = ?"
                                  " RETURNING uidnext - 1", (mailbox,)).fetchone()[0]))
    cursor = tx.conn.execute(
        "INSERT INTO messages (mailbox_id, uid, modseq, system_flags, keywords, internal_date,"
        " size, blob_rowid, header_prefix, structure, summary)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (mailbox, uid, modseq, bits, keywords, internal_date.isoformat(), size, blob_rowid,
         prefix, structure_json, body.parsed.summary_json))
    stored = decode_flags(bits, keywords)
    tx.changes.append(MessageAdded(account, mailbox, uid, modseq, stored))
    return MessageRecord(MessageId(int(cursor.lastrowid or 0)), mailbox, uid, modseq, stored,
                         internal_date, size, body.blob, prefix, structure_json,
                         body.parsed.summary_json)


def set_flags(tx: Transaction, account: AccountId, mailbox: MailboxId, uids: UidSet,
              op: FlagOp, flags: frozenset[Flag], unchanged_since: ModSeq | None) -> FlagResult:
    require_mailbox(tx.conn, account, mailbox)
    bits, keywords = encode_flags(flags)
    keyword_set = set(keywords.split(" ")) if keywords else set()
    clause, params = _uid_clause(uids)
    rows = tx.conn.execute("SELECT m.id, m.uid, m.modseq, m.system_flags, m.keywords"
                           f" FROM messages m WHERE m.mailbox_id = ?{clause} ORDER BY m.uid",
                           [mailbox, *params]).fetchall()
    stamp = _Stamp(tx)
    changed: list[MessageState] = []
    conflicts: list[int] = []
    for row_id, uid, modseq, old_bits, old_keywords in rows:
        if unchanged_since is not None and modseq > unchanged_since:
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
        new_modseq = stamp.modseq(mailbox)
        new_keywords = " ".join(sorted(new_set))
        tx.conn.execute("UPDATE messages SET system_flags = ?, keywords = ?, modseq = ?"
                        " WHERE id = ?", (new_bits, new_keywords, new_modseq, row_id))
        state = MessageState(Uid(uid), new_modseq, decode_flags(new_bits, new_keywords))
        changed.append(state)
        tx.changes.append(FlagsChanged(account, mailbox, state.uid, state.modseq, state.flags))
    return FlagResult(tuple(changed), UidSet.of(conflicts))


def copy_messages(tx: Transaction, account: AccountId, source: MailboxId, uids: UidSet,
                  destination: MailboxId) -> CopyResult:
    require_mailbox(tx.conn, account, source)
    uidvalidity = require_mailbox(tx.conn, account, destination)[0]
    clause, params = _uid_clause(uids)
    rows = tx.conn.execute(
        "SELECT m.uid, m.system_flags, m.keywords, m.internal_date, m.size, m.blob_rowid,"
        f" m.header_prefix, m.structure, m.summary FROM messages m WHERE m.mailbox_id = ?{clause}"
        " ORDER BY m.uid", [source, *params]).fetchall()
    if not rows:
        return CopyResult(UidValidity(uidvalidity), (), ())
    _charge_quota(tx, account, sum(r[4] for r in rows), len(rows))
    stamp = _Stamp(tx)
    modseq = stamp.modseq(destination)
    first = int(tx.conn.execute("UPDATE mailboxes SET uidnext = uidnext + ? WHERE id = ?"
                                " RETURNING uidnext - ?",
                                (len(rows), destination, len(rows))).fetchone()[0])
    new_uids: list[Uid] = []
    for offset, (_uid, bits, keywords, date, size, blob_rowid, prefix, structure,
                 summary) in enumerate(rows):
        uid = Uid(first + offset)
        tx.conn.execute("UPDATE blobs SET refcount = refcount + 1 WHERE id = ?", (blob_rowid,))
        tx.conn.execute(
            "INSERT INTO messages (mailbox_id, uid, modseq, system_flags, keywords,"
            " internal_date, size, blob_rowid, header_prefix, structure, summary)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (destination, uid, modseq, bits, keywords, date, size, blob_rowid, prefix,
             structure, summary))
        new_uids.append(uid)
        tx.changes.append(MessageAdded(account, destination, uid, modseq,
                                       decode_flags(bits, keywords)))
    return CopyResult(UidValidity(uidvalidity), tuple(Uid(r[0]) for r in rows), tuple(new_uids))


def move_messages(tx: Transaction, account: AccountId, source: MailboxId, uids: UidSet,
                  destination: MailboxId) -> CopyResult:
    require_mailbox(tx.conn, account, source)
    clause, params = _uid_clause(uids)
    row_ids = [int(r[0]) for r in tx.conn.execute(
        f"SELECT m.id FROM messages m WHERE m.mailbox_id = ?{clause} ORDER BY m.uid",
        [source, *params])]
    return relocate(tx, account, source, destination, row_ids)


def relocate(tx: Transaction, account: AccountId, source: MailboxId, destination: MailboxId,
             row_ids: list[int]) -> CopyResult:
    """Move rows to another mailbox in place: new UIDs there, expunges here, same bodies."""
    uidvalidity = require_mailbox(tx.conn, account, destination)[0]
    if source == destination:
        raise InvalidArgument("source and destination mailbox are the same")
    if not row_ids:
        return CopyResult(UidValidity(uidvalidity), (), ())
    stamp = _Stamp(tx)
    source_modseq = stamp.modseq(source)
    modseq = stamp.modseq(destination)
    first = int(tx.conn.execute("UPDATE mailboxes SET uidnext = uidnext + ? WHERE id = ?"
                                " RETURNING uidnext - ?",
                                (len(row_ids), destination, len(row_ids))).fetchone()[0])
    old_uids: list[Uid] = []
    new_uids: list[Uid] = []
    for offset, row_id in enumerate(row_ids):
        uid = Uid(first + offset)
        old_uid, bits, keywords = tx.conn.execute(
            "SELECT uid, system_flags, keywords FROM messages WHERE id = ?", (row_id,)).fetchone()
        tx.conn.execute("UPDATE messages SET mailbox_id = ?, uid = ?, modseq = ? WHERE id = ?",
                        (destination, uid, modseq, row_id))
        old_uids.append(Uid(old_uid))
        new_uids.append(uid)
        tx.changes.append(MessageAdded(account, destination, uid, modseq,
                                       decode_flags(bits, keywords)))
    _log_expunged(tx, account, source, old_uids, source_modseq)
    return CopyResult(UidValidity(uidvalidity), tuple(old_uids), tuple(new_uids))


def remove_messages(tx: Transaction, blobs: FileBlobStore, account: AccountId,
                    mailbox: MailboxId, uids: UidSet | None, only_deleted: bool) -> list[Uid]:
    require_mailbox(tx.conn, account, mailbox)
    clause, params = _uid_clause(uids, column="uid")
    if only_deleted:
        clause += f" AND system_flags & {DELETED_BIT}"
    rows = tx.conn.execute(f"DELETE FROM messages WHERE mailbox_id = ?{clause}"
                           " RETURNING uid, size, blob_rowid",
                           [mailbox, *params]).fetchall()
    if not rows:
        return []
    removed = sorted(Uid(r[0]) for r in rows)
    tx.conn.execute("UPDATE accounts SET used_bytes = used_bytes - ?,"
                    " message_count = message_count - ? WHERE id = ?",
                    (sum(r[1] for r in rows), len(rows), account))
    unref_bodies(tx, blobs, (r[2] for r in rows))
    _log_expunged(tx, account, mailbox, removed, _Stamp(tx).modseq(mailbox))
    return removed


def _log_expunged(tx: Transaction, account: AccountId, mailbox: MailboxId, uids: list[Uid],
                  modseq: ModSeq) -> None:
    now = stamp(datetime.now(UTC))
    tx.conn.executemany("INSERT OR REPLACE INTO expunged (mailbox_id, uid, modseq, expunged_at)"
                        " VALUES (?, ?, ?, ?)", [(mailbox, uid, modseq, now) for uid in uids])
    tx.changes.append(MessagesExpunged(account, mailbox, tuple(sorted(uids)), modseq))


def prune_expunged(tx: Transaction, before: datetime, limit: int) -> int:
    """Forget at most ``limit`` expunges logged before ``before``, oldest first; return how many.

    Each touched mailbox's ``vanished_floor`` rises to the highest modseq forgotten there, in the
    same transaction: ``vanished_since(m)`` answers None for m below it, and stays exact for m at
    or above it, because every expunge with a higher modseq is still in the log."""
    rows = tx.conn.execute(
        "DELETE FROM expunged WHERE rowid IN (SELECT rowid FROM expunged WHERE expunged_at < ?"
        " ORDER BY expunged_at LIMIT ?) RETURNING mailbox_id, modseq",
        (stamp(before), limit)).fetchall()
    floors: dict[int, int] = {}
    for mailbox, modseq in rows:
        floors[mailbox] = max(floors.get(mailbox, 0), modseq)
    tx.conn.executemany("UPDATE mailboxes SET vanished_floor = max(vanished_floor, ?) WHERE id = ?",
                        [(floor, mailbox) for mailbox, floor in sorted(floors.items())])
    return len(rows)


# Reads ------------------------------------------------------------------------------------------

def message_states(conn: sqlite3.Connection, account: AccountId, mailbox: MailboxId,
                   changed_since: ModSeq | None) -> list[MessageState]:
    require_mailbox(conn, account, mailbox)
    query = "SELECT uid, modseq, system_flags, keywords FROM messages WHERE mailbox_id = ?"
    params: list[int] = [mailbox]
    if changed_since is not None:
        query += " AND modseq > ?"
        params.append(changed_since)
    return [MessageState(Uid(u), ModSeq(m), decode_flags(b, k))
            for u, m, b, k in conn.execute(query + " ORDER BY uid", params)]


def get_messages(conn: sqlite3.Connection, account: AccountId, mailbox: MailboxId,
                 uids: UidSet | None) -> list[MessageRecord]:
    require_mailbox(conn, account, mailbox)
    clause, params = _uid_clause(uids)
    return [row_to_record(r) for r in conn.execute(
        f"SELECT {_RECORD_COLUMNS} FROM messages m JOIN blobs b ON b.id = m.blob_rowid"
        f" WHERE m.mailbox_id = ?{clause} ORDER BY m.uid", [mailbox, *params])]


def list_messages(conn: sqlite3.Connection, account: AccountId, mailbox: MailboxId,
                  uids: UidSet | None, structure: bool) -> list[ListedMessage]:
    require_mailbox(conn, account, mailbox)
    clause, params = _uid_clause(uids)
    tree = "m.structure" if structure else "''"
    rows = conn.execute(
        "SELECT m.uid, m.modseq, m.system_flags, m.keywords, m.internal_date, m.size,"
        f" m.summary, {tree} FROM messages m WHERE m.mailbox_id = ?{clause} ORDER BY m.uid",
        [mailbox, *params])
    date = datetime.fromisoformat
    # The ids and counters are SQLite integers already: no NewType call, no int() per row.
    return [(uid, modseq, decode_flags(bits, keywords), date(internal), size, summary, tree)
            for uid, modseq, bits, keywords, internal, size, summary, tree in rows]


def read_body(conn: sqlite3.Connection, blobs: FileBlobStore, blob: BlobId) -> bytes:
    """A stored body, from the database when inline, else from its file."""
    row = conn.execute("SELECT data FROM blobs WHERE sha256 = ?", (blob,)).fetchone()
    if row is None:
        raise NotFound("the message no longer exists")
    if row[0] is not None:
        return bytes(row[0])
    try:
        return blobs.read(blob)
    except FileNotFoundError as exc:
        raise NotFound("the message no longer exists") from exc


def read_bodies(conn: sqlite3.Connection, blobs: FileBlobStore,
                blob_ids: Sequence[BlobId]) -> dict[BlobId, bytes]:
    """The stored bodies of ``blob_ids`` that still exist, inline ones in one query per
    ``_IN_LIMIT`` ids; bodies kept as files are read from disk."""
    found: dict[BlobId, bytes] = {}
    files: list[BlobId] = []
    distinct = list(dict.fromkeys(blob_ids))
    for start in range(0, len(distinct), _IN_LIMIT):
        chunk = distinct[start:start + _IN_LIMIT]
        marks = ",".join("?" * len(chunk))
        for sha256, data in conn.execute(
                f"SELECT sha256, data FROM blobs WHERE sha256 IN ({marks})", chunk):
            if data is None:
                files.append(BlobId(sha256))
            else:
                found[BlobId(sha256)] = bytes(data)
    for blob in files:
        try:
            found[blob] = blobs.read(blob)
        except FileNotFoundError:
            pass  # removed since the query: the message no longer exists
    return found


def vanished_since(conn: sqlite3.Connection, account: AccountId, mailbox: MailboxId,
                   modseq: ModSeq) -> UidSet | None:
    floor = require_mailbox(conn, account, mailbox)[3]
    if modseq < floor:
        return None
    return UidSet.of(r[0] for r in conn.execute(
        "SELECT uid FROM expunged WHERE mailbox_id = ? AND modseq > ?", (mailbox, modseq)))


def search_text(conn: sqlite3.Connection, account: AccountId, mailbox: MailboxId,
                query: str) -> UidSet:
    require_mailbox(conn, account, mailbox)
    words = [w for w in query.replace('"', " ").split() if w]
    if not words:
        return UidSet.of(r[0] for r in conn.execute(
            "SELECT uid FROM messages WHERE mailbox_id = ?", (mailbox,)))
    match = " AND ".join(f'"{w}"*' for w in words)
    return UidSet.of(r[0] for r in conn.execute(
        "SELECT m.uid FROM messages m WHERE m.mailbox_id = ? AND m.blob_rowid IN"
        " (SELECT rowid FROM blob_text WHERE blob_text MATCH ?)", (mailbox, match)))
