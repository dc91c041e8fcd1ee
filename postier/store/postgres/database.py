"""PostgreSQL access: a connection pool, write transactions with retry, change announcements.

How this works: every mutation runs ``work(tx)`` inside one transaction on a pooled connection
(READ COMMITTED). Writers that touch a mailbox lock its row first (``SELECT ... FOR UPDATE`` or
``UPDATE mailboxes ... RETURNING``), so writers of one mailbox run one after the other: UIDs and
MODSEQs are taken from the row inside the transaction and a later transaction can only take
the next ones once the earlier one committed — strictly increasing in commit order, never
reused, on any number of nodes. SERIALIZABLE would give the same result for mailboxes (they
all update the same row) but abort and redo whole deliveries, bodies included, instead of
waiting a moment for a row lock; READ COMMITTED with explicit row locks is cheaper and as safe.
Lock order: a transaction that locks several rows locks every mailbox row it needs first, in
id order, then account rows, in id order (then blobs and the rest), so two writers never wait
for each other in a cycle. Should a deadlock happen anyway, PostgreSQL aborts one of them; it is
retried from the start, like a serialization failure, a few times with a random pause, and
counted in ``deadlock_retries``.

The changes a transaction made are announced with ``pg_notify`` *inside* it: PostgreSQL
delivers the notification only if the transaction commits, and in commit order, to every
node's LISTEN connection (``notify.py``). After COMMIT returns, the same changes are published
on this node's hub. A caller that is cancelled meanwhile does not cancel the transaction: it
finishes (shielded) and its changes are still published, as in the embedded store.

The hot path — a new message, by SMTP or APPEND — is one statement instead of a transaction
of a dozen: ``statement`` runs the ``postier_deliver`` function (migration 2), which takes the
same row locks, announces its own changes, and commits on its own; a round trip to the server
costs more CPU on a small machine than anything else a delivery does.

Connection trouble becomes ``TryLater`` (SMTP answers 4xx, the sender retries); a commit whose
outcome is unknown is reported the same way, so a message may arrive twice but is never lost.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeAlias, TypeVar

import asyncpg

from postier.errors import MailError, TryLater
from postier.store.changes import Change, ChangeHub, change_to_json
from postier.store.postgres.migrations import migrate

__all__ = ["Connection", "Database", "Transaction", "channel_for"]

T = TypeVar("T")
log = logging.getLogger(__name__)

Connection: TypeAlias = ("asyncpg.Connection[asyncpg.Record]"
                         " | asyncpg.pool.PoolConnectionProxy[asyncpg.Record]")

# NOTIFY payloads must stay under 8000 bytes; larger batches travel as a pointer.
PAYLOAD_LIMIT = 7900
_RETRIES = 8
_RETRYABLE: tuple[type[BaseException], ...] = (
    asyncpg.exceptions.DeadlockDetectedError, asyncpg.exceptions.SerializationError)
UNAVAILABLE: tuple[type[BaseException], ...] = (
    asyncpg.exceptions.PostgresConnectionError, asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.TooManyConnectionsError, asyncpg.exceptions.InterfaceError,
    ConnectionError, OSError, TimeoutError)


@dataclass(slots=True)
class Transaction:
    """What a write job sees: the connection (inside BEGIN), and where to record its changes."""

    conn: Connection
    changes: list[Change] = field(default_factory=list)
    # Changes a statement of the transaction announced itself (``postier_deliver``): published
    # on this node's hub after commit, before ``changes``, but not announced again.
    announced: list[Change] = field(default_factory=list)


def channel_for(schema: str) -> str:
    """The LISTEN/NOTIFY channel of one Postier schema (channels are database-wide)."""
    return ("postier_" + schema)[:63]


class Database:
    def __init__(self, pool: asyncpg.Pool, hub: ChangeHub, schema: str,
                 lock_namespace: int) -> None:
        self.pool = pool
        self.hub = hub
        self.schema = schema
        self.channel = channel_for(schema)
        self.lock_namespace = lock_namespace
        self.node_id = uuid.uuid4().hex
        self._running: set[asyncio.Task[Any]] = set()
        self._closed = False
        # Transactions redone because PostgreSQL broke a deadlock: every writer locks rows in
        # one global order (mailboxes by id, then accounts by id), so this should stay 0.
        self.deadlock_retries = 0

    @classmethod
    async def connect(cls, dsn: str, hub: ChangeHub, *, min_size: int = 1,
                      max_size: int = 10) -> Database:
        try:
            pool = await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size,
                                             command_timeout=120)
        except UNAVAILABLE as exc:
            raise TryLater(f"cannot connect to PostgreSQL: {exc}") from exc
        except asyncpg.exceptions.PostgresError as exc:
            raise MailError(f"PostgreSQL refused the connection: {exc}") from exc
        try:
            async with pool.acquire() as conn:
                await migrate(conn)
                schema = await conn.fetchval("SELECT current_schema()")
                namespace = await conn.fetchval(
                    "SELECT value FROM meta WHERE key = 'lock_namespace'")
        except BaseException as exc:
            await pool.close()
            if isinstance(exc, asyncpg.exceptions.PostgresError):
                raise MailError(f"PostgreSQL: {exc}") from exc
            raise
        return cls(pool, hub, str(schema), int(namespace))

    # Writes ---------------------------------------------------------------------------------

    async def write(self, work: Callable[[Transaction], Awaitable[T]]) -> T:
        """Run ``work`` in one transaction; return its result once committed and published."""
        if self._closed:
            raise RuntimeError("database is closed")
        task = asyncio.ensure_future(self._write(work))
        self._running.add(task)
        task.add_done_callback(_forget(self._running))
        return await asyncio.shield(task)

    async def _write(self, work: Callable[[Transaction], Awaitable[T]]) -> T:
        for attempt in range(_RETRIES):
            tx: Transaction | None = None
            try:
                async with self.pool.acquire() as conn, conn.transaction():
                    tx = Transaction(conn)
                    result = await work(tx)
                    if tx.changes:
                        await self._announce(conn, tx.changes)
            except _RETRYABLE as exc:
                self._count(exc)
                if attempt + 1 == _RETRIES:
                    raise TryLater("the database is busy; try again") from None
                await asyncio.sleep(random.uniform(0.005, 0.05) * (attempt + 1))
                continue
            except UNAVAILABLE as exc:
                log.warning("PostgreSQL unavailable: %s", exc)
                raise TryLater("the database is unavailable; try again") from exc
            if tx.announced or tx.changes:
                self.hub.publish(tx.announced + tx.changes)
            return result
        raise AssertionError("unreachable")

    async def statement(self, work: Callable[[Connection], Awaitable[tuple[T, list[Change]]]]
                        ) -> T:
        """Run ``work``: one statement that commits (and announces) on its own, returning its
        result and the changes it made, which are then published here. Retried like
        ``write``; a cancelled caller does not cancel it."""
        if self._closed:
            raise RuntimeError("database is closed")
        task = asyncio.ensure_future(self._statement(work))
        self._running.add(task)
        task.add_done_callback(_forget(self._running))
        return await asyncio.shield(task)

    async def _statement(self, work: Callable[[Connection], Awaitable[tuple[T, list[Change]]]]
                         ) -> T:
        for attempt in range(_RETRIES):
            try:
                async with self.pool.acquire() as conn:
                    result, changes = await work(conn)
            except _RETRYABLE as exc:
                self._count(exc)
                if attempt + 1 == _RETRIES:
                    raise TryLater("the database is busy; try again") from None
                await asyncio.sleep(random.uniform(0.005, 0.05) * (attempt + 1))
                continue
            except UNAVAILABLE as exc:
                log.warning("PostgreSQL unavailable: %s", exc)
                raise TryLater("the database is unavailable; try again") from exc
            if changes:
                self.hub.publish(changes)
            return result
        raise AssertionError("unreachable")

    def _count(self, exc: BaseException) -> None:
        if isinstance(exc, asyncpg.exceptions.DeadlockDetectedError):
            self.deadlock_retries += 1
            log.info("deadlock broken by PostgreSQL; the transaction is redone")

    async def _announce(self, conn: Connection, changes: list[Change]) -> None:
        payload = json.dumps({"n": self.node_id, "c": [change_to_json(c) for c in changes]},
                             separators=(",", ":"))
        if len(payload.encode()) > PAYLOAD_LIMIT:
            row_id = await conn.fetchval(
                "INSERT INTO change_overflow (payload) VALUES ($1) RETURNING id", payload)
            if row_id % 100 == 0:
                await conn.execute("DELETE FROM change_overflow"
                                   " WHERE created_at < now() - interval '1 hour'")
            payload = json.dumps({"n": self.node_id, "r": row_id}, separators=(",", ":"))
        await conn.execute("SELECT pg_notify($1, $2)", self.channel, payload)

    # Reads ----------------------------------------------------------------------------------

    async def read(self, work: Callable[[Connection], Awaitable[T]]) -> T:
        """Run ``work`` on a pooled connection; statements see what was committed before each."""
        try:
            async with self.pool.acquire() as conn:
                return await work(conn)
        except UNAVAILABLE as exc:
            raise TryLater("the database is unavailable; try again") from exc

    async def snapshot(self, work: Callable[[Connection], Awaitable[T]]) -> T:
        """Run ``work`` in one read-only REPEATABLE READ transaction: one consistent view."""
        try:
            async with self.pool.acquire() as conn, conn.transaction(
                    isolation="repeatable_read", readonly=True):
                return await work(conn)
        except UNAVAILABLE as exc:
            raise TryLater("the database is unavailable; try again") from exc

    # Lifecycle ------------------------------------------------------------------------------

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._running:
            await asyncio.wait(list(self._running))
        await self.pool.close()


def _forget(running: set[asyncio.Task[Any]]) -> Callable[[asyncio.Task[Any]], None]:
    def done(task: asyncio.Task[Any]) -> None:
        running.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: a caller that went away must not log "never retrieved"
    return done
