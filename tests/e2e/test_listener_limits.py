"""Connection limits are enforced by the listener, answered in the protocol's own words."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.harness import start_server


async def test_connections_over_the_per_ip_limit_get_421(tmp_path: Path) -> None:
    running = await start_server(tmp_path, extra="[limits]\nmax_connections_per_ip = 1\n")
    try:
        port = running.port("smtp")
        first_reader, first_writer = await asyncio.open_connection("127.0.0.1", port)
        assert (await first_reader.readline()).startswith(b"220 ")
        second_reader, second_writer = await asyncio.open_connection("127.0.0.1", port)
        refusal = await asyncio.wait_for(second_reader.readline(), 10)
        assert refusal.startswith(b"421 4.7.0")
        assert await asyncio.wait_for(second_reader.read(), 10) == b""  # closed
        second_writer.close()
        first_writer.write(b"QUIT\r\n")
        assert (await first_reader.readline()).startswith(b"221")
        first_writer.close()
    finally:
        await running.stop()
