"""Authentication failure counters shared by every node, in PostgreSQL.

How this works: the policy is ``ThrottleLimits`` (the same as ``MemoryThrottle``'s); only the
counters move to the ``auth_failures`` table, one row per (``ip`` | ``account``, key), so an
attacker spreading guesses over several nodes meets one counter. Each failure is one upsert;
a counter whose last failure is older than the window counts as zero and restarts at one.

Time: the caller's ``now`` is a monotonic clock of its own process, which means nothing to
another node, so it is ignored here: every node counts with the database server's clock.
Expired rows are deleted every few hundred failures, which bounds the table by the number of
distinct failing keys in one window (``max_entries`` is not applied: the table is on disk).
A database error while counting is logged and the attempt goes on unthrottled rather than
locking everyone out while the database is away (the credential check needs it anyway).

This implements ``postier.auth.throttle.FailureThrottle``.
"""

from __future__ import annotations

import logging
from typing import Any

import asyncpg

from postier.auth.throttle import ThrottleLimits
from postier.errors import TryLater
from postier.store.postgres.database import Connection, Database

__all__ = ["PostgresThrottle"]

log = logging.getLogger(__name__)
_PRUNE_EVERY = 256


class PostgresThrottle:
    def __init__(self, db: Database, limits: ThrottleLimits | None = None) -> None:
        self.limits = limits or ThrottleLimits()
        self._db = db
        self._failures = 0

    def _keys(self, ip: str, account: str) -> list[tuple[str, str]]:
        # An empty key means "not known yet" (a malformed exchange before any username).
        return [(scope, key) for scope, key in (("ip", ip), ("account", account.lower())) if key]

    async def delay_for(self, ip: str, account: str, now: float) -> float:
        keys = self._keys(ip, account)
        if not keys:
            return 0.0

        async def work(conn: Connection) -> Any:
            return await conn.fetchval(
                "SELECT coalesce(max(f.failures), 0) FROM auth_failures f"
                " JOIN unnest($1::text[], $2::text[]) AS k(scope, key)"
                " ON f.scope = k.scope AND f.key = k.key"
                " WHERE f.last_failure > clock_timestamp() - make_interval(secs => $3)",
                [k[0] for k in keys], [k[1] for k in keys], self.limits.window)
        try:
            failures = int(await self._db.read(work))
        except (TryLater, asyncpg.exceptions.PostgresError) as exc:
            log.warning("authentication throttle unavailable: %s", exc)
            return 0.0
        return self.limits.delay_after(failures)

    async def record_failure(self, ip: str, account: str, now: float) -> None:
        keys = self._keys(ip, account)
        if not keys:
            return
        self._failures += 1
        prune = self._failures % _PRUNE_EVERY == 0

        async def work(conn: Connection) -> None:
            await conn.execute(
                "INSERT INTO auth_failures (scope, key, failures, last_failure)"
                " SELECT scope, key, 1, clock_timestamp()"
                " FROM unnest($1::text[], $2::text[]) AS k(scope, key)"
                " ON CONFLICT (scope, key) DO UPDATE SET failures = CASE"
                " WHEN auth_failures.last_failure > clock_timestamp() - make_interval(secs => $3)"
                " THEN auth_failures.failures + 1 ELSE 1 END, last_failure = clock_timestamp()",
                [k[0] for k in keys], [k[1] for k in keys], self.limits.window)
            if prune:
                await conn.execute("DELETE FROM auth_failures WHERE last_failure <"
                                   " clock_timestamp() - make_interval(secs => $1)",
                                   self.limits.window)
        try:
            await self._db.read(work)
        except (TryLater, asyncpg.exceptions.PostgresError) as exc:
            log.warning("authentication throttle unavailable: %s", exc)

    async def record_success(self, ip: str, account: str, now: float) -> None:
        if not account:
            return

        async def work(conn: Connection) -> None:
            await conn.execute("DELETE FROM auth_failures WHERE scope = 'account' AND key = $1",
                               account.lower())
        try:
            await self._db.read(work)
        except (TryLater, asyncpg.exceptions.PostgresError) as exc:
            log.warning("authentication throttle unavailable: %s", exc)
