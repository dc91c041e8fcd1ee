"""The PostgreSQL store: every node of a Postier cluster opens one on the same database.

How this works: metadata, bodies (bytea, content-addressed and reference-counted) and the
search index live in PostgreSQL, so nodes share nothing else — no shared filesystem. Writes run
in ``Database.write`` (one transaction each, row locks, retry on deadlock; changes announced
with NOTIFY inside the transaction and published on the local hub after commit); reads run on
pooled connections, multi-statement reads in one REPEATABLE READ snapshot. A new message is
parsed (and its search document built) in a worker thread before its transaction starts, so no
transaction waits for the CPU. ``start_listening`` (called by the server, not by CLI commands)
starts the LISTEN connection that brings other nodes' changes to this node's hub.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import TypeVar

from postier.auth.throttle import ThrottleLimits
from postier.errors import MailError, NotFound
from postier.store import records
from postier.store.blobs_fs import blob_id_of
from postier.store.bodies import parse_body, structure_for_prefix
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
from postier.store.postgres import accounts, mailboxes, messages, queue, reads, search
from postier.store.postgres.database import Connection, Database, Transaction
from postier.store.postgres.locks import AdvisoryMaildropLocks
from postier.store.postgres.messages import Body, NewMessage
from postier.store.postgres.notify import ChangeListener
from postier.store.postgres.throttle import PostgresThrottle
from postier.store.postgres.transfer import PostgresTransfer
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
    UidValidity,
    normalize_mailbox_name,
)

__all__ = ["PostgresStore"]

T = TypeVar("T")
log = logging.getLogger(__name__)


class PostgresStore:
    def __init__(self, dsn: str, db: Database, hub: ChangeHub) -> None:
        self.dsn = dsn
        self.hub = hub
        self._db = db
        self._listener: ChangeListener | None = None

    @classmethod
    async def open(cls, dsn: str, hub: ChangeHub | None = None, *,
                   pool_size: int = 10) -> PostgresStore:
        """Connect, migrate the schema if needed, and return the store (not yet listening)."""
        hub = hub or ChangeHub()
        db = await Database.connect(dsn, hub, max_size=pool_size)
        return cls(dsn, db, hub)

    @property
    def node_id(self) -> str:
        return self._db.node_id

    @property
    def database(self) -> Database:
        return self._db

    async def start_listening(self) -> None:
        """Receive other nodes' changes on this node's hub until ``close``."""
        if self._listener is None:
            listener = ChangeListener(self.dsn, self._db.pool, self.hub, self._db.channel,
                                      self._db.node_id)
            await listener.start()
            self._listener = listener

    def maildrop_locks(self) -> AdvisoryMaildropLocks:
        """POP3's one-session-per-account lock, across every node."""
        return AdvisoryMaildropLocks(self.dsn, self._db.lock_namespace)

    def failure_throttle(self, limits: ThrottleLimits) -> PostgresThrottle:
        """Authentication failure counters shared by every node."""
        return PostgresThrottle(self._db, limits)

    def transfer(self) -> PostgresTransfer:
        """Whole-store export and import, for ``postier store copy``."""
        return PostgresTransfer(self._db)

    async def close(self) -> None:
        if self._listener is not None:
            await self._listener.close()
            self._listener = None
        await self._db.close()

    def _write(self, work: Callable[[Transaction], Awaitable[T]]) -> Awaitable[T]:
        return self._db.write(work)

    # Domains and accounts ---------------------------------------------------------------------

    async def add_domain(self, name: str) -> Domain:
        return await self._write(lambda tx: accounts.add_domain(tx, name))

    async def get_domain(self, name: str) -> Domain | None:
        return await self._db.read(lambda c: accounts.get_domain(c, name))

    async def list_domains(self) -> list[Domain]:
        return await self._db.read(accounts.list_domains)

    async def delete_domain(self, name: str) -> None:
        await self._write(lambda tx: accounts.delete_domain(tx, name))

    async def set_catch_all(self, domain: str, address: str | None) -> None:
        await self._write(lambda tx: accounts.set_catch_all(tx, domain, address))

    async def add_account(self, address: str, password_hash: str, scram_sha256: str | None,
                          quota_bytes: int | None = None) -> Account:
        return await self._write(lambda tx: accounts.add_account(
            tx, address, password_hash, scram_sha256, quota_bytes))

    async def get_account(self, address: str) -> Account | None:
        return await self._db.read(lambda c: accounts.get_account(c, address))

    async def get_account_by_id(self, account_id: AccountId) -> Account:
        return await self._db.read(lambda c: accounts.get_account_by_id(c, account_id))

    async def list_accounts(self, domain: str | None = None) -> list[Account]:
        return await self._db.read(lambda c: accounts.list_accounts(c, domain))

    async def delete_account(self, address: str) -> None:
        async def work(tx: Transaction) -> None:
            await messages.unref_bodies(tx.conn, await accounts.delete_account(tx, address))
        await self._write(work)

    async def set_password(self, address: str, password_hash: str,
                           scram_sha256: str | None) -> None:
        await self._write(
            lambda tx: accounts.set_password(tx, address, password_hash, scram_sha256))

    async def set_quota(self, address: str, quota_bytes: int | None) -> None:
        await self._write(
            lambda tx: accounts.update_account(tx, address, "quota_bytes", quota_bytes))

    async def set_pop3_delete_policy(self, address: str, policy: Pop3DeletePolicy) -> None:
        await self._write(lambda tx: accounts.update_account(
            tx, address, "pop3_delete_policy", policy.value))

    async def get_credentials(self, address: str) -> Credentials | None:
        return await self._db.read(lambda c: accounts.get_credentials(c, address))

    async def add_alias(self, address: str, targets: Sequence[str]) -> Alias:
        return await self._write(lambda tx: accounts.add_alias(tx, address, targets))

    async def delete_alias(self, address: str) -> None:
        await self._write(lambda tx: accounts.delete_alias(tx, address))

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
        return await self._write(
            lambda tx: mailboxes.create_mailbox(tx, account, name, special_use))

    async def delete_mailbox(self, account: AccountId, name: str) -> None:
        async def work(tx: Transaction) -> None:
            await messages.unref_bodies(
                tx.conn, await mailboxes.delete_mailbox(tx, account, name))
        await self._write(work)

    async def rename_mailbox(self, account: AccountId, old: str, new: str) -> None:
        await self._write(lambda tx: mailboxes.rename_mailbox(tx, account, old, new))

    async def set_subscribed(self, account: AccountId, name: str, subscribed: bool) -> None:
        await self._write(lambda tx: mailboxes.set_subscribed(tx, account, name, subscribed))

    async def list_subscriptions(self, account: AccountId) -> list[str]:
        return await self._db.read(lambda c: mailboxes.list_subscriptions(c, account))

    async def status(self, account: AccountId, mailbox: MailboxId) -> MailboxStatus:
        async def work(conn: Connection) -> MailboxStatus:
            box = await mailboxes.get_mailbox_by_id(conn, account, mailbox)
            row = await conn.fetchrow(
                "SELECT count(m.id), count(m.id) FILTER (WHERE m.system_flags & $2 = 0),"
                " count(m.id) FILTER (WHERE m.system_flags & $3 <> 0),"
                " count(m.id) FILTER (WHERE m.uid >= b.first_recent_uid), coalesce(sum(m.size), 0)"
                " FROM mailboxes b LEFT JOIN messages m ON m.mailbox_id = b.id WHERE b.id = $1"
                " GROUP BY b.id", mailbox, records.SEEN_BIT, records.DELETED_BIT)
            if row is None:
                raise NotFound("the mailbox no longer exists")
            count, unseen, deleted, recent, size = (int(v) for v in row)
            return MailboxStatus(box, count, unseen, deleted, recent, size)
        return await self._db.snapshot(work)

    async def claim_recent(self, account: AccountId, mailbox: MailboxId) -> Uid:
        async def work(tx: Transaction) -> Uid:
            first = await tx.conn.fetchval(
                "UPDATE mailboxes b SET first_recent_uid = b.uidnext FROM (SELECT id,"
                " first_recent_uid FROM mailboxes WHERE id = $1 AND account_id = $2 FOR UPDATE)"
                " AS old WHERE b.id = old.id RETURNING old.first_recent_uid", mailbox, account)
            if first is None:
                raise NotFound("the mailbox no longer exists")
            return Uid(int(first))
        return await self._write(work)

    # Messages ---------------------------------------------------------------------------------

    async def _prepare(self, data: bytes) -> Body:
        def work() -> Body:
            parsed = parse_body(data)
            document = search.document(parsed.search_subject, parsed.search_addresses,
                                       parsed.search_body)
            return Body(blob_id_of(data), data, parsed, document)
        return await asyncio.to_thread(work)

    async def append(self, account: AccountId, mailbox: MailboxId, data: bytes,
                     flags: frozenset[Flag] = frozenset(),
                     internal_date: datetime | None = None) -> AppendResult:
        date = internal_date or datetime.now(UTC)
        body = await self._prepare(data)
        target = NewMessage(account, mailbox, "", b"", body.parsed.structure_json, flags)
        [result] = await self._insert(body, [target], date)
        if isinstance(result, MailError):
            raise result
        return AppendResult(*result)

    async def append_many(self, account: AccountId, mailbox: MailboxId,
                          batch: Sequence[AppendedMessage]) -> list[AppendResult]:
        """One transaction for the set: the mailbox row is locked first, so the UIDs are
        consecutive; each message is one ``postier_deliver`` call in it, and the first failure
        (over quota as the set grows, say) rolls back everything, announcements included."""
        if len(batch) == 1:  # the one-statement path
            only = batch[0]
            return [await self.append(account, mailbox, only.data, only.flags,
                                      only.internal_date)]
        now = datetime.now(UTC)
        bodies = [await self._prepare(message.data) for message in batch]
        db = self._db

        async def work(tx: Transaction) -> list[AppendResult]:
            await messages.require_mailbox(tx.conn, account, mailbox, lock=True)
            appended: list[AppendResult] = []
            for message, body in zip(batch, bodies, strict=True):
                target = NewMessage(account, mailbox, "", b"", body.parsed.structure_json,
                                    message.flags)
                [outcome], changes = await messages.insert_messages(
                    tx.conn, body, [target], message.internal_date or now, db.node_id,
                    db.channel)
                if isinstance(outcome, MailError):
                    raise outcome
                tx.announced += changes
                appended.append(AppendResult(*outcome))
            return appended
        return await self._write(work)

    async def deliver(self, data: bytes, targets: Sequence[DeliveryTarget],
                      internal_date: datetime | None = None) -> list[DeliveryResult]:
        """Store one body for many recipients in one statement; each target succeeds or fails
        on its own. The function locks the mailboxes in id order, then the accounts."""
        date = internal_date or datetime.now(UTC)
        body = await self._prepare(data)
        outcomes = await self._insert(body, self._new_messages(body, targets), date)
        return _delivery_results(targets, outcomes)

    async def deliver_and_enqueue(self, data: bytes, targets: Sequence[DeliveryTarget],
                                  outbound: OutboundCopy, internal_date: datetime | None = None
                                  ) -> tuple[list[DeliveryResult], QueueId]:
        """``postier_deliver`` and the queue rows in one transaction: a queueing failure rolls
        back the local copies (and their announcements) too."""
        date = internal_date or datetime.now(UTC)
        body = await self._prepare(data)
        # The queued copy only adds trace fields before the same body: its summary and search
        # document are the body's, so it is not parsed a second time.
        queued_data = outbound.header_prefix + data
        queued = Body(blob_id_of(queued_data), queued_data, body.parsed, body.document)
        new = self._new_messages(body, targets)
        db = self._db

        async def work(tx: Transaction) -> tuple[list[DeliveryResult], QueueId]:
            outcomes, changes = await messages.insert_messages(
                tx.conn, body, new, date, db.node_id, db.channel)
            tx.announced += changes
            queue_id = await queue.enqueue(tx, queued, outbound.envelope, date)
            return _delivery_results(targets, outcomes), queue_id
        return await self._write(work)

    @staticmethod
    def _new_messages(body: Body, targets: Sequence[DeliveryTarget]) -> list[NewMessage]:
        return [NewMessage(target.account_id, None,
                           normalize_mailbox_name(target.mailbox or INBOX), target.header_prefix,
                           structure_for_prefix(body.parsed, len(target.header_prefix)),
                           target.flags)
                for target in targets]

    async def _insert(self, body: Body, targets: list[NewMessage], date: datetime
                      ) -> list[tuple[UidValidity, MessageRecord] | MailError]:
        db = self._db
        return await db.statement(lambda conn: messages.insert_messages(
            conn, body, targets, date, db.node_id, db.channel))

    async def message_states(self, account: AccountId, mailbox: MailboxId,
                             changed_since: ModSeq | None = None) -> list[MessageState]:
        return await self._db.read(
            lambda c: reads.message_states(c, account, mailbox, changed_since))

    async def get_messages(self, account: AccountId, mailbox: MailboxId,
                           uids: UidSet | None = None) -> list[MessageRecord]:
        return await self._db.read(
            lambda c: reads.get_messages(c, account, mailbox, uids))

    async def list_messages(self, account: AccountId, mailbox: MailboxId,
                            uids: UidSet | None = None, *,
                            structure: bool = False) -> list[ListedMessage]:
        return await self._db.read(
            lambda c: reads.list_messages(c, account, mailbox, uids, structure))

    async def read_message(self, account: AccountId, record: MessageRecord) -> bytes:
        body = await self._db.read(lambda c: reads.read_body(c, record.blob_id))
        return record.header_prefix + body if record.header_prefix else body

    async def read_messages(self, account: AccountId,
                            records: Sequence[MessageRecord]) -> list[bytes | None]:
        if not records:
            return []
        found = await self._db.read(
            lambda c: reads.read_bodies(c, [record.blob_id for record in records]))
        bodies: list[bytes | None] = []
        for record in records:
            body = found.get(record.blob_id)
            bodies.append(record.header_prefix + body
                          if body is not None and record.header_prefix else body)
        return bodies

    async def set_flags(self, account: AccountId, mailbox: MailboxId, uids: UidSet, op: FlagOp,
                        flags: frozenset[Flag],
                        unchanged_since: ModSeq | None = None) -> FlagResult:
        return await self._write(lambda tx: messages.set_flags(
            tx, account, mailbox, uids, op, flags, unchanged_since))

    async def copy(self, account: AccountId, source: MailboxId, uids: UidSet,
                   destination: MailboxId) -> CopyResult:
        return await self._write(
            lambda tx: messages.copy_messages(tx, account, source, uids, destination))

    async def move(self, account: AccountId, source: MailboxId, uids: UidSet,
                   destination: MailboxId) -> CopyResult:
        return await self._write(
            lambda tx: messages.move_messages(tx, account, source, uids, destination))

    async def expunge(self, account: AccountId, mailbox: MailboxId,
                      uids: UidSet | None = None) -> list[Uid]:
        return await self._write(lambda tx: messages.remove_messages(
            tx, account, mailbox, uids, only_deleted=True))

    async def remove(self, account: AccountId, mailbox: MailboxId, uids: UidSet) -> list[Uid]:
        return await self._write(lambda tx: messages.remove_messages(
            tx, account, mailbox, uids, only_deleted=False))

    async def vanished_since(self, account: AccountId, mailbox: MailboxId,
                             modseq: ModSeq) -> UidSet | None:
        return await self._db.snapshot(
            lambda c: reads.vanished_since(c, account, mailbox, modseq))

    async def search_text(self, account: AccountId, mailbox: MailboxId, query: str) -> UidSet:
        return await self._db.snapshot(
            lambda c: reads.search_text(c, account, mailbox, query))

    async def prune_expunge_history(self, before: datetime, batch: int = 1000) -> int:
        total = 0
        # One short transaction per batch, until one finds nothing: a short batch does not mean
        # the end, as another node pruning at once may have taken rows this one had chosen.
        while True:
            pruned = await self._write(lambda tx: messages.prune_expunged(tx, before, batch))
            total += pruned
            if pruned == 0:
                return total

    async def quota(self, account: AccountId) -> Quota:
        found = await self.get_account_by_id(account)
        return Quota(found.used_bytes, found.quota_bytes, found.message_count)

    # Outbound queue --------------------------------------------------------------------------

    async def enqueue(self, data: bytes, envelope: OutboundEnvelope) -> QueueId:
        now = datetime.now(UTC)
        body = await self._prepare(data)
        return await self._write(lambda tx: queue.enqueue(tx, body, envelope, now))

    async def list_queue(self) -> list[QueuedMessage]:
        return await self._db.snapshot(queue.list_queue)

    async def get_queued(self, queue_id: QueueId) -> QueuedMessage:
        return await self._db.snapshot(lambda c: queue.get_queued(c, queue_id))

    async def read_queued(self, message: QueuedMessage) -> bytes:
        return await self._db.read(lambda c: reads.read_body(c, message.blob_id))

    async def delete_queued(self, queue_id: QueueId) -> None:
        await self._write(lambda tx: queue.delete_queued(tx, queue_id))

    async def claim_due(self, now: datetime, lease_until: datetime,
                        limit: int) -> list[QueuedMessage]:
        return await self._write(lambda tx: queue.claim_due(tx, now, lease_until, limit))

    async def next_due(self) -> datetime | None:
        return await self._db.read(queue.next_due)

    async def record_attempt(self, queue_id: QueueId, updates: Sequence[RecipientUpdate],
                             now: datetime) -> None:
        await self._write(lambda tx: queue.record_attempt(tx, queue_id, updates, now))

    async def release(self, queue_id: QueueId, recipient_ids: Sequence[int]) -> None:
        await self._write(lambda tx: queue.release(tx, queue_id, recipient_ids))

    async def retry_now(self, queue_id: QueueId, now: datetime) -> int:
        return await self._write(lambda tx: queue.retry_now(tx, queue_id, now))

    async def pending_notices(self, limit: int) -> list[QueuedMessage]:
        return await self._db.snapshot(lambda c: queue.pending_notices(c, limit))

    async def clear_notices(self, queue_id: QueueId, recipient_ids: Sequence[int]) -> None:
        await self._write(lambda tx: queue.clear_notices(tx, queue_id, recipient_ids))

    async def purge_queue(self, finished_before: datetime) -> int:
        return await self._write(lambda tx: queue.purge(tx, finished_before))

    async def queue_status(self, account: AccountId, message_ids: Sequence[str] | None = None,
                           limit: int = 100) -> list[QueuedMessage]:
        return await self._db.snapshot(
            lambda c: queue.queue_status(c, account, message_ids, limit))


def _delivery_results(targets: Sequence[DeliveryTarget],
                      outcomes: Sequence[tuple[UidValidity, MessageRecord] | MailError]
                      ) -> list[DeliveryResult]:
    return [DeliveryResult(target, None, outcome) if isinstance(outcome, MailError)
            else DeliveryResult(target, outcome[1])
            for target, outcome in zip(targets, outcomes, strict=True)]
