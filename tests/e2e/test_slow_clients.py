"""Slow-loris defence over real sockets: ``[limits] command_timeout`` and ``min_upload_rate``.

A client that trickles a command line (a byte every 0.1 s, never finishing it) is answered
(IMAP ``* BYE``, SMTP ``421 4.4.2``, POP3 ``-ERR timeout``) and disconnected once the line has
taken ``command_timeout``; a literal trickled below ``min_upload_rate`` is cut too, while one
sent fast enough may take longer than ``command_timeout``; a client silent between commands is
governed by the idle timeouts alone. Each test waits for the server's close with a deadline.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.harness import RunningServer, start_server

COMMAND_TIMEOUT = 1
MIN_RATE = 1000  # octets/s
EXTRA = f"""allow_plaintext = true

[limits]
command_timeout = {COMMAND_TIMEOUT}
min_upload_rate = {MIN_RATE}
"""
CLOSE_DEADLINE = 15.0  # seconds: far above COMMAND_TIMEOUT, for a loaded machine


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[RunningServer]:
    running = await start_server(tmp_path, extra=EXTRA)
    try:
        yield running
    finally:
        await running.stop()


async def trickle(writer: asyncio.StreamWriter, data: bytes, interval: float) -> None:
    """Write ``data`` one byte at a time until done or the server closes."""
    try:
        for byte in data:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(interval)
    except OSError:
        pass  # the server closed the connection: what the test waits for


async def read_until_closed(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends until it closes, within CLOSE_DEADLINE."""
    received = bytearray()
    async with asyncio.timeout(CLOSE_DEADLINE):
        while True:
            try:
                chunk = await reader.read(4096)
            except ConnectionResetError:
                break
            if not chunk:
                break
            received += chunk
    return bytes(received)


async def slow_line(port: int, prefix: bytes, expect_first: bytes) -> bytes:
    """Send ``prefix`` at once, then a line that never ends, a byte every 0.1 s; return what
    the server wrote after its first reply line, up to its close."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    assert (await reader.readline()).startswith(expect_first)
    writer.write(prefix)
    sender = asyncio.create_task(trickle(writer, b"x" * 10_000, 0.1))
    try:
        return await read_until_closed(reader)
    finally:
        sender.cancel()
        writer.close()


async def test_imap_slow_command_line_is_cut(server: RunningServer) -> None:
    received = await slow_line(server.port("imap"), b"", b"* OK")
    assert received == b"* BYE Autologout; command too slow\r\n"


async def test_imap_slow_literal_is_cut(server: RunningServer) -> None:
    login = b"l LOGIN alice@example.test alice-password\r\n"
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port("imap"))
    assert (await reader.readline()).startswith(b"* OK")
    writer.write(login + b"a APPEND INBOX {99999}\r\n")
    assert (await reader.readline()).startswith(b"l OK")
    assert (await reader.readline()).startswith(b"+ ")
    sender = asyncio.create_task(trickle(writer, b"x" * 99_999, 0.1))
    try:
        assert await read_until_closed(reader) == b"* BYE Autologout; command too slow\r\n"
    finally:
        sender.cancel()
        writer.close()


async def test_imap_literal_at_the_minimum_rate_may_outlast_command_timeout(
        server: RunningServer) -> None:
    """6 * MIN_RATE octets paced by the clock at three times the minimum rate: about 2 s, over
    the 1 s command_timeout, and the APPEND succeeds."""
    body = b"Subject: paced\r\n\r\n" + b"y" * (6 * MIN_RATE - 20) + b"\r\n"
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port("imap"))
    assert (await reader.readline()).startswith(b"* OK")
    writer.write(b"l LOGIN alice@example.test alice-password\r\n"
                 b"a APPEND INBOX {%d}\r\n" % len(body))
    assert (await reader.readline()).startswith(b"l OK")
    assert (await reader.readline()).startswith(b"+ ")
    loop = asyncio.get_running_loop()
    started, sent = loop.time(), 0
    while sent < len(body):  # send what is due at 3 * MIN_RATE, whatever the sleeps took
        due = min(len(body), int((loop.time() - started) * 3 * MIN_RATE))
        writer.write(body[sent:due])
        await writer.drain()
        sent = due
        await asyncio.sleep(0.02)
    writer.write(b"\r\n")
    async with asyncio.timeout(CLOSE_DEADLINE):
        answer = await reader.readline()
    assert answer.startswith(b"a OK [APPENDUID "), answer
    assert loop.time() - started > COMMAND_TIMEOUT
    writer.close()


async def test_imap_idle_client_is_not_cut_by_command_timeout(server: RunningServer) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port("imap"))
    assert (await reader.readline()).startswith(b"* OK")
    await asyncio.sleep(2 * COMMAND_TIMEOUT)  # silent between commands: only the idle limit
    writer.write(b"n NOOP\r\n")
    async with asyncio.timeout(CLOSE_DEADLINE):
        assert await reader.readline() == b"n OK NOOP completed\r\n"
    writer.close()


async def test_smtp_slow_command_line_is_cut(server: RunningServer) -> None:
    received = await slow_line(server.port("smtp"), b"EHLO slow.example\r\n", b"220")
    last = received.split(b"\r\n")[-2]
    assert last.startswith(b"421 4.4.2 ") and last.endswith(b"timeout, closing connection"), \
        received


async def test_pop3_slow_command_line_is_cut(server: RunningServer) -> None:
    received = await slow_line(server.port("pop3"), b"", b"+OK")
    assert received == b"-ERR timeout\r\n"


async def test_smtp_slow_data_is_cut(server: RunningServer) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port("smtp"))
    assert (await reader.readline()).startswith(b"220")
    writer.write(b"HELO slow.example\r\nMAIL FROM:<s@example.org>\r\n"
                 b"RCPT TO:<alice@example.test>\r\nDATA\r\n")
    for code in (b"250", b"250", b"250", b"354"):
        assert (await reader.readline()).startswith(code)
    sender = asyncio.create_task(trickle(writer, b"Subject: slow\r\n\r\n" + b"z" * 10_000, 0.1))
    try:
        received = await read_until_closed(reader)
    finally:
        sender.cancel()
        writer.close()
    assert received.startswith(b"421 4.4.2 "), received
    assert received.endswith(b"timeout, closing connection\r\n"), received
