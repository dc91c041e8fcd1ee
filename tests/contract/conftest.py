"""The store contract runs on every backend: each ``store`` test once on SQLite (a temp dir)
and once on PostgreSQL (a fresh schema, dropped afterwards)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.postgres_support import BACKENDS, fresh_schema


@asynccontextmanager
async def open_stores(backend: str, tmp_path: Path, count: int = 1) -> AsyncIterator[list[Any]]:
    """``count`` store instances on one backing store: on PostgreSQL, ``count`` nodes (pools)."""
    stores: list[Any] = []
    if backend == "sqlite":
        from postier.store.sqlite.store import SqliteStore

        try:
            for _ in range(count):
                stores.append(await asyncio.to_thread(SqliteStore.open, tmp_path / "store"))
            yield stores
        finally:
            for store in stores:
                await store.close()
        return
    from postier.store.postgres.store import PostgresStore

    async with fresh_schema() as dsn:
        try:
            for _ in range(count):
                stores.append(await PostgresStore.open(dsn))
            yield stores
        finally:
            for store in stores:
                await store.close()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def store(backend: str, tmp_path: Path) -> AsyncIterator[Any]:
    async with open_stores(backend, tmp_path) as (opened,):
        yield opened


@pytest.fixture
async def two_stores(backend: str, tmp_path: Path) -> AsyncIterator[list[Any]]:
    """Two instances on one store: two processes on one directory, or two PostgreSQL nodes."""
    async with open_stores(backend, tmp_path, 2) as stores:
        yield stores
