"""Both backends upgrade older stores in place (SQLite: refusing newer ones; PostgreSQL's refusal is
tested in test_postgres_nodes.py)."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from postier.errors import MailError
from postier.store.postgres.migrations import available
from postier.store.postgres.store import PostgresStore
from postier.store.sqlite.store import DATABASE_NAME, SCHEMA_VERSION, SqliteStore
from postier.types import AccountId, MailboxId, ModSeq, UidSet
from tests.postgres_support import fresh_schema, require_postgres

SCHEMA_V1 = (Path(__file__).parent / "sqlite_schema_v1.sql").read_text()


def _version_1_store(directory: Path) -> None:
    """A store as Postier with schema 1 left it: an INBOX whose UIDs 1 and 2 were expunged at
    modseqs 3 and 4, and UID 3 still there (its body is not needed to open the store)."""
    directory.mkdir(parents=True)
    conn = sqlite3.connect(directory / DATABASE_NAME)
    conn.executescript(SCHEMA_V1)
    conn.executescript("""
        INSERT INTO meta (key, value) VALUES ('schema_version', '1');
        INSERT INTO domains (id, name) VALUES (1, 'example.test');
        INSERT INTO accounts (id, address, domain_id, password_hash, created_at)
             VALUES (1, 'bob@example.test', 1, 'h', '2024-01-01T00:00:00+00:00');
        INSERT INTO mailboxes (id, account_id, name, uidvalidity, uidnext, highest_modseq)
             VALUES (1, 1, 'INBOX', 1700000000, 4, 5);
        INSERT INTO expunged (mailbox_id, uid, modseq) VALUES (1, 1, 3), (1, 2, 4);
    """)
    conn.commit()
    conn.close()


def _schema(path: Path) -> tuple[list[str], list[str]]:
    conn = sqlite3.connect(path)
    try:
        columns = [r[1] for r in conn.execute("PRAGMA table_info(expunged)")]
        indexes = sorted(r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'expunged'"
            " AND name NOT LIKE 'sqlite_autoindex%'"))
        return columns, indexes
    finally:
        conn.close()


async def test_a_version_1_store_is_upgraded_in_place(tmp_path: Path) -> None:
    directory = tmp_path / "old"
    _version_1_store(directory)
    before = datetime.now(UTC)
    store = await asyncio.to_thread(SqliteStore.open, directory)
    after = datetime.now(UTC)
    account, inbox = AccountId(1), MailboxId(1)
    try:
        # The old history still answers, and its expunges count as happening at the upgrade.
        assert await store.vanished_since(account, inbox, ModSeq(2)) == UidSet.of([1, 2])
        logged = await store.transfer().expunged(inbox)
        assert [(uid, modseq) for uid, modseq, _ in logged] == [(1, 3), (2, 4)]
        assert all(before - timedelta(seconds=1) <= when <= after for _, _, when in logged)
        assert await store.prune_expunge_history(before - timedelta(days=1)) == 0
        # New expunges are logged with their time; everything prunes.
        added = await store.append(account, inbox, b"Subject: new\r\n\r\nhello\r\n")
        await store.remove(account, inbox, UidSet.of([added.record.uid]))
        assert await store.prune_expunge_history(datetime.now(UTC) + timedelta(days=1)) == 3
        assert await store.vanished_since(account, inbox, ModSeq(2)) is None
    finally:
        await store.close()
    conn = sqlite3.connect(directory / DATABASE_NAME)
    version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
    conn.close()
    assert int(version) == SCHEMA_VERSION == 2
    # The upgraded store has the columns and indexes of a new one.
    fresh = await asyncio.to_thread(SqliteStore.open, tmp_path / "new")
    await fresh.close()
    assert _schema(directory / DATABASE_NAME) == _schema(tmp_path / "new" / DATABASE_NAME)
    # Opening again is a no-op.
    store = await asyncio.to_thread(SqliteStore.open, directory)
    await store.close()


def test_a_store_from_a_newer_postier_is_refused(tmp_path: Path) -> None:
    directory = tmp_path / "store"
    SqliteStore.open(directory).close_blocking()
    conn = sqlite3.connect(directory / DATABASE_NAME)
    conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'",
                 (str(SCHEMA_VERSION + 1),))
    conn.commit()
    conn.close()
    with pytest.raises(MailError, match="newer Postier"):
        SqliteStore.open(directory)


async def test_postgresql_schema_2_gains_expunge_times(tmp_path: Path) -> None:
    """Migration 0003 on a database with expunges logged by schema 2: they get the time of the
    migration, and new ones their own."""
    require_postgres()
    async with fresh_schema() as dsn:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute("CREATE TABLE schema_migrations (version integer PRIMARY KEY,"
                               " name text NOT NULL, applied_at timestamptz NOT NULL"
                               " DEFAULT now())")
            for version, name, sql in available():
                if version <= 2:
                    await conn.execute(sql)
                    await conn.execute("INSERT INTO schema_migrations (version, name)"
                                       " VALUES ($1, $2)", version, name)
            await conn.execute("""
                INSERT INTO domains (id, name) VALUES (1, 'example.test');
                INSERT INTO accounts (id, address, domain_id, password_hash, created_at)
                     VALUES (1, 'bob@example.test', 1, 'h', now());
                INSERT INTO mailboxes (id, account_id, name, uidvalidity, uidnext,
                                       highest_modseq) VALUES (1, 1, 'INBOX', 1700000000, 4, 5);
                INSERT INTO expunged (mailbox_id, uid, modseq) VALUES (1, 1, 3), (1, 2, 4);
            """)
        finally:
            await conn.close()
        before = datetime.now(UTC)
        store = await PostgresStore.open(dsn)
        try:
            account, inbox = AccountId(1), MailboxId(1)
            logged = await store.transfer().expunged(inbox)
            assert [(uid, modseq) for uid, modseq, _ in logged] == [(1, 3), (2, 4)]
            assert all(when >= before - timedelta(seconds=5) for _, _, when in logged)
            assert await store.vanished_since(account, inbox, ModSeq(2)) == UidSet.of([1, 2])
            assert await store.prune_expunge_history(before - timedelta(days=1)) == 0
            assert await store.prune_expunge_history(datetime.now(UTC) + timedelta(days=1)) == 2
            assert await store.vanished_since(account, inbox, ModSeq(3)) is None
            assert await store.vanished_since(account, inbox, ModSeq(4)) == UidSet()
        finally:
            await store.close()
