"""Playwright fixtures: Debian's Chromium, headless, never downloaded; a real Postier server in
the test's event loop with a smarthost sink so remote delivery succeeds."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.e2e.queue_sinks import SmtpSink
from tests.harness import RunningServer, start_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@pytest.fixture
async def sink() -> AsyncIterator[SmtpSink]:
    smtp = await SmtpSink().start()
    try:
        yield smtp
    finally:
        await smtp.stop()


@pytest.fixture
async def web_server(tmp_path: Path, sink: SmtpSink) -> AsyncIterator[RunningServer]:
    running = await start_server(tmp_path / "server", extra=f"""
[queue]
poll_interval = 0.1
[relay]
smarthost = "127.0.0.1:{sink.port}"
tls = "none"
""")
    try:
        yield running
    finally:
        await running.stop()


@pytest.fixture
async def browser() -> AsyncIterator[object]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (scripts/test installs it)")
    playwright_api = pytest.importorskip("playwright.async_api")
    async with playwright_api.async_playwright() as playwright:
        # Every launch gets a fresh temporary profile (--user-data-dir), deleted at close;
        # each test's browser contexts are isolated from each other on top of that.
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield launched
        finally:
            await launched.close()
