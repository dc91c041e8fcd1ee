"""kill -9 a process that changes flags in a loop: every acknowledged flag change survives.

On SQLite a batch of flag changes commits without an fsync of its own (``durable=False``):
the WAL holds it, so a crash of the process cannot lose it (only a power loss could). Appends
run in between, so batches with and without an fsync alternate in the WAL."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import subprocess
import sys
import textwrap

import pytest

from tests.contract.test_store_crash import _reopen
from tests.postgres_support import fresh_schema

MESSAGES = 20

WRITER = textwrap.dedent("""
    import asyncio, sys
    from pathlib import Path
    from postier.types import FlagOp, UidSet

    async def open_store(location):
        if location.startswith("postgresql:"):
            from postier.store.postgres.store import PostgresStore
            return await PostgresStore.open(location)
        from postier.store.sqlite.store import SqliteStore
        return SqliteStore.open(Path(location))

    async def main(location, start, messages):
        store = await open_store(location)
        account = await store.get_account("bob@example.test")
        if account is None:
            await store.add_domain("example.test")
            account = await store.add_account("bob@example.test", "h", None)
        inbox = await store.get_mailbox(account.id, "INBOX")
        for n in range(messages - len(await store.get_messages(account.id, inbox.id))):
            await store.append(account.id, inbox.id, f"Subject: {n}\\r\\n\\r\\nbody\\r\\n".encode())
        async def one(n):
            if n % 10 == 0:  # mail in between: batches that fsync, and batches that do not
                await store.append(account.id, inbox.id, b"Subject: more\\r\\n\\r\\nx\\r\\n")
                return
            uid, keyword = n % messages + 1, f"$k{n}"
            await store.set_flags(account.id, inbox.id, UidSet.of([uid]), FlagOp.ADD,
                                  frozenset({keyword}))
            sys.stdout.write(f"{uid} {keyword}\\n")
            sys.stdout.flush()
        counter = start
        while True:
            await asyncio.gather(*(one(counter + i) for i in range(8)))
            counter += 8

    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
""")


def _run_until_killed(location: str, start: int, acks_before_kill: int) -> set[tuple[int, str]]:
    process = subprocess.Popen([sys.executable, "-c", WRITER, location, str(start),
                                str(MESSAGES)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    acknowledged: set[tuple[int, str]] = set()
    try:
        assert process.stdout is not None
        for line in process.stdout:
            uid, keyword = line.split()
            acknowledged.add((int(uid), keyword))
            if len(acknowledged) >= acks_before_kill:
                process.send_signal(signal.SIGKILL)
                break
        else:
            pytest.fail("writer exited by itself: " + (process.stderr.read() if process.stderr
                                                        else ""))
        for line in process.stdout.read().splitlines():  # acknowledged before the kill too
            parts = line.split()
            if len(parts) == 2:
                acknowledged.add((int(parts[0]), parts[1]))
    finally:
        process.kill()
        process.wait(10)
    return acknowledged


@pytest.mark.slow
async def test_acknowledged_flag_changes_survive_kill_9(backend, tmp_path) -> None:
    if backend == "sqlite":
        await _kill_rounds(backend, str(tmp_path))
        conn = sqlite3.connect(tmp_path / "postier.sqlite3")
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        conn.close()
    else:
        async with fresh_schema() as dsn:
            await _kill_rounds(backend, dsn)


async def _kill_rounds(backend: str, location: str) -> None:
    acknowledged: set[tuple[int, str]] = set()
    for round_number, kill_after in enumerate((60, 150, 250)):
        acknowledged |= await asyncio.to_thread(_run_until_killed, location,
                                                round_number * 10_000, kill_after)
        async with _reopen(backend, location) as store:
            account = await store.get_account("bob@example.test")
            inbox = await store.get_mailbox(account.id, "INBOX")
            flags = {s.uid: s.flags for s in await store.message_states(account.id, inbox.id)}
            lost = sorted((uid, keyword) for uid, keyword in acknowledged
                          if keyword not in flags.get(uid, frozenset()))
            assert not lost, f"acknowledged flag changes lost: {lost[:10]}"
