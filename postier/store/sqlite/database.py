"""SQLite access off the event loop: one writer thread with group commit, a pool of readers.

How this works: SQLite allows one writer at a time, so every mutation is a job queued to a single
writer thread. The thread takes every job waiting (up to ``max_batch``), runs each inside its own
SAVEPOINT of one transaction, and commits once: one WAL fsync acknowledges many concurrent
deliveries (group commit). A job that raises is rolled back to its savepoint alone and its caller
gets the exception; the others still commit. Only after COMMIT returns are the jobs' futures
resolved — in commit order, on the event loop, publishing each job's changes on the hub first — so
an acknowledgement never precedes durability and sessions see changes in the order they happened.

Readers use WAL snapshots on their own connections in a small thread pool, so reads never wait for
the writer. ``synchronous=FULL`` makes each commit durable against power loss, not just crashes.
The exception is a batch made only of jobs that carry no mail (flag changes, ``durable=False``):
it commits with ``synchronous=NORMAL``, into the WAL without an fsync, which a crash of the
process cannot undo and only a power loss can (Dovecot's ``mail_fsync = optimized``). Every
batch holding mail (append, delivery, copy, move, expunge) is fsync'd before any of its jobs
is answered, and that fsync also covers every flag change committed before it.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Generic, TypeVar

from postier.store.changes import Change, ChangeHub

__all__ = ["Database", "Transaction", "stamp"]

T = TypeVar("T")
log = logging.getLogger(__name__)

_BUSY_TIMEOUT_MS = 30_000


@dataclass(slots=True)
class Transaction:
    """What a write job sees: the connection, and where to record its effects."""

    conn: sqlite3.Connection
    changes: list[Change] = field(default_factory=list)
    after_commit: list[Callable[[], None]] = field(default_factory=list)


@dataclass(slots=True)
class _Job(Generic[T]):
    work: Callable[[Transaction], T]
    future: asyncio.Future[T]
    loop: asyncio.AbstractEventLoop
    durable: bool = True


def stamp(moment: datetime) -> str:
    """A time as the store keeps it: UTC, ISO 8601 with microseconds, so text order is time
    order."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                           timeout=_BUSY_TIMEOUT_MS / 1000)
    conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA synchronous = FULL")
    if readonly:
        conn.execute("PRAGMA query_only = ON")
    return conn


class Database:
    def __init__(self, path: Path, hub: ChangeHub, *, readers: int = 3,
                 max_batch: int = 256) -> None:
        self.path = path
        self._hub = hub
        self._max_batch = max_batch
        self._jobs: queue.SimpleQueue[_Job[Any] | None] = queue.SimpleQueue()
        self._writer_conn = connect(path)
        self._writer_conn.execute("PRAGMA journal_mode = WAL")
        self._synchronous = "FULL"  # the writer connection's setting (see ``write``)
        self._writer = threading.Thread(target=self._write_loop, name="postier-sqlite-writer",
                                        daemon=True)
        self._local = threading.local()
        self._reader_conns: list[sqlite3.Connection] = []
        self._reader_lock = threading.Lock()
        self._readers = ThreadPoolExecutor(max_workers=readers,
                                           thread_name_prefix="postier-sqlite-reader")
        self._closed = False
        self._writer.start()

    # Writes ---------------------------------------------------------------------------------

    async def write(self, work: Callable[[Transaction], T], *, durable: bool = True) -> T:
        """Run ``work`` in the writer thread; return its result once it is durably committed.

        ``durable=False`` (flag changes, which carry no mail): the result comes once the commit
        is in the WAL, which survives a crash of the process; only a power loss can undo it. A
        batch made only of such jobs commits without an fsync of its own; the next durable
        commit's fsync covers it, since the WAL is written in commit order."""
        if self._closed:
            raise RuntimeError("database is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put(_Job(work, future, loop, durable))
        return await future

    def write_blocking(self, work: Callable[[Transaction], T]) -> T:
        """For start-up and maintenance code that runs before the event loop."""
        tx = Transaction(self._writer_conn)
        self._writer_conn.execute("BEGIN IMMEDIATE")
        try:
            result = work(tx)
        except BaseException:
            self._writer_conn.execute("ROLLBACK")
            raise
        self._writer_conn.execute("COMMIT")
        for action in tx.after_commit:
            action()
        return result

    def _write_loop(self) -> None:
        conn = self._writer_conn
        while True:
            first = self._jobs.get()
            if first is None:
                return
            batch: list[_Job[Any]] = [first]
            stop = False
            while len(batch) < self._max_batch:
                try:
                    job = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    stop = True
                    break
                batch.append(job)
            self._run_batch(conn, batch)
            if stop:
                return

    def _run_batch(self, conn: sqlite3.Connection, batch: list[_Job[Any]]) -> None:
        outcomes: list[tuple[_Job[Any], Transaction, Any, BaseException | None]] = []
        synchronous = "FULL" if any(job.durable for job in batch) else "NORMAL"
        if synchronous != self._synchronous:  # set between transactions, never inside one
            conn.execute(f"PRAGMA synchronous = {synchronous}")
            self._synchronous = synchronous
        try:
            conn.execute("BEGIN IMMEDIATE")
            for job in batch:
                tx = Transaction(conn)
                conn.execute("SAVEPOINT job")
                try:
                    result = job.work(tx)
                except Exception as exc:  # the job's own failure: undo it alone
                    conn.execute("ROLLBACK TO job")
                    conn.execute("RELEASE job")
                    outcomes.append((job, tx, None, exc))
                    continue
                conn.execute("RELEASE job")
                outcomes.append((job, tx, result, None))
            conn.execute("COMMIT")
        except Exception as exc:  # the commit itself failed: nothing of the batch is durable
            log.exception("sqlite batch commit failed")
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            for job in batch:
                _notify(job, None, None, exc, [])
            return
        for job, tx, result, error in outcomes:
            if error is None:
                for action in tx.after_commit:
                    try:
                        action()
                    except Exception:
                        log.exception("after-commit action failed")
            _notify(job, self._hub, result, error, tx.changes if error is None else [])

    # Reads ----------------------------------------------------------------------------------

    async def read(self, work: Callable[[sqlite3.Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, self._run_read, work)

    def _run_read(self, work: Callable[[sqlite3.Connection], T]) -> T:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.path, readonly=True)
            self._local.conn = conn
            with self._reader_lock:
                self._reader_conns.append(conn)
        conn.execute("BEGIN")  # one snapshot for everything ``work`` reads
        try:
            return work(conn)
        finally:
            conn.execute("COMMIT")

    def read_blocking(self, work: Callable[[sqlite3.Connection], T]) -> T:
        return work(self._writer_conn)

    # Lifecycle ------------------------------------------------------------------------------

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._jobs.put(None)
        await asyncio.to_thread(self._writer.join)
        self._shutdown()

    def close_blocking(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._jobs.put(None)
        self._writer.join()
        self._shutdown()

    def _shutdown(self) -> None:
        self._readers.shutdown(wait=True)
        with self._reader_lock:
            for conn in self._reader_conns:
                conn.close()
            self._reader_conns.clear()
        self._writer_conn.close()


def _notify(job: _Job[Any], hub: ChangeHub | None, result: Any, error: BaseException | None,
            changes: list[Change]) -> None:
    try:
        job.loop.call_soon_threadsafe(_settle, hub, job.future, result, error, changes)
    except RuntimeError:  # the caller's loop is closed; nobody is waiting any more
        pass


def _settle(hub: ChangeHub | None, future: asyncio.Future[Any], result: Any,
            error: BaseException | None, changes: list[Change]) -> None:
    # Publish even when the caller went away: the change is committed and others must see it.
    if hub is not None and changes:
        hub.publish(changes)
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
