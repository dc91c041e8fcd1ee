"""kill -9 a process that appends in a loop; every acknowledged append must survive intact."""

from __future__ import annotations

import asyncio
import hashlib
import signal
import sqlite3
import subprocess
import sys
import textwrap

import pytest

from postier.store.sqlite.store import SqliteStore
from postier.types import UidSet
from tests.contract.bodies import body_files, stored_bodies

WRITER = textwrap.dedent("""
    import asyncio, hashlib, os, sys
    from pathlib import Path
    from postier.store.sqlite.store import SqliteStore

    async def main(directory, start):
        store = SqliteStore.open(Path(directory))
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
async def test_acknowledged_appends_survive_kill_9(tmp_path) -> None:
    acknowledged: dict[int, str] = {}
    for round_number, kill_after in enumerate((40, 75, 120)):
        acknowledged.update(
            await asyncio.to_thread(_run_until_killed, tmp_path, round_number * 10_000,
                                    kill_after))
        store = await asyncio.to_thread(SqliteStore.open, tmp_path)
        try:
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
            # No body file without a committed row, and every file-backed row has its file.
            bodies = stored_bodies(tmp_path)
            assert {r.blob_id for r in records.values()} == set(bodies)
            assert set(body_files(tmp_path)) == {sha for sha, is_file in bodies.items() if is_file}
            assert any(bodies.values()) and not all(bodies.values())
            assert not any((tmp_path / "blobs" / "tmp").iterdir())
            assert await store.get_messages(account.id, inbox.id, UidSet()) == []
        finally:
            await store.close()
    conn = sqlite3.connect(tmp_path / "postier.sqlite3")
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
