"""``StoreTransfer`` for the embedded store: whole-store export and idempotent import."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from postier.errors import Conflict
from postier.store import records
from postier.store.blobs_fs import FileBlobStore, blob_id_of
from postier.store.bodies import StoredBody, parse_body
from postier.store.interface import QueueId
from postier.store.sqlite import messages
from postier.store.sqlite.database import Database, Transaction, stamp
from postier.store.transfer import (
    AccountRow,
    MailboxRow,
    MessageRow,
    QueueRecipientRow,
    QueueRow,
)
from postier.types import (
    AccountId,
    Alias,
    BlobId,
    Domain,
    DomainId,
    MailboxId,
    MessageId,
)

__all__ = ["SqliteTransfer"]

_ACCOUNT_COLUMNS = ("id, address, domain_id, password_hash, scram_sha256, quota_bytes,"
                    " pop3_delete_policy, disabled, created_at, used_bytes, message_count")
_MAILBOX_COLUMNS = ("id, account_id, name, special_use, uidvalidity, uidnext, highest_modseq,"
                    " first_recent_uid, vanished_floor")
_RECIPIENT_COLUMNS = ("id, address, notify, orcpt, state, attempts, next_attempt, last_error,"
                      " remote_reply, status, remote_mta, last_attempt, lease_until, notice,"
                      " delay_notified, updated_at")


def _time(value: Any) -> datetime | None:
    return None if value is None else datetime.fromisoformat(str(value))


def _stamp(value: datetime | None) -> str | None:
    return None if value is None else stamp(value)


class SqliteTransfer:
    def __init__(self, db: Database, blobs: FileBlobStore, inline_limit: int) -> None:
        self._db = db
        self._blobs = blobs
        self._inline_limit = inline_limit

    # Reading ----------------------------------------------------------------------------------

    async def domains(self) -> list[Domain]:
        rows = await self._db.read(lambda c: c.execute(
            "SELECT id, name, catch_all FROM domains ORDER BY id").fetchall())
        return [Domain(DomainId(int(r[0])), r[1], r[2]) for r in rows]

    async def accounts(self) -> list[AccountRow]:
        rows = await self._db.read(lambda c: c.execute(
            f"SELECT {_ACCOUNT_COLUMNS} FROM accounts ORDER BY id").fetchall())
        return [AccountRow(AccountId(int(r[0])), r[1], DomainId(int(r[2])), r[3], r[4], r[5],
                           r[6], bool(r[7]), datetime.fromisoformat(r[8]), int(r[9]), int(r[10]))
                for r in rows]

    async def aliases(self) -> list[Alias]:
        rows = await self._db.read(lambda c: c.execute(
            "SELECT address, targets FROM aliases ORDER BY address").fetchall())
        return [Alias(r[0], tuple(json.loads(r[1]))) for r in rows]

    async def mailboxes(self) -> list[MailboxRow]:
        rows = await self._db.read(lambda c: c.execute(
            f"SELECT {_MAILBOX_COLUMNS} FROM mailboxes ORDER BY id").fetchall())
        return [MailboxRow(MailboxId(int(r[0])), AccountId(int(r[1])), r[2], r[3],
                           *(int(v) for v in r[4:9])) for r in rows]

    async def subscriptions(self) -> list[tuple[AccountId, str]]:
        rows = await self._db.read(lambda c: c.execute(
            "SELECT account_id, name FROM subscriptions ORDER BY account_id, name").fetchall())
        return [(AccountId(int(r[0])), str(r[1])) for r in rows]

    async def messages(self, mailbox: MailboxId, after_uid: int,
                       limit: int) -> list[MessageRow]:
        rows = await self._db.read(lambda c: c.execute(
            "SELECT m.id, m.mailbox_id, m.uid, m.modseq, m.system_flags, m.keywords,"
            " m.internal_date, m.size, b.sha256, m.header_prefix, m.structure, m.summary"
            " FROM messages m JOIN blobs b ON b.id = m.blob_rowid"
            " WHERE m.mailbox_id = ? AND m.uid > ? ORDER BY m.uid LIMIT ?",
            (mailbox, after_uid, limit)).fetchall())
        return [MessageRow(MessageId(int(r[0])), MailboxId(int(r[1])), int(r[2]), int(r[3]),
                           records.decode_flags(int(r[4]), str(r[5])),
                           datetime.fromisoformat(r[6]), int(r[7]), BlobId(r[8]), bytes(r[9]),
                           r[10], r[11]) for r in rows]

    async def expunged(self, mailbox: MailboxId) -> list[tuple[int, int, datetime]]:
        rows = await self._db.read(lambda c: c.execute(
            "SELECT uid, modseq, expunged_at FROM expunged WHERE mailbox_id = ? ORDER BY uid",
            (mailbox,)).fetchall())
        return [(int(r[0]), int(r[1]), datetime.fromisoformat(r[2])) for r in rows]

    async def last_uid(self, mailbox: MailboxId) -> int:
        row = await self._db.read(lambda c: c.execute(
            "SELECT max(uid) FROM messages WHERE mailbox_id = ?", (mailbox,)).fetchone())
        return int(row[0] or 0)

    async def queue(self) -> list[QueueRow]:
        def work(conn: sqlite3.Connection) -> list[QueueRow]:
            recipients: dict[int, list[QueueRecipientRow]] = {}
            for r in conn.execute(f"SELECT message_id, {_RECIPIENT_COLUMNS}"
                                  " FROM queue_recipients ORDER BY id"):
                next_attempt = _time(r[7])
                updated_at = _time(r[16])
                assert next_attempt is not None and updated_at is not None
                recipients.setdefault(int(r[0]), []).append(QueueRecipientRow(
                    int(r[1]), r[2], r[3], r[4], r[5], int(r[6]), next_attempt, r[8], r[9],
                    r[10], r[11], _time(r[12]), _time(r[13]), r[14], bool(r[15]), updated_at))
            return [QueueRow(QueueId(int(m[0])), None if m[1] is None else AccountId(int(m[1])),
                             m[2], BlobId(m[3]), int(m[4]), m[5], m[6], m[7], bool(m[8]), m[9],
                             datetime.fromisoformat(m[10]), tuple(recipients.get(int(m[0]), ())))
                    for m in conn.execute(
                        "SELECT q.id, q.account_id, q.sender, b.sha256, q.size, q.envid, q.ret,"
                        " q.body_type, q.smtputf8, q.message_id, q.created_at FROM queue_messages"
                        " q JOIN blobs b ON b.id = q.blob_rowid ORDER BY q.id").fetchall()]
        return await self._db.read(work)

    async def body(self, blob: BlobId) -> bytes:
        try:
            return await self._db.read(lambda c: messages.read_body(c, self._blobs, blob))
        except Exception as exc:
            raise Conflict(f"body {blob} is missing") from exc

    async def last_uidvalidity(self) -> int:
        row = await self._db.read(lambda c: c.execute(
            "SELECT value FROM meta WHERE key = 'last_uidvalidity'").fetchone())
        return int(row[0]) if row else 0

    # Writing ----------------------------------------------------------------------------------

    async def put_domain(self, domain: Domain) -> bool:
        def work(tx: Transaction) -> bool:
            found = tx.conn.execute("SELECT name FROM domains WHERE id = ?",
                                    (domain.id,)).fetchone()
            if found is not None:
                _same("domain", domain.id, found[0], domain.name)
                tx.conn.execute("UPDATE domains SET catch_all = ? WHERE id = ?",
                                (domain.catch_all, domain.id))
                return False
            tx.conn.execute("INSERT INTO domains (id, name, catch_all) VALUES (?, ?, ?)",
                            (domain.id, domain.name, domain.catch_all))
            return True
        return await self._db.write(work)

    async def put_account(self, account: AccountRow) -> bool:
        def work(tx: Transaction) -> bool:
            found = tx.conn.execute("SELECT address FROM accounts WHERE id = ?",
                                    (account.id,)).fetchone()
            if found is not None:
                _same("account", account.id, found[0], account.address)
                return False
            tx.conn.execute(
                "INSERT INTO accounts (id, address, domain_id, password_hash, scram_sha256,"
                " quota_bytes, pop3_delete_policy, disabled, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (account.id, account.address, account.domain_id, account.password_hash,
                 account.scram_sha256, account.quota_bytes, account.pop3_delete_policy,
                 int(account.disabled), account.created_at.isoformat()))
            return True
        return await self._db.write(work)

    async def put_alias(self, alias: Alias) -> bool:
        def work(tx: Transaction) -> bool:
            cursor = tx.conn.execute("INSERT OR IGNORE INTO aliases (address, targets)"
                                     " VALUES (?, ?)",
                                     (alias.address, json.dumps(list(alias.targets))))
            return cursor.rowcount > 0
        return await self._db.write(work)

    async def put_mailbox(self, mailbox: MailboxRow) -> bool:
        def work(tx: Transaction) -> bool:
            found = tx.conn.execute("SELECT account_id, name, uidvalidity FROM mailboxes"
                                    " WHERE id = ?", (mailbox.id,)).fetchone()
            values = (mailbox.uidnext, mailbox.highest_modseq, mailbox.first_recent_uid,
                      mailbox.vanished_floor)
            if found is not None:
                _same("mailbox", mailbox.id, tuple(found),
                      (mailbox.account_id, mailbox.name, mailbox.uidvalidity))
                tx.conn.execute("UPDATE mailboxes SET uidnext = ?, highest_modseq = ?,"
                                " first_recent_uid = ?, vanished_floor = ? WHERE id = ?",
                                (*values, mailbox.id))
                return False
            tx.conn.execute(
                "INSERT INTO mailboxes (id, account_id, name, special_use, uidvalidity, uidnext,"
                " highest_modseq, first_recent_uid, vanished_floor)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (mailbox.id, mailbox.account_id, mailbox.name, mailbox.special_use,
                 mailbox.uidvalidity, *values))
            return True
        return await self._db.write(work)

    async def put_subscriptions(self, rows: Sequence[tuple[AccountId, str]]) -> int:
        def work(tx: Transaction) -> int:
            before = tx.conn.total_changes
            tx.conn.executemany("INSERT OR IGNORE INTO subscriptions (account_id, name)"
                                " VALUES (?, ?)", rows)
            return tx.conn.total_changes - before
        return await self._db.write(work)

    async def _store_bodies(self, datas: list[bytes]) -> list[StoredBody]:
        def work() -> list[StoredBody]:
            done: dict[BlobId, StoredBody] = {}
            stored = []
            for data in datas:
                blob = blob_id_of(data)
                body = done.get(blob)
                if body is None:
                    parsed = parse_body(data)
                    if len(data) <= self._inline_limit:
                        body = StoredBody(blob, len(data), parsed, inline=data)
                    else:
                        body = StoredBody(self._blobs.write(data), len(data), parsed)
                    done[blob] = body
                stored.append(body)
            return stored
        return await asyncio.to_thread(work)

    async def put_messages(self, rows: Sequence[tuple[MessageRow, bytes]]) -> int:
        bodies = await self._store_bodies([data for _, data in rows])

        def work(tx: Transaction) -> int:
            added = 0
            for (message, _), body in zip(rows, bodies, strict=True):
                if tx.conn.execute("SELECT 1 FROM messages WHERE id = ?",
                                   (message.id,)).fetchone():
                    continue
                if body.blob != message.blob_id:
                    raise Conflict(f"body of message {message.id} does not match its checksum")
                blob_rowid = messages.ref_body(tx, self._blobs, body)
                bits, keywords = records.encode_flags(message.flags)
                tx.conn.execute(
                    "INSERT INTO messages (id, mailbox_id, uid, modseq, system_flags, keywords,"
                    " internal_date, size, blob_rowid, header_prefix, structure, summary)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (message.id, message.mailbox_id, message.uid, message.modseq, bits,
                     keywords, message.internal_date.isoformat(), message.size, blob_rowid,
                     message.header_prefix, message.structure_json, message.summary_json))
                tx.conn.execute(
                    "UPDATE accounts SET used_bytes = used_bytes + ?,"
                    " message_count = message_count + 1 WHERE id ="
                    " (SELECT account_id FROM mailboxes WHERE id = ?)",
                    (message.size, message.mailbox_id))
                added += 1
            return added
        return await self._db.write(work)

    async def put_expunged(self, mailbox: MailboxId,
                           rows: Sequence[tuple[int, int, datetime]]) -> None:
        def work(tx: Transaction) -> None:
            tx.conn.executemany(
                "INSERT OR REPLACE INTO expunged (mailbox_id, uid, modseq, expunged_at)"
                " VALUES (?, ?, ?, ?)", [(mailbox, u, m, stamp(t)) for u, m, t in rows])
        await self._db.write(work)

    async def put_queue(self, row: QueueRow, body: bytes) -> bool:
        [stored] = await self._store_bodies([body])

        def work(tx: Transaction) -> bool:
            if tx.conn.execute("SELECT 1 FROM queue_messages WHERE id = ?",
                               (row.id,)).fetchone():
                return False
            if stored.blob != row.blob_id:
                raise Conflict(f"body of queued message {row.id} does not match its checksum")
            blob_rowid = messages.ref_body(tx, self._blobs, stored)
            tx.conn.execute(
                "INSERT INTO queue_messages (id, account_id, sender, blob_rowid, size, envid,"
                " ret, body_type, smtputf8, message_id, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (row.id, row.account_id, row.sender, blob_rowid, row.size, row.envid, row.ret,
                 row.body_type, int(row.smtputf8), row.message_id, stamp(row.created_at)))
            tx.conn.executemany(
                f"INSERT INTO queue_recipients (message_id, {_RECIPIENT_COLUMNS})"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(row.id, r.id, r.address, r.notify, r.orcpt, r.state, r.attempts,
                  stamp(r.next_attempt), r.last_error, r.remote_reply, r.status, r.remote_mta,
                  _stamp(r.last_attempt), _stamp(r.lease_until), r.notice,
                  int(r.delay_notified), stamp(r.updated_at)) for r in row.recipients])
            return True
        return await self._db.write(work)

    async def finish(self, last_uidvalidity: int) -> None:
        def work(tx: Transaction) -> None:
            row = tx.conn.execute("SELECT value FROM meta WHERE key = 'last_uidvalidity'"
                                  ).fetchone()
            value = max(int(row[0]) if row else 0, last_uidvalidity)
            tx.conn.execute("INSERT INTO meta (key, value) VALUES ('last_uidvalidity', ?)"
                            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                            (str(value),))
        await self._db.write(work)


def _same(kind: str, row_id: int, found: object, wanted: object) -> None:
    if found != wanted:
        raise Conflict(f"the target already has a different {kind} with id {row_id}"
                       f" ({found} instead of {wanted}): copy into an empty store")
