"""kill -9 a process that appends in a loop; every acknowledged append must survive intact
(on SQLite: a WAL replay and a body-file sweep; on PostgreSQL: the server's own recovery of a
client that vanished mid-transaction)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from postier.store.sqlite.store import SqliteStore
from postier.types import UidSet
from tests.contract.bodies import body_files, sqlite_bodies, stored_bodies
from tests.postgres_support import fresh_schema

WRITER = textwrap.dedent("""
    import asyncio, hashlib, os, sys
    from pathlib import Path

    async def open_store(location):
        if location.startswith("postgresql:"):
            from postier.store.postgres.store import PostgresStore
            return await PostgresStore.open(location)
        from postier.store.sqlite.store import SqliteStore
        return SqliteStore.open(Path(location))

    async def main(directory, start):
        store = await open_store(directory)
        account = await store.get_account("bob@example.test")
        if account is None:
            await store.add_domain("example.test")
            account = await store.add_account("bob@example.test", "h", None)
        inbox = await store.get_mailbox(account.id, "INBOX")
        counter = start
        async def one(n):
            # Large-ish varied bodies so body files are really written during the kill.
            size = 60000 if n % 2 else 10000  # both inline bodies and body files
            data = (f"Subject: message {n}\\r\\n\\r\\n".encode() + os.urandom(size).hex().encode())
            result = await store.append(account.id, inbox.id, data)
            sys.stdout.write(f"{result.record.uid} {hashlib.sha256(data).hexdigest()}\\n")
            sys.stdout.flush()
        while True:
            await asyncio.gather(*(one(counter + i) for i in range(8)))
            counter += 8

    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
""")


def _run_until_killed(directory, start: int, acks_before_kill: int) -> dict[int, str]:
    process = subprocess.Popen([sys.executable, "-c", WRITER, str(directory), str(start)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    acknowledged: dict[int, str] = {}
    try:
        assert process.stdout is not None
        for line in process.stdout:
            uid, digest = line.split()
            acknowledged[int(uid)] = digest
            if len(acknowledged) >= acks_before_kill:
                process.send_signal(signal.SIGKILL)
                break
        else:
            pytest.fail("writer exited by itself: " + (process.stderr.read() if process.stderr
                                                        else ""))
        # Lines already in the pipe were acknowledged before the kill too.
        remaining = process.stdout.read()
        for line in remaining.splitlines():
            parts = line.split()
            if len(parts) == 2:
                acknowledged[int(parts[0])] = parts[1]
    finally:
        process.kill()
        process.wait(10)
    return acknowledged


@pytest.mark.slow
async def test_acknowledged_appends_survive_kill_9(backend, tmp_path) -> None:
    if backend == "sqlite":
        await _kill_rounds(backend, tmp_path, str(tmp_path))
        conn = sqlite3.connect(tmp_path / "postier.sqlite3")
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        conn.close()
    else:
        async with fresh_schema() as dsn:
            await _kill_rounds(backend, tmp_path, dsn)


async def _kill_rounds(backend: str, tmp_path, location: str) -> None:
    acknowledged: dict[int, str] = {}
    for round_number, kill_after in enumerate((40, 75, 120)):
        acknowledged.update(
            await asyncio.to_thread(_run_until_killed, location, round_number * 10_000,
                                    kill_after))
        async with _reopen(backend, location) as store:
            if backend == "postgresql":
                await _settled(store)
            account = await store.get_account("bob@example.test")
            inbox = await store.get_mailbox(account.id, "INBOX")
            records = {r.uid: r for r in await store.get_messages(account.id, inbox.id)}
            for uid, digest in acknowledged.items():
                assert uid in records, f"acknowledged UID {uid} lost"
                data = await store.read_message(account.id, records[uid])
                assert hashlib.sha256(data).hexdigest() == digest
            uids = sorted(records)
            assert len(uids) == len(set(uids))
            assert (await store.quota(account.id)).messages == len(records)
            # No body without a committed row referencing it.
            bodies = await stored_bodies(store)
            assert {r.blob_id for r in records.values()} == set(bodies)
            if backend == "sqlite":
                # Every file-backed row has its file, and no file lacks its row.
                assert set(body_files(tmp_path)) == {sha for sha, is_file in bodies.items()
                                                     if is_file}
                assert any(bodies.values()) and not all(bodies.values())
                assert not any((tmp_path / "blobs" / "tmp").iterdir())
                assert sqlite_bodies(tmp_path) == bodies
            assert await store.get_messages(account.id, inbox.id, UidSet()) == []


async def _settled(store) -> None:
    """A statement the killed writer had sent may still be running on its server process
    (it commits or fails without the client): wait until none is left."""
    async with store.database.pool.acquire() as conn:
        for _ in range(200):
            busy = await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid()"
                " AND state <> 'idle' AND query LIKE '%postier_deliver%'")
            if not busy:
                return
            await asyncio.sleep(0.05)


def _reopen(backend: str, location: str):
    if backend == "sqlite":
        return _sqlite(location)
    return _postgres(location)


@contextlib.asynccontextmanager
async def _sqlite(location: str):
    store = await asyncio.to_thread(SqliteStore.open, Path(location))
    try:
        yield store
    finally:
        await store.close()


@contextlib.asynccontextmanager
async def _postgres(dsn: str):
    from postier.store.postgres.store import PostgresStore

    store = await PostgresStore.open(dsn)
    try:
        yield store
    finally:
        await store.close()
