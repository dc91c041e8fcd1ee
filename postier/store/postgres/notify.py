"""Changes from other nodes: LISTEN on the schema's channel, republish on this node's hub.

How this works: every write transaction announces its changes with ``pg_notify`` before it
commits (``database.py``); PostgreSQL delivers notifications only for committed transactions,
in commit order, to every listening connection. ``ChangeListener`` holds one dedicated
connection (outside the pool) that LISTENs, decodes each payload (``{"n": node, "c": [...]}``,
or ``{"n": node, "r": row}`` naming a ``change_overflow`` row when the batch was too large for
a notification), skips its own node's batches — they were published locally right after commit
— and publishes the rest on the hub, one at a time in arrival order.

When the connection drops, notifications sent meanwhile are lost: after reconnecting, the
listener tells every local subscriber to resynchronise from the store
(``ChangeHub.resynchronise``), so an IDLE session re-reads its mailbox instead of missing mail.
Reconnection retries with a growing pause (up to 5 s) until ``close``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import asyncpg

from postier.store.changes import ChangeHub, change_from_json
from postier.store.postgres.database import UNAVAILABLE

__all__ = ["ChangeListener"]

log = logging.getLogger(__name__)

_MAX_PAUSE = 5.0
_FAILURES: tuple[type[BaseException], ...] = (*UNAVAILABLE, asyncpg.exceptions.PostgresError)
_HEALTH_CHECK = 2.0


class ChangeListener:
    def __init__(self, dsn: str, pool: asyncpg.Pool, hub: ChangeHub, channel: str,
                 node_id: str) -> None:
        self._dsn = dsn
        self._pool = pool
        self._hub = hub
        self._channel = channel
        self._node_id = node_id
        self._inbox: asyncio.Queue[str] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self.received = 0  # remote batches published (tests, diagnostics)

    async def start(self) -> None:
        """Connect and LISTEN (raises if PostgreSQL is unreachable now), then keep listening."""
        conn = await self._connect()
        self._task = asyncio.create_task(self._run(conn), name="postier-pg-listen")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def wait_connected(self) -> None:
        await self._connected.wait()

    async def _connect(self) -> asyncpg.Connection:
        conn = await asyncpg.connect(self._dsn)
        await conn.add_listener(self._channel, self._on_notification)
        self._connected.set()
        return conn

    def _on_notification(self, _conn: Any, _pid: int, _channel: str, payload: object) -> None:
        self._inbox.put_nowait(str(payload))

    async def _run(self, conn: asyncpg.Connection) -> None:
        pause = 0.1
        try:
            while True:
                consumer = asyncio.create_task(self._consume())
                try:
                    await self._watch(conn)
                finally:
                    consumer.cancel()
                    await asyncio.gather(consumer, return_exceptions=True)
                    self._connected.clear()
                    await _close_quietly(conn)
                log.warning("LISTEN connection to PostgreSQL lost; reconnecting")
                while True:
                    await asyncio.sleep(pause)
                    try:
                        conn = await self._connect()
                    except _FAILURES as exc:
                        pause = min(pause * 2, _MAX_PAUSE)
                        log.warning("cannot reconnect to PostgreSQL for LISTEN: %s", exc)
                        continue
                    pause = 0.1
                    break
                # Whatever was announced while we were away is gone: make watchers re-read.
                self._hub.resynchronise()
        except asyncio.CancelledError:
            await _close_quietly(conn)
            raise

    async def _watch(self, conn: asyncpg.Connection) -> None:
        """Return when the connection is closed or stops answering."""
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _c: lost.set())
        while not lost.is_set() and not conn.is_closed():
            try:
                async with asyncio.timeout(_HEALTH_CHECK):
                    await lost.wait()
            except TimeoutError:
                try:
                    async with asyncio.timeout(_HEALTH_CHECK * 2):
                        await conn.execute("SELECT 1")
                except _FAILURES:
                    return

    async def _consume(self) -> None:
        while True:
            payload = await self._inbox.get()
            try:
                await self._publish(payload)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("could not apply a change notification from another node")

    async def _publish(self, payload: str) -> None:
        message = json.loads(payload)
        if message.get("n") == self._node_id:
            return
        if "r" in message:
            async with self._pool.acquire() as conn:
                stored = await conn.fetchval("SELECT payload FROM change_overflow WHERE id = $1",
                                             int(message["r"]))
            if stored is None:
                log.warning("a large change batch expired before it was read; resynchronising")
                self._hub.resynchronise()
                return
            message = json.loads(stored)
        changes = [change_from_json(item) for item in message.get("c", ())]
        if changes:
            self.received += 1
            self._hub.publish(changes)


async def _close_quietly(conn: asyncpg.Connection) -> None:
    try:
        await asyncio.wait_for(conn.close(), 2)
    except Exception:
        conn.terminate()
