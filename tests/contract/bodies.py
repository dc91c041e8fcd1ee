"""Inspect a store's bodies: inline rows and files (SQLite), or rows (PostgreSQL)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any


def body_files(data_dir: Path) -> list[str]:
    """Names of the embedded store's body files (temporary files excluded)."""
    root = data_dir / "blobs"
    return sorted(p.name for p in root.rglob("*")
                  if p.is_file() and p.relative_to(root).parts[0] != "tmp")


def sqlite_bodies(data_dir: Path) -> dict[str, bool]:
    """Every stored body's id → whether it lives in a file (False: inline in the database)."""
    conn = sqlite3.connect(data_dir / "postier.sqlite3")
    try:
        return {sha: bool(is_file) for sha, is_file in
                conn.execute("SELECT sha256, data IS NULL FROM blobs")}
    finally:
        conn.close()


async def stored_bodies(store: Any) -> dict[str, bool]:
    """Every body of ``store`` → whether it lives in a file; PostgreSQL keeps all in rows."""
    data_dir = getattr(store, "data_dir", None)
    if data_dir is not None:
        return sqlite_bodies(data_dir)
    async with store.database.pool.acquire() as conn:
        return {row[0]: False for row in await conn.fetch("SELECT sha256 FROM blobs")}


async def stored_refcounts(store: Any) -> dict[str, int]:
    """Body id → reference count, as the store keeps it."""
    data_dir = getattr(store, "data_dir", None)
    if data_dir is not None:
        conn = sqlite3.connect(data_dir / "postier.sqlite3")
        try:
            return dict(conn.execute("SELECT sha256, refcount FROM blobs").fetchall())
        finally:
            conn.close()
    async with store.database.pool.acquire() as conn:
        return {r[0]: int(r[1]) for r in await conn.fetch("SELECT sha256, refcount FROM blobs")}
