"""The embedded store: SQLite (WAL) for metadata, content-addressed files for bodies.

How this works: every public method is async and never blocks the event loop. Writes go through
``Database.write`` (one writer thread, group commit); reads through ``Database.read`` (reader
threads on WAL snapshots). A new message is parsed and its body written and fsync'd in a worker
thread *before* its metadata job is queued, so the commit that acknowledges it only ever points at
a durable body. ``open`` recovers from a crash: SQLite replays its WAL, and body files that no
committed row references (written just before a crash) are deleted.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import sqlite3
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from postier.errors import MailError, NotFound, TryLater
from postier.store import records
from postier.store.blobs_fs import FileBlobStore, blob_id_of
from postier.store.bodies import ParsedBody, StoredBody, parse_body, structure_for_prefix
from postier.store.changes import ChangeHub
from postier.store.interface import (
    AppendedMessage,
    AppendResult,
    CopyResult,
    DeliveryResult,
    DeliveryTarget,
    FlagResult,
    MessageState,
    OutboundCopy,
    OutboundEnvelope,
    QueuedMessage,
    QueueId,
    Recipient,
    RecipientUpdate,
)
from postier.store.sqlite import accounts, mailboxes, messages, queue
from postier.store.sqlite.database import Database, Transaction, stamp
from postier.types import (
    INBOX,
    Account,
    AccountId,
    Alias,
    Credentials,
    Domain,
    Flag,
    FlagOp,
    ListedMessage,
    Mailbox,
    MailboxId,
    MailboxStatus,
    MessageRecord,
    ModSeq,
    Pop3DeletePolicy,
    Quota,
    SpecialUse,
    Uid,
    UidSet,
)

if TYPE_CHECKING:
    from postier.store.sqlite.transfer import SqliteTransfer

__all__ = ["SCHEMA_VERSION", "SqliteStore"]

T = TypeVar("T")
log = logging.getLogger(__name__)
SCHEMA_VERSION = 2
DATABASE_NAME = "postier.sqlite3"
_BODY_RETRIES = 3
# Bodies up to this size are stored inside the database row: they are durable with the group
# commit's single WAL fsync, instead of costing a file fsync and a directory fsync each.
INLINE_BODY_LIMIT = 64 * 1024


class SqliteStore:
    def __init__(self, data_dir: Path, db: Database, blobs: FileBlobStore, hub: ChangeHub,
                 lock_fd: int) -> None:
        self.data_dir = data_dir
        self.hub = hub
        self._db = db
        self._blobs = blobs
        self._lock_fd = lock_fd

    @classmethod
    def open(cls, data_dir: Path, hub: ChangeHub | None = None) -> SqliteStore:
        """Open (creating if needed) the store in ``data_dir``; blocking, call before serving."""
        data_dir.mkdir(parents=True, exist_ok=True)
        hub = hub or ChangeHub()
        lock_fd = os.open(data_dir / "postier.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            db = Database(data_dir / DATABASE_NAME, hub)
        except BaseException:
            os.close(lock_fd)
            raise
        try:
            db.write_blocking(_migrate)
            blobs = FileBlobStore(data_dir / "blobs")
            # Sweeping unreferenced bodies is only safe when no other process (a running server,
            # while the CLI adds a user) may be between writing a body and committing its row.
            try:
                fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pass
            else:
                _recover(db, blobs)
            fcntl.flock(lock_fd, fcntl.LOCK_SH)
        except BaseException:
            db.close_blocking()
            os.close(lock_fd)
            raise
        return cls(data_dir, db, blobs, hub, lock_fd)

    async def close(self) -> None:
        await self._db.close()
        self._release_lock()

    def transfer(self) -> SqliteTransfer:
        """Whole-store export and import, for ``postier store copy``."""
        from postier.store.sqlite.transfer import SqliteTransfer

        return SqliteTransfer(self._db, self._blobs, INLINE_BODY_LIMIT)

    def close_blocking(self) -> None:
        self._db.close_blocking()
        self._release_lock()

    def _release_lock(self) -> None:
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1

    # Accounts ---------------------------------------------------------------------------------

    async def add_domain(self, name: str) -> Domain:
        return await self._db.write(lambda tx: accounts.add_domain(tx, name))

    async def get_domain(self, name: str) -> Domain | None:
        return await self._db.read(lambda c: accounts.get_domain(c, name))

    async def list_domains(self) -> list[Domain]:
        return await self._db.read(accounts.list_domains)

    async def delete_domain(self, name: str) -> None:
        await self._db.write(lambda tx: accounts.delete_domain(tx, name))

    async def set_catch_all(self, domain: str, address: str | None) -> None:
        await self._db.write(lambda tx: accounts.set_catch_all(tx, domain, address))

    async def add_account(self, address: str, password_hash: str, scram_sha256: str | None,
                          quota_bytes: int | None = None) -> Account:
        return await self._db.write(
            lambda tx: accounts.add_account(tx, address, password_hash, scram_sha256, quota_bytes))

    async def get_account(self, address: str) -> Account | None:
        return await self._db.read(lambda c: accounts.get_account(c, address))

    async def get_account_by_id(self, account_id: AccountId) -> Account:
        return await self._db.read(lambda c: accounts.get_account_by_id(c, account_id))

    async def list_accounts(self, domain: str | None = None) -> list[Account]:
        return await self._db.read(lambda c: accounts.list_accounts(c, domain))

    async def delete_account(self, address: str) -> None:
        def work(tx: Transaction) -> None:
            messages.unref_bodies(tx, self._blobs, accounts.delete_account(tx, address))
        await self._db.write(work)

    async def set_password(self, address: str, password_hash: str,
                           scram_sha256: str | None) -> None:
        await self._db.write(
            lambda tx: accounts.set_password(tx, address, password_hash, scram_sha256))

    async def set_quota(self, address: str, quota_bytes: int | None) -> None:
        await self._db.write(
            lambda tx: accounts.update_account(tx, address, "quota_bytes", quota_bytes))

    async def set_pop3_delete_policy(self, address: str, policy: Pop3DeletePolicy) -> None:
        await self._db.write(
            lambda tx: accounts.update_account(tx, address, "pop3_delete_policy", policy.value))

    async def get_credentials(self, address: str) -> Credentials | None:
        return await self._db.read(lambda c: accounts.get_credentials(c, address))

    async def add_alias(self, address: str, targets: Sequence[str]) -> Alias:
        return await self._db.write(lambda tx: accounts.add_alias(tx, address, targets))

    async def delete_alias(self, address: str) -> None:
        await self._db.write(lambda tx: accounts.delete_alias(tx, address))

    async def list_aliases(self) -> list[Alias]:
        return await self._db.read(accounts.list_aliases)

    async def resolve_recipient(self, address: str) -> Recipient:
        return await self._db.read(lambda c: accounts.resolve_recipient(c, address))

    async def addresses_of(self, account_id: AccountId) -> list[str]:
        return await self._db.read(lambda c: accounts.addresses_of(c, account_id))

    # Mailboxes --------------------------------------------------------------------------------

    async def list_mailboxes(self, account: AccountId) -> list[Mailbox]:
        return await self._db.read(lambda c: mailboxes.list_mailboxes(c, account))

    async def get_mailbox(self, account: AccountId, name: str) -> Mailbox:
        return await self._db.read(lambda c: mailboxes.get_mailbox(c, account, name))

    async def get_mailbox_by_id(self, account: AccountId, mailbox: MailboxId) -> Mailbox:
        return await self._db.read(lambda c: mailboxes.get_mailbox_by_id(c, account, mailbox))

    async def find_special_use(self, account: AccountId, use: SpecialUse) -> Mailbox | None:
        return await self._db.read(lambda c: mailboxes.find_special_use(c, account, use))

    async def create_mailbox(self, account: AccountId, name: str,
                             special_use: SpecialUse | None = None) -> Mailbox:
        return await self._db.write(
            lambda tx: mailboxes.create_mailbox(tx, account, name, special_use))

    async def delete_mailbox(self, account: AccountId, name: str) -> None:
        def work(tx: Transaction) -> None:
            messages.unref_bodies(tx, self._blobs, mailboxes.delete_mailbox(tx, account, name))
        await self._db.write(work)

    async def rename_mailbox(self, account: AccountId, old: str, new: str) -> None:
        await self._db.write(lambda tx: mailboxes.rename_mailbox(tx, account, old, new))

    async def set_subscribed(self, account: AccountId, name: str, subscribed: bool) -> None:
        await self._db.write(lambda tx: mailboxes.set_subscribed(tx, account, name, subscribed))

    async def list_subscriptions(self, account: AccountId) -> list[str]:
        return await self._db.read(lambda c: mailboxes.list_subscriptions(c, account))

    async def status(self, account: AccountId, mailbox: MailboxId) -> MailboxStatus:
        def work(conn: sqlite3.Connection) -> MailboxStatus:
            box = mailboxes.get_mailbox_by_id(conn, account, mailbox)
            first_recent = conn.execute("SELECT first_recent_uid FROM mailboxes WHERE id = ?",
                                        (mailbox,)).fetchone()[0]
            count, unseen, deleted, recent, size = conn.execute(
                "SELECT count(*), coalesce(sum(system_flags & ? = 0), 0),"
                " coalesce(sum(system_flags & ? != 0), 0), coalesce(sum(uid >= ?), 0),"
                " coalesce(sum(size), 0) FROM messages WHERE mailbox_id = ?",
                (records.SEEN_BIT, records.DELETED_BIT, first_recent, mailbox)).fetchone()
            return MailboxStatus(box, count, unseen, deleted, recent, size)
        return await self._db.read(work)

    async def claim_recent(self, account: AccountId, mailbox: MailboxId) -> Uid:
        def work(tx: Transaction) -> Uid:
            messages.require_mailbox(tx.conn, account, mailbox)
            first = tx.conn.execute("SELECT first_recent_uid FROM mailboxes WHERE id = ?",
                                    (mailbox,)).fetchone()[0]
            tx.conn.execute("UPDATE mailboxes SET first_recent_uid = uidnext WHERE id = ?",
                            (mailbox,))
            return Uid(int(first))
        return await self._db.write(work, durable=False)

    # Messages ---------------------------------------------------------------------------------

    def _stored_body(self, data: bytes, parsed: ParsedBody) -> StoredBody:
        """Blocking: a small body travels inline; a large one is written and fsync'd first."""
        if len(data) <= INLINE_BODY_LIMIT:
            return StoredBody(blob_id_of(data), len(data), parsed, inline=data)
        return StoredBody(self._blobs.write(data), len(data), parsed)

    async def _store_bodies(self, datas: Sequence[bytes]) -> list[StoredBody]:
        def work() -> list[StoredBody]:
            return [self._stored_body(data, parse_body(data)) for data in datas]
        return await asyncio.to_thread(work)

    async def _write_with_bodies(self, datas: Sequence[bytes], bodies: list[StoredBody],
                                 job: Callable[[Transaction, list[StoredBody]], T]) -> T:
        """Run ``job`` with bodies already stored (``datas`` are their bytes, in order)."""
        for _attempt in range(_BODY_RETRIES):
            try:
                return await self._db.write(lambda tx: job(tx, bodies))
            except TryLater:
                # An identical body was deleted between our write and our commit: rewrite it.
                await asyncio.to_thread(self._rewrite_files, datas, bodies)
        raise TryLater("could not store the message body; try again")

    def _rewrite_files(self, datas: Sequence[bytes], bodies: list[StoredBody]) -> None:
        for data, body in zip(datas, bodies, strict=True):
            if body.inline is None:
                self._blobs.write(data)

    async def _write_with_body(self, data: bytes, job: Callable[[Transaction, StoredBody], T]) -> T:
        bodies = await self._store_bodies([data])
        return await self._write_with_bodies([data], bodies, lambda tx, b: job(tx, b[0]))

    async def append(self, account: AccountId, mailbox: MailboxId, data: bytes,
                     flags: frozenset[Flag] = frozenset(),
                     internal_date: datetime | None = None) -> AppendResult:
        date = internal_date or datetime.now(UTC)

        def job(tx: Transaction, body: StoredBody) -> AppendResult:
            uidvalidity = messages.require_mailbox(tx.conn, account, mailbox)[0]
            record = messages.insert_message(tx, self._blobs, account, mailbox, body,
                                             body.parsed.structure_json, b"", flags, date)
            return AppendResult(uidvalidity, record)  # type: ignore[arg-type]
        return await self._write_with_body(data, job)

    async def append_many(self, account: AccountId, mailbox: MailboxId,
                          batch: Sequence[AppendedMessage]) -> list[AppendResult]:
        """One write job for the whole set: a failing message fails the job, and the job's
        savepoint takes every message of the set back with it. The single writer makes the
        UIDs consecutive; the quota is charged message by message, so the set must fit."""
        now = datetime.now(UTC)
        datas = [message.data for message in batch]
        bodies = await self._store_bodies(datas)

        def job(tx: Transaction, stored: list[StoredBody]) -> list[AppendResult]:
            uidvalidity = messages.require_mailbox(tx.conn, account, mailbox)[0]
            return [AppendResult(uidvalidity, messages.insert_message(  # type: ignore[arg-type]
                tx, self._blobs, account, mailbox, body, body.parsed.structure_json, b"",
                message.flags, message.internal_date or now))
                for message, body in zip(batch, stored, strict=True)]
        return await self._write_with_bodies(datas, bodies, job)

    async def deliver(self, data: bytes, targets: Sequence[DeliveryTarget],
                      internal_date: datetime | None = None) -> list[DeliveryResult]:
        """Store one body for many recipients; each target succeeds or fails on its own."""
        date = internal_date or datetime.now(UTC)
        return await self._write_with_body(
            data, lambda tx, body: self._deliver_all(tx, body, targets, date))

    async def deliver_and_enqueue(self, data: bytes, targets: Sequence[DeliveryTarget],
                                  outbound: OutboundCopy, internal_date: datetime | None = None
                                  ) -> tuple[list[DeliveryResult], QueueId]:
        """``deliver`` and ``enqueue`` as one write job, so one group commit makes both
        durable, or neither: a queueing failure fails the job and its savepoint takes the
        local copies back too."""
        date = internal_date or datetime.now(UTC)
        queued = outbound.header_prefix + data

        def prepare() -> list[StoredBody]:
            parsed = parse_body(data)
            # The queued copy only adds trace fields before the same body: its summary and
            # search text are the body's, so it is not parsed a second time.
            return [self._stored_body(data, parsed), self._stored_body(queued, parsed)]

        def job(tx: Transaction, bodies: list[StoredBody]) -> tuple[list[DeliveryResult],
                                                                    QueueId]:
            results = self._deliver_all(tx, bodies[0], targets, date)
            return results, queue.enqueue(tx, self._blobs, bodies[1], outbound.envelope, date)
        bodies = await asyncio.to_thread(prepare)
        return await self._write_with_bodies([data, queued], bodies, job)

    def _deliver_all(self, tx: Transaction, body: StoredBody, targets: Sequence[DeliveryTarget],
                     date: datetime) -> list[DeliveryResult]:
        results: list[DeliveryResult] = []
        for target in targets:
            mark = (len(tx.changes), len(tx.after_commit))
            tx.conn.execute("SAVEPOINT target")
            try:
                record = self._deliver_one(tx, body, target, date)
            except MailError as exc:
                if isinstance(exc, TryLater):
                    raise
                tx.conn.execute("ROLLBACK TO target")
                del tx.changes[mark[0]:]
                del tx.after_commit[mark[1]:]
                results.append(DeliveryResult(target, None, exc))
            else:
                results.append(DeliveryResult(target, record))
            tx.conn.execute("RELEASE target")
        return results

    def _deliver_one(self, tx: Transaction, body: StoredBody, target: DeliveryTarget,
                     date: datetime) -> MessageRecord:
        name = target.mailbox or INBOX
        try:
            box = mailboxes.get_mailbox(tx.conn, target.account_id, name)
        except NotFound:
            box = mailboxes.get_mailbox(tx.conn, target.account_id, INBOX)
        structure = structure_for_prefix(body.parsed, len(target.header_prefix))
        return messages.insert_message(tx, self._blobs, target.account_id, box.id, body,
                                       structure, target.header_prefix, target.flags, date)

    async def message_states(self, account: AccountId, mailbox: MailboxId,
                             changed_since: ModSeq | None = None) -> list[MessageState]:
        return await self._db.read(
            lambda c: messages.message_states(c, account, mailbox, changed_since))

    async def get_messages(self, account: AccountId, mailbox: MailboxId,
                           uids: UidSet | None = None) -> list[MessageRecord]:
        return await self._db.read(lambda c: messages.get_messages(c, account, mailbox, uids))

    async def list_messages(self, account: AccountId, mailbox: MailboxId,
                            uids: UidSet | None = None, *,
                            structure: bool = False) -> list[ListedMessage]:
        return await self._db.read(
            lambda c: messages.list_messages(c, account, mailbox, uids, structure))

    async def read_message(self, account: AccountId, record: MessageRecord) -> bytes:
        def work(conn: sqlite3.Connection) -> bytes:
            body = messages.read_body(conn, self._blobs, record.blob_id)
            return record.header_prefix + body if record.header_prefix else body
        return await self._db.read(work)

    async def read_messages(self, account: AccountId,
                            records: Sequence[MessageRecord]) -> list[bytes | None]:
        if not records:
            return []
        found = await self._db.read(lambda c: messages.read_bodies(
            c, self._blobs, [record.blob_id for record in records]))
        return [_with_prefix(record, found.get(record.blob_id)) for record in records]

    async def set_flags(self, account: AccountId, mailbox: MailboxId, uids: UidSet, op: FlagOp,
                        flags: frozenset[Flag],
                        unchanged_since: ModSeq | None = None) -> FlagResult:
        return await self._db.write(
            lambda tx: messages.set_flags(tx, account, mailbox, uids, op, flags, unchanged_since),
            durable=False)

    async def copy(self, account: AccountId, source: MailboxId, uids: UidSet,
                   destination: MailboxId) -> CopyResult:
        return await self._db.write(
            lambda tx: messages.copy_messages(tx, account, source, uids, destination))

    async def move(self, account: AccountId, source: MailboxId, uids: UidSet,
                   destination: MailboxId) -> CopyResult:
        return await self._db.write(
            lambda tx: messages.move_messages(tx, account, source, uids, destination))

    async def expunge(self, account: AccountId, mailbox: MailboxId,
                      uids: UidSet | None = None) -> list[Uid]:
        return await self._db.write(lambda tx: messages.remove_messages(
            tx, self._blobs, account, mailbox, uids, only_deleted=True))

    async def remove(self, account: AccountId, mailbox: MailboxId, uids: UidSet) -> list[Uid]:
        return await self._db.write(lambda tx: messages.remove_messages(
            tx, self._blobs, account, mailbox, uids, only_deleted=False))

    async def vanished_since(self, account: AccountId, mailbox: MailboxId,
                             modseq: ModSeq) -> UidSet | None:
        return await self._db.read(lambda c: messages.vanished_since(c, account, mailbox, modseq))

    async def search_text(self, account: AccountId, mailbox: MailboxId, query: str) -> UidSet:
        return await self._db.read(lambda c: messages.search_text(c, account, mailbox, query))

    async def prune_expunge_history(self, before: datetime, batch: int = 1000) -> int:
        # One write job per batch: deliveries and expunges queue between them, never behind a
        # long purge.
        total = 0
        while True:
            pruned = await self._db.write(lambda tx: messages.prune_expunged(tx, before, batch))
            total += pruned
            if pruned < batch:
                return total

    # Outbound queue --------------------------------------------------------------------------

    async def enqueue(self, data: bytes, envelope: OutboundEnvelope) -> QueueId:
        now = datetime.now(UTC)
        return await self._write_with_body(
            data, lambda tx, body: queue.enqueue(tx, self._blobs, body, envelope, now))

    async def list_queue(self) -> list[QueuedMessage]:
        return await self._db.read(queue.list_queue)

    async def get_queued(self, queue_id: QueueId) -> QueuedMessage:
        return await self._db.read(lambda c: queue.get_queued(c, queue_id))

    async def read_queued(self, message: QueuedMessage) -> bytes:
        def work(conn: sqlite3.Connection) -> bytes:
            return messages.read_body(conn, self._blobs, message.blob_id)
        return await self._db.read(work)

    async def delete_queued(self, queue_id: QueueId) -> None:
        await self._db.write(lambda tx: queue.delete_queued(tx, self._blobs, queue_id))

    async def claim_due(self, now: datetime, lease_until: datetime,
                        limit: int) -> list[QueuedMessage]:
        return await self._db.write(lambda tx: queue.claim_due(tx, now, lease_until, limit))

    async def next_due(self) -> datetime | None:
        return await self._db.read(queue.next_due)

    async def record_attempt(self, queue_id: QueueId, updates: Sequence[RecipientUpdate],
                             now: datetime) -> None:
        await self._db.write(lambda tx: queue.record_attempt(tx, queue_id, updates, now))

    async def release(self, queue_id: QueueId, recipient_ids: Sequence[int]) -> None:
        await self._db.write(lambda tx: queue.release(tx, queue_id, recipient_ids))

    async def retry_now(self, queue_id: QueueId, now: datetime) -> int:
        return await self._db.write(lambda tx: queue.retry_now(tx, queue_id, now))

    async def pending_notices(self, limit: int) -> list[QueuedMessage]:
        return await self._db.read(lambda c: queue.pending_notices(c, limit))

    async def clear_notices(self, queue_id: QueueId, recipient_ids: Sequence[int]) -> None:
        await self._db.write(lambda tx: queue.clear_notices(tx, queue_id, recipient_ids))

    async def purge_queue(self, finished_before: datetime) -> int:
        return await self._db.write(lambda tx: queue.purge(tx, self._blobs, finished_before))

    async def queue_status(self, account: AccountId, message_ids: Sequence[str] | None = None,
                           limit: int = 100) -> list[QueuedMessage]:
        return await self._db.read(
            lambda c: queue.queue_status(c, account, message_ids, limit))

    async def quota(self, account: AccountId) -> Quota:
        found = await self.get_account_by_id(account)
        return Quota(found.used_bytes, found.quota_bytes, found.message_count)


def _with_prefix(record: MessageRecord, body: bytes | None) -> bytes | None:
    if body is None or not record.header_prefix:
        return body
    return record.header_prefix + body


def _migrate(tx: Transaction) -> None:
    """Create a new store from schema.sql (always the whole current schema), or upgrade an
    older one step by step; all in the one transaction ``open`` runs this in."""
    tx.conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    row = tx.conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    version = int(row[0]) if row else 0
    if version > SCHEMA_VERSION:
        raise MailError(f"the store was written by a newer Postier (schema {version});"
                        " upgrade Postier to open it")
    if version == SCHEMA_VERSION:
        return
    if version == 0:
        schema = resources.files("postier.store.sqlite").joinpath("schema.sql").read_text()
        for statement in schema.split(";\n"):
            if statement.strip():
                tx.conn.execute(statement)
    else:
        for step in range(version, SCHEMA_VERSION):
            log.info("upgrading the store from schema %d to %d", step, step + 1)
            _UPGRADES[step](tx)
    tx.conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)",
                    (str(SCHEMA_VERSION),))


def _upgrade_1_to_2(tx: Transaction) -> None:
    """When each expunge happened, so that the history can be pruned. Expunges logged before
    the upgrade count as happening now: they are kept for a whole retention period from here."""
    # ADD COLUMN needs a constant default; every row gets a real time right away, and new rows
    # always name theirs.
    tx.conn.execute("ALTER TABLE expunged ADD COLUMN expunged_at TEXT NOT NULL DEFAULT ''")
    tx.conn.execute("UPDATE expunged SET expunged_at = ?", (stamp(datetime.now(UTC)),))
    tx.conn.execute("CREATE INDEX IF NOT EXISTS expunged_time ON expunged (expunged_at)")


# Schema version N → N + 1.
_UPGRADES: dict[int, Callable[[Transaction], None]] = {1: _upgrade_1_to_2}


def _recover(db: Database, blobs: FileBlobStore) -> None:
    blobs.sweep_tmp()
    known = {row[0] for row in db.read_blocking(
        lambda c: c.execute("SELECT sha256 FROM blobs WHERE data IS NULL").fetchall())}
    orphans = [blob for blob in blobs.all_ids() if blob not in known]
    for blob in orphans:
        blobs.delete(blob)
    if orphans:
        log.info("removed %d message file(s) left by an interrupted delivery", len(orphans))
