"""``StoreTransfer`` for PostgreSQL: whole-store export and idempotent import (store copy)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from postier.errors import Conflict
from postier.store.blobs_fs import blob_id_of
from postier.store.bodies import parse_body
from postier.store.interface import QueueId
from postier.store.postgres import search
from postier.store.postgres.database import Connection, Database, Transaction
from postier.store.postgres.messages import (
    Body,
    date_columns,
    date_from_columns,
    ref_body,
)
from postier.store.records import decode_flags, encode_flags
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

__all__ = ["PostgresTransfer"]

_ACCOUNT_COLUMNS = ("id, address, domain_id, password_hash, scram_sha256, quota_bytes,"
                    " pop3_delete_policy, disabled, created_at, used_bytes, message_count")
_MAILBOX_COLUMNS = ("id, account_id, name, special_use, uidvalidity, uidnext, highest_modseq,"
                    " first_recent_uid, vanished_floor")
_RECIPIENT_COLUMNS = ("id, address, notify, orcpt, state, attempts, next_attempt, last_error,"
                      " remote_reply, status, remote_mta, last_attempt, lease_until, notice,"
                      " delay_notified, updated_at")


def _account(r: Any) -> AccountRow:
    return AccountRow(AccountId(int(r[0])), r[1], DomainId(int(r[2])), r[3], r[4], r[5], r[6],
                      bool(r[7]), r[8], int(r[9]), int(r[10]))


def _mailbox(r: Any) -> MailboxRow:
    return MailboxRow(MailboxId(int(r[0])), AccountId(int(r[1])), r[2], r[3], *(int(v) for v in
                                                                              r[4:9]))


class PostgresTransfer:
    def __init__(self, db: Database) -> None:
        self._db = db

    # Reading ----------------------------------------------------------------------------------

    async def domains(self) -> list[Domain]:
        rows = await self._db.read(lambda c: c.fetch(
            "SELECT id, name, catch_all FROM domains ORDER BY id"))
        return [Domain(DomainId(int(r[0])), r[1], r[2]) for r in rows]

    async def accounts(self) -> list[AccountRow]:
        rows = await self._db.read(lambda c: c.fetch(
            f"SELECT {_ACCOUNT_COLUMNS} FROM accounts ORDER BY id"))
        return [_account(r) for r in rows]

    async def aliases(self) -> list[Alias]:
        rows = await self._db.read(lambda c: c.fetch(
            "SELECT address, targets FROM aliases ORDER BY address COLLATE \"C\""))
        return [Alias(r[0], tuple(r[1])) for r in rows]

    async def mailboxes(self) -> list[MailboxRow]:
        rows = await self._db.read(lambda c: c.fetch(
            f"SELECT {_MAILBOX_COLUMNS} FROM mailboxes ORDER BY id"))
        return [_mailbox(r) for r in rows]

    async def subscriptions(self) -> list[tuple[AccountId, str]]:
        rows = await self._db.read(lambda c: c.fetch(
            "SELECT account_id, name FROM subscriptions ORDER BY account_id, name COLLATE \"C\""))
        return [(AccountId(int(r[0])), str(r[1])) for r in rows]

    async def messages(self, mailbox: MailboxId, after_uid: int,
                       limit: int) -> list[MessageRow]:
        rows = await self._db.read(lambda c: c.fetch(
            "SELECT m.id, m.mailbox_id, m.uid, m.modseq, m.system_flags, m.keywords,"
            " m.internal_date, m.internal_offset, m.size, b.sha256, m.header_prefix,"
            " m.structure, m.summary FROM messages m JOIN blobs b ON b.id = m.blob_id"
            " WHERE m.mailbox_id = $1 AND m.uid > $2 ORDER BY m.uid LIMIT $3",
            mailbox, after_uid, limit))
        return [MessageRow(MessageId(int(r[0])), MailboxId(int(r[1])), int(r[2]), int(r[3]),
                           decode_flags(int(r[4]), str(r[5])), date_from_columns(r[6], r[7]),
                           int(r[8]), BlobId(r[9]), bytes(r[10]), r[11], r[12]) for r in rows]

    async def expunged(self, mailbox: MailboxId) -> list[tuple[int, int, datetime]]:
        rows = await self._db.read(lambda c: c.fetch(
            "SELECT uid, modseq, expunged_at FROM expunged WHERE mailbox_id = $1 ORDER BY uid",
            mailbox))
        return [(int(r[0]), int(r[1]), r[2].astimezone(UTC)) for r in rows]

    async def last_uid(self, mailbox: MailboxId) -> int:
        value = await self._db.read(lambda c: c.fetchval(
            "SELECT max(uid) FROM messages WHERE mailbox_id = $1", mailbox))
        return int(value or 0)

    async def queue(self) -> list[QueueRow]:
        async def work(conn: Connection) -> list[QueueRow]:
            messages = await conn.fetch(
                "SELECT q.id, q.account_id, q.sender, b.sha256, q.size, q.envid, q.ret,"
                " q.body_type, q.smtputf8, q.message_id, q.created_at FROM queue_messages q"
                " JOIN blobs b ON b.id = q.blob_id ORDER BY q.id")
            recipients: dict[int, list[QueueRecipientRow]] = {}
            for r in await conn.fetch(f"SELECT message_id, {_RECIPIENT_COLUMNS}"
                                      " FROM queue_recipients ORDER BY id"):
                recipients.setdefault(int(r[0]), []).append(QueueRecipientRow(
                    int(r[1]), r[2], r[3], r[4], r[5], int(r[6]), r[7], r[8], r[9], r[10],
                    r[11], r[12], r[13], r[14], bool(r[15]), r[16]))
            return [QueueRow(QueueId(int(m[0])), None if m[1] is None else AccountId(int(m[1])),
                             m[2], BlobId(m[3]), int(m[4]), m[5], m[6], m[7], bool(m[8]), m[9],
                             m[10], tuple(recipients.get(int(m[0]), ()))) for m in messages]
        return await self._db.snapshot(work)

    async def body(self, blob: BlobId) -> bytes:
        data = await self._db.read(lambda c: c.fetchval(
            "SELECT data FROM blobs WHERE sha256 = $1", blob))
        if data is None:
            raise Conflict(f"body {blob} is missing")
        return bytes(data)

    async def last_uidvalidity(self) -> int:
        value = await self._db.read(lambda c: c.fetchval(
            "SELECT value FROM meta WHERE key = 'last_uidvalidity'"))
        return int(value or 0)

    # Writing ----------------------------------------------------------------------------------

    async def put_domain(self, domain: Domain) -> bool:
        async def work(tx: Transaction) -> bool:
            found = await tx.conn.fetchval("SELECT name FROM domains WHERE id = $1", domain.id)
            if found is not None:
                _same("domain", domain.id, found, domain.name)
                await tx.conn.execute("UPDATE domains SET catch_all = $2 WHERE id = $1",
                                      domain.id, domain.catch_all)
                return False
            await tx.conn.execute("INSERT INTO domains (id, name, catch_all) VALUES ($1, $2, $3)",
                                  domain.id, domain.name, domain.catch_all)
            return True
        return await self._db.write(work)

    async def put_account(self, account: AccountRow) -> bool:
        async def work(tx: Transaction) -> bool:
            found = await tx.conn.fetchval("SELECT address FROM accounts WHERE id = $1",
                                           account.id)
            if found is not None:
                _same("account", account.id, found, account.address)
                return False
            await tx.conn.execute(
                "INSERT INTO accounts (id, address, domain_id, password_hash, scram_sha256,"
                " quota_bytes, pop3_delete_policy, disabled, created_at)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                account.id, account.address, account.domain_id, account.password_hash,
                account.scram_sha256, account.quota_bytes, account.pop3_delete_policy,
                account.disabled, account.created_at)
            return True
        return await self._db.write(work)

    async def put_alias(self, alias: Alias) -> bool:
        async def work(tx: Transaction) -> bool:
            return bool(await tx.conn.fetchval(
                "INSERT INTO aliases (address, targets) VALUES ($1, $2)"
                " ON CONFLICT (address) DO NOTHING RETURNING 1", alias.address,
                list(alias.targets)))
        return await self._db.write(work)

    async def put_mailbox(self, mailbox: MailboxRow) -> bool:
        async def work(tx: Transaction) -> bool:
            found = await tx.conn.fetchrow("SELECT account_id, name, uidvalidity FROM mailboxes"
                                           " WHERE id = $1", mailbox.id)
            values = (mailbox.uidnext, mailbox.highest_modseq, mailbox.first_recent_uid,
                      mailbox.vanished_floor)
            if found is not None:
                _same("mailbox", mailbox.id, tuple(found),
                      (mailbox.account_id, mailbox.name, mailbox.uidvalidity))
                await tx.conn.execute(
                    "UPDATE mailboxes SET uidnext = $2, highest_modseq = $3,"
                    " first_recent_uid = $4, vanished_floor = $5 WHERE id = $1",
                    mailbox.id, *values)
                return False
            await tx.conn.execute(
                "INSERT INTO mailboxes (id, account_id, name, special_use, uidvalidity, uidnext,"
                " highest_modseq, first_recent_uid, vanished_floor)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                mailbox.id, mailbox.account_id, mailbox.name, mailbox.special_use,
                mailbox.uidvalidity, *values)
            return True
        return await self._db.write(work)

    async def put_subscriptions(self, rows: Sequence[tuple[AccountId, str]]) -> int:
        async def work(tx: Transaction) -> int:
            added = await tx.conn.fetch(
                "INSERT INTO subscriptions (account_id, name) SELECT * FROM"
                " unnest($1::bigint[], $2::text[]) ON CONFLICT DO NOTHING RETURNING 1",
                [r[0] for r in rows], [r[1] for r in rows])
            return len(added)
        return await self._db.write(work)

    async def put_messages(self, rows: Sequence[tuple[MessageRow, bytes]]) -> int:
        bodies = await asyncio.to_thread(_prepare_bodies, [data for _, data in rows])

        async def work(tx: Transaction) -> int:
            existing = {int(r[0]) for r in await tx.conn.fetch(
                "SELECT id FROM messages WHERE id = ANY($1::bigint[])", [m.id for m, _ in rows])}
            added = 0
            for (message, _), body in zip(rows, bodies, strict=True):
                if message.id in existing:
                    continue
                if body.blob != message.blob_id:
                    raise Conflict(f"body of message {message.id} does not match its checksum")
                blob_row = await ref_body(tx.conn, body)
                bits, keywords = encode_flags(message.flags)
                instant, offset = date_columns(message.internal_date)
                await tx.conn.execute(
                    "INSERT INTO messages (id, mailbox_id, uid, modseq, system_flags, keywords,"
                    " internal_date, internal_offset, size, blob_id, header_prefix, structure,"
                    " summary) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                    message.id, message.mailbox_id, message.uid, message.modseq, bits, keywords,
                    instant, offset, message.size, blob_row, message.header_prefix,
                    message.structure_json, message.summary_json)
                await tx.conn.execute(
                    "UPDATE accounts a SET used_bytes = used_bytes + $2,"
                    " message_count = message_count + 1 FROM mailboxes b"
                    " WHERE b.id = $1 AND a.id = b.account_id", message.mailbox_id, message.size)
                added += 1
            return added
        return await self._db.write(work)

    async def put_expunged(self, mailbox: MailboxId,
                           rows: Sequence[tuple[int, int, datetime]]) -> None:
        async def work(tx: Transaction) -> None:
            await tx.conn.execute(
                "INSERT INTO expunged (mailbox_id, uid, modseq, expunged_at) SELECT $1, u, m, t"
                " FROM unnest($2::bigint[], $3::bigint[], $4::timestamptz[]) AS e(u, m, t)"
                " ON CONFLICT (mailbox_id, uid) DO UPDATE SET modseq = excluded.modseq,"
                " expunged_at = excluded.expunged_at",
                mailbox, [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])
        await self._db.write(work)

    async def put_queue(self, row: QueueRow, body: bytes) -> bool:
        [prepared] = await asyncio.to_thread(_prepare_bodies, [body])

        async def work(tx: Transaction) -> bool:
            if await tx.conn.fetchval("SELECT 1 FROM queue_messages WHERE id = $1", row.id):
                return False
            if prepared.blob != row.blob_id:
                raise Conflict(f"body of queued message {row.id} does not match its checksum")
            blob_row = await ref_body(tx.conn, prepared)
            await tx.conn.execute(
                "INSERT INTO queue_messages (id, account_id, sender, blob_id, size, envid, ret,"
                " body_type, smtputf8, message_id, created_at)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                row.id, row.account_id, row.sender, blob_row, row.size, row.envid, row.ret,
                row.body_type, row.smtputf8, row.message_id, row.created_at)
            await tx.conn.executemany(
                f"INSERT INTO queue_recipients (message_id, {_RECIPIENT_COLUMNS}) VALUES ($1,"
                " $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
                [(row.id, r.id, r.address, r.notify, r.orcpt, r.state, r.attempts,
                  r.next_attempt, r.last_error, r.remote_reply, r.status, r.remote_mta,
                  r.last_attempt, r.lease_until, r.notice, r.delay_notified, r.updated_at)
                 for r in row.recipients])
            return True
        return await self._db.write(work)

    async def finish(self, last_uidvalidity: int) -> None:
        async def work(tx: Transaction) -> None:
            for table in ("domains", "accounts", "mailboxes", "messages", "queue_messages",
                          "queue_recipients"):
                await tx.conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                    f" greatest((SELECT max(id) FROM {table}), 1))")
            await tx.conn.execute(
                "UPDATE meta SET value = greatest(value, $1) WHERE key = 'last_uidvalidity'",
                last_uidvalidity)
        await self._db.write(work)


def _prepare_bodies(datas: list[bytes]) -> list[Body]:
    """Parse and index each distinct body once (copies of one message share it)."""
    done: dict[BlobId, Body] = {}
    prepared = []
    for data in datas:
        blob = blob_id_of(data)
        body = done.get(blob)
        if body is None:
            parsed = parse_body(data)
            document = search.document(parsed.search_subject, parsed.search_addresses,
                                       parsed.search_body)
            body = done[blob] = Body(blob, data, parsed, document)
        prepared.append(body)
    return prepared


def _same(kind: str, row_id: int, found: object, wanted: object) -> None:
    if found != wanted:
        raise Conflict(f"the target already has a different {kind} with id {row_id}"
                       f" ({found} instead of {wanted}): copy into an empty store")
