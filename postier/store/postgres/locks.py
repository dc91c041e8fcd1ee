"""POP3's one-session-per-account lock across nodes: PostgreSQL session-level advisory locks.

How this works: a lease is ``pg_try_advisory_lock(namespace, account)`` taken on one dedicated
connection per node (not a pooled one: a session-level lock belongs to its connection, and a
POP3 session may hold it for minutes). Because a connection may take the same advisory lock
twice, the node also keeps its own table of held accounts and answers "in use" from it first;
every statement on the lock connection runs under one asyncio lock, in order, so an unlock
and a later re-lock of the same account pair up correctly. The namespace comes from the schema's
``meta`` table, so several Postier schemas in one database do not collide.

If a node dies, PostgreSQL ends its connection and every lock it held is released. If only the
lock connection drops, the locks are gone too: the next operation reconnects and takes them
again for the sessions still running (a warning is logged for any another node took meanwhile).

This implements ``postier.pop3.locks.MaildropLocks`` structurally (a backend never imports a
protocol package).
"""

from __future__ import annotations

import asyncio
import logging

import asyncpg

from postier.errors import TryLater
from postier.store.postgres.database import UNAVAILABLE
from postier.types import AccountId

__all__ = ["AdvisoryMaildropLocks"]

log = logging.getLogger(__name__)


class _Lease:
    __slots__ = ("_account", "_locks")

    def __init__(self, locks: AdvisoryMaildropLocks, account: AccountId) -> None:
        self._locks: AdvisoryMaildropLocks | None = locks
        self._account = account

    @property
    def account(self) -> AccountId:
        return self._account

    async def release(self) -> None:
        locks, self._locks = self._locks, None
        if locks is not None:
            await locks._release(self)


class AdvisoryMaildropLocks:
    def __init__(self, dsn: str, namespace: int) -> None:
        self._dsn = dsn
        self._namespace = namespace
        self._conn: asyncpg.Connection | None = None
        self._mutex = asyncio.Lock()
        self._held: dict[AccountId, _Lease] = {}
        self._unlocking: set[asyncio.Task[None]] = set()

    def _key(self, account: AccountId) -> int:
        return int(account) & 0x7FFFFFFF

    async def try_acquire(self, account: AccountId) -> _Lease | None:
        if account in self._held:
            return None
        async with self._mutex:
            if account in self._held:
                return None
            try:
                conn = await self._connection()
                taken = await conn.fetchval("SELECT pg_try_advisory_lock($1, $2)",
                                            self._namespace, self._key(account))
            except UNAVAILABLE as exc:
                raise TryLater("the database is unavailable; try again") from exc
            if not taken:
                return None
            lease = self._held[account] = _Lease(self, account)
            return lease

    def is_locked(self, account: AccountId) -> bool:
        """Held by a session of this node (other nodes' locks are not visible here)."""
        return account in self._held

    async def _release(self, lease: _Lease) -> None:
        if self._held.get(lease.account) is not lease:
            return
        del self._held[lease.account]
        # Shielded: a session cancelled in its ``finally`` must still give the lock back.
        task = asyncio.ensure_future(self._unlock(lease.account))
        self._unlocking.add(task)
        task.add_done_callback(self._unlocking.discard)
        await asyncio.shield(task)

    async def _unlock(self, account: AccountId) -> None:
        async with self._mutex:
            conn = self._conn
            if conn is None or conn.is_closed():
                return  # the connection's end released every lock it held
            try:
                await conn.execute("SELECT pg_advisory_unlock($1, $2)", self._namespace,
                                   self._key(account))
            except UNAVAILABLE:
                log.warning("could not release the POP3 lock of account %s; the connection"
                            " is gone, and the lock with it", account)

    async def _connection(self) -> asyncpg.Connection:
        conn = self._conn
        if conn is not None and not conn.is_closed():
            return conn
        conn = self._conn = await asyncpg.connect(self._dsn)
        for account in list(self._held):
            if not await conn.fetchval("SELECT pg_try_advisory_lock($1, $2)",
                                       self._namespace, self._key(account)):
                log.warning("the POP3 lock of account %s was lost while the database"
                            " connection was down; another node holds it now", account)
        return conn

    async def close(self) -> None:
        if self._unlocking:
            await asyncio.gather(*self._unlocking, return_exceptions=True)
        async with self._mutex:
            if self._conn is not None:
                try:
                    await asyncio.wait_for(self._conn.close(), 2)
                except Exception:
                    self._conn.terminate()
                self._conn = None
        self._held.clear()
