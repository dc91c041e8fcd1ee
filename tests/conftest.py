"""Shared fixtures: a real store in a temp dir, and a real server on ephemeral loopback ports."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tests.harness import RunningServer, start_server

# Hypothesis budgets. "ci" (the default) is deterministic and bounded: the same examples on every
# run, so a failure is reproducible and the suite's time is predictable. Setting
# POSTIER_FUZZ_EXAMPLES=N selects "fuzz": N random examples per property, with the example database
# in .hypothesis/ so that failures found in a long campaign are replayed first next time.
# Properties in tests/fuzz name their CI budget with tests.fuzz.budget.examples().
_FUZZ_EXAMPLES = os.environ.get("POSTIER_FUZZ_EXAMPLES", "")
settings.register_profile(
    "ci", max_examples=100, deadline=None, derandomize=True, database=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow])
settings.register_profile(
    "fuzz", max_examples=int(_FUZZ_EXAMPLES or 0) or 100, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("fuzz" if _FUZZ_EXAMPLES else "ci")


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
