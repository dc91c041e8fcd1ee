"""Shared fixtures: a real store in a temp dir, and a real server on ephemeral loopback ports."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.harness import RunningServer, start_server


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[object]:
    from postier.store.sqlite.store import SqliteStore

    opened = await asyncio.to_thread(SqliteStore.open, tmp_path / "store")
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[RunningServer]:
    """Postier with every listener on 127.0.0.1 port 0, domain example.test, two users."""
    running = await start_server(tmp_path / "server")
    try:
        yield running
    finally:
        await running.stop()
