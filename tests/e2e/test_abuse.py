"""Load and abuse against one ``postier serve`` process, all at once, while good clients are timed.

At the same time: 500 IMAP sessions doing mixed work (login, select, fetch, store, search), 200
SMTP clients each delivering a message, slow-loris clients (a byte at a time, never finishing a
line or a literal; disconnected after ``[limits] command_timeout``), clients that ask for large
FETCHes and never read, floods of bad commands on IMAP, SMTP and POP3, and 50 wrong passwords.
Throughout, a good IMAP client and a good SMTP client time simple commands, and the server's RSS is
read from /proc.

Outcomes: every load session and message succeeds; bad-command floods are cut off after
``[limits] max_errors``; non-readers are disconnected once a write has waited the idle limit;
the wrong passwords are throttled while the right password from another address still works;
the good clients are served (a liveness bound, not a benchmark); memory stays bounded; the
server is alive at the end and shuts down cleanly.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from postier.auth.passwords import HashParameters, hash_password, scram_credentials
from postier.store.sqlite.store import SqliteStore
from tests.harness import DOMAIN, ServerProcess, start_server, write_config

pytestmark = pytest.mark.slow

IMAP_SESSIONS = 500
SMTP_CLIENTS = 200
WRONG_PASSWORDS = 50
SLOW_LORIS = 20  # per protocol
COMMAND_TIMEOUT = 5  # [limits] command_timeout: slow-loris clients are cut after this
NON_READERS = 5
FLOODERS = 10  # per protocol
MAX_ERRORS = 5
IDLE_LIMIT = 10  # [limits] imap_idle_timeout: also how long a write may wait for a non-reader
GOOD_LATENCY_BOUND = 10.0  # seconds: a liveness check (not a benchmark) on a slow, shared machine
RSS_GROWTH_BOUND = 400 * 1024 * 1024  # bytes over the idle server's RSS

EXTRA = f"""allow_plaintext = true

[limits]
max_connections = 5000
max_connections_per_ip = 2000
max_errors = {MAX_ERRORS}
imap_idle_timeout = {IDLE_LIMIT}
smtp_timeout = 60
pop3_timeout = 60
command_timeout = {COMMAND_TIMEOUT}

[log]
level = "warning"
"""
CHEAP = HashParameters(time_cost=1, memory_cost_kib=64, parallelism=1)
USERS = {"alice": "alice-password", "bob": "bob-password", "load": "load-password",
         "big": "big-password"}
BIG_MESSAGE = 3 * 1024 * 1024


def message(subject: str, size: int = 500) -> bytes:
    line = b"Some text to fetch and search, sized like real mail.\r\n"
    return (f"From: <sender@example.org>\r\nTo: <load@{DOMAIN}>\r\nSubject: {subject}\r\n"
            f"Message-ID: <{subject}@abuse.test>\r\n\r\n").encode() + line * (size // len(line))


async def seed_store(data_dir: Path) -> None:
    store = await asyncio.to_thread(SqliteStore.open, data_dir)
    try:
        await store.add_domain(DOMAIN)
        accounts = {}
        for user, password in USERS.items():
            hashed = await asyncio.to_thread(hash_password, password, CHEAP)
            accounts[user] = await store.add_account(f"{user}@{DOMAIN}", hashed,
                                                     scram_credentials(password))
        for user, count, size in (("load", 5, 2_000), ("big", 4, BIG_MESSAGE),
                                  ("alice", 1, 500)):
            inbox = await store.get_mailbox(accounts[user].id, "INBOX")
            for number in range(count):
                await store.append(accounts[user].id, inbox.id, message(f"{user}{number}", size))
    finally:
        await store.close()


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@dataclass
class Observed:
    imap_latency: list[float] = field(default_factory=list)
    smtp_latency: list[float] = field(default_factory=list)
    rss: list[int] = field(default_factory=list)


class Imap:
    """A minimal IMAP client over asyncio streams."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer, self.counter = reader, writer, 0

    @classmethod
    async def connect(cls, port: int, source: str = "127.0.0.1") -> Imap:
        reader, writer = await asyncio.open_connection("127.0.0.1", port,
                                                       local_addr=(source, 0), limit=1 << 20)
        client = cls(reader, writer)
        assert (await reader.readline()).startswith(b"* OK")
        return client

    async def command(self, text: str) -> list[bytes]:
        self.counter += 1
        tag = f"c{self.counter}".encode()
        self.writer.write(tag + b" " + text.encode() + b"\r\n")
        lines = []
        while True:
            line = await self.reader.readline()
            if not line:
                raise ConnectionError(f"closed during {text!r}: {lines[-3:]}")
            lines.append(line)
            if line.startswith(tag + b" "):
                return lines

    async def ok(self, text: str) -> list[bytes]:
        lines = await self.command(text)
        assert lines[-1].split(b" ")[1] == b"OK", (text, lines[-1])
        return lines

    def close(self) -> None:
        self.writer.close()


async def smtp_reply(reader: asyncio.StreamReader) -> bytes:
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionError("SMTP connection closed")
        if line[3:4] != b"-":
            return line


async def until_closed(reader: asyncio.StreamReader, limit: int) -> tuple[bytes, int]:
    """Read to EOF (with the test's deadline around it): the last bytes and the total count."""
    total, tail = 0, b""
    while chunk := await reader.read(1 << 16):
        total += len(chunk)
        tail = (tail + chunk)[-4096:]
        assert total <= limit, "the server kept writing"
    return tail, total


async def pause(event: asyncio.Event, seconds: float) -> None:
    """Wait ``seconds``, or less if ``event`` is set (the test is ending)."""
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        pass


# -- the good clients -----------------------------------------------------------------------


async def good_imap(ports: dict[str, int], observed: Observed, done: asyncio.Event) -> None:
    client = await Imap.connect(ports["imap"], source="127.0.0.3")
    await client.ok(f"LOGIN alice@{DOMAIN} alice-password")
    await client.ok("SELECT INBOX")
    while not done.is_set():
        started = time.monotonic()
        await client.ok("NOOP")
        observed.imap_latency.append(time.monotonic() - started)
        await pause(done, 0.1)
    await client.ok("LOGOUT")
    client.close()


async def good_smtp(ports: dict[str, int], observed: Observed, done: asyncio.Event) -> None:
    while not done.is_set():
        started = time.monotonic()
        reader, writer = await asyncio.open_connection("127.0.0.1", ports["smtp"],
                                                       local_addr=("127.0.0.3", 0))
        assert (await smtp_reply(reader)).startswith(b"220")
        writer.write(b"EHLO good.example\r\n")
        assert (await smtp_reply(reader)).startswith(b"250")
        writer.write(b"QUIT\r\n")
        assert (await smtp_reply(reader)).startswith(b"221")
        observed.smtp_latency.append(time.monotonic() - started)
        writer.close()
        await pause(done, 0.3)


async def sample_rss(pid: int, observed: Observed, done: asyncio.Event) -> None:
    while not done.is_set():
        observed.rss.append(rss_bytes(pid))
        await pause(done, 0.2)


# -- the load and the abuse -------------------------------------------------------------------


async def imap_load_session(port: int, barrier: asyncio.Barrier, number: int) -> None:
    client = await Imap.connect(port)
    await client.ok(f"LOGIN load@{DOMAIN} load-password")
    await client.ok("SELECT INBOX")
    await barrier.wait()  # every session is open at once
    fetched = await client.ok("FETCH 1:* (FLAGS ENVELOPE RFC822.SIZE)")
    assert sum(b" FETCH " in line for line in fetched) >= 5
    await client.ok(f"STORE {number % 5 + 1} +FLAGS (\\Seen $Load{number % 7})")
    await client.ok("SEARCH UNSEEN")
    await client.ok("UID SEARCH TEXT sized")
    await client.ok("UID FETCH 1 (BODY.PEEK[HEADER.FIELDS (Subject)] BODY.PEEK[TEXT]<0.100>)")
    await client.ok("NOOP")
    await client.ok("LOGOUT")
    client.close()


async def smtp_load_client(port: int, barrier: asyncio.Barrier, number: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    assert (await smtp_reply(reader)).startswith(b"220")
    writer.write(b"EHLO load.example\r\n")
    assert (await smtp_reply(reader)).startswith(b"250")
    await barrier.wait()
    data = message(f"smtp{number}", 3_000)
    writer.write(f"MAIL FROM:<s{number}@example.org>\r\nRCPT TO:<load@{DOMAIN}>\r\nDATA\r\n"
                 .encode())
    replies = [await smtp_reply(reader) for _ in range(3)]
    assert [r[:3] for r in replies] == [b"250", b"250", b"354"], replies
    writer.write(data + b".\r\n")
    assert (await smtp_reply(reader)).startswith(b"250")
    writer.write(b"QUIT\r\n")
    assert (await smtp_reply(reader)).startswith(b"221")
    writer.close()


async def slow_loris(port: int, prefix: bytes, stop: asyncio.Event) -> bytes:
    """Send ``prefix`` (a login, say), then a line or literal one byte at a time that never
    ends; return what the server wrote until it closed the connection (command_timeout)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(prefix)

    async def trickle() -> None:
        try:
            for byte in b"x" * 100_000:
                if stop.is_set():
                    break
                writer.write(bytes([byte]))
                await writer.drain()
                await pause(stop, 0.2)
        except OSError:
            pass  # closed by the server

    sender = asyncio.create_task(trickle())
    received = bytearray()
    try:
        while not stop.is_set():
            try:
                chunk = await reader.read(4096)
            except ConnectionResetError:
                break
            if not chunk:
                break
            received += chunk
    finally:
        sender.cancel()
        writer.close()
    return bytes(received)


def server_socket_open(server_port: int, client_port: int) -> bool:
    """Whether a process still holds the server's end of the connection from ``client_port``.

    Once the server closes it, the kernel may keep the socket a while to send what is queued;
    such an orphan belongs to no process any more: inode 0 in /proc/net/tcp."""
    wanted = (f"0100007F:{server_port:04X}", f"0100007F:{client_port:04X}")
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if (fields[1], fields[2]) == wanted and fields[9] != "0":
            return True
    return False


async def non_reader(port: int, requests: int = 20, message_size: int = BIG_MESSAGE,
                     messages: int = 4, user: str = "big") -> int:
    """Ask for far more than socket buffers hold and never read: once a write has waited the
    idle limit, the server must drop the connection (not keep it, and its buffer, forever)."""
    client = await Imap.connect(port)
    await client.ok(f"LOGIN {user}@{DOMAIN} {USERS[user]}")
    await client.ok("SELECT INBOX")
    client.writer.write(b"".join(b"f%d FETCH 1:* BODY.PEEK[]\r\n" % n for n in range(requests)))
    client_port = client.writer.get_extra_info("sockname")[1]
    while server_socket_open(port, client_port):
        await asyncio.sleep(0.2)  # polled; the test's deadline bounds it
    asked = requests * messages * message_size
    try:
        _tail, total = await until_closed(client.reader, limit=asked)
    except ConnectionResetError:
        total = 0  # the server aborted: what it had buffered for us is gone, as it should be
    client.close()
    assert total < asked // 2, total  # it stopped long before answering everything
    return total


async def imap_flood(port: int) -> bytes:
    client = await Imap.connect(port)
    client.writer.write(b"".join(b"x%d BOGUS\r\n" % n for n in range(100)))
    tail, _ = await until_closed(client.reader, limit=1 << 20)
    client.close()
    return tail


async def smtp_flood(port: int) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"".join(b"BOGUS %d\r\n" % n for n in range(100)))
    tail, _ = await until_closed(reader, limit=1 << 20)
    writer.close()
    return tail


async def pop3_flood(port: int) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"".join(b"BOGUS %d\r\n" % n for n in range(100)))
    tail, _ = await until_closed(reader, limit=1 << 20)
    writer.close()
    return tail


async def wrong_passwords(port: int, connections: int) -> list[float]:
    """WRONG_PASSWORDS failed logins for bob, spread over a few connections; their durations."""
    durations: list[float] = []

    async def one_connection(count: int) -> None:
        client = await Imap.connect(port)
        for _ in range(count):
            started = time.monotonic()
            lines = await client.command(f"LOGIN bob@{DOMAIN} wrong-password")
            durations.append(time.monotonic() - started)
            assert b"NO [AUTHENTICATIONFAILED]" in lines[-1], lines[-1]
        client.close()

    await asyncio.gather(*(one_connection(WRONG_PASSWORDS // connections)
                           for _ in range(connections)))
    return durations


async def test_server_survives_load_and_abuse(tmp_path: Path) -> None:
    config = write_config(tmp_path, extra=EXTRA)
    await seed_store(tmp_path / "data")
    process = ServerProcess(config)
    ports = await asyncio.to_thread(process.start)
    assert process.process is not None
    pid = process.process.pid
    observed = Observed()
    done, stop_loris = asyncio.Event(), asyncio.Event()
    baseline = rss_bytes(pid)
    background = [asyncio.create_task(good_imap(ports, observed, done)),
                  asyncio.create_task(good_smtp(ports, observed, done)),
                  asyncio.create_task(sample_rss(pid, observed, done))]
    login = f"l LOGIN load@{DOMAIN} load-password\r\n".encode()
    loris = [asyncio.create_task(slow_loris(ports["imap"], b"", stop_loris))
             for _ in range(SLOW_LORIS // 2)]
    loris += [asyncio.create_task(slow_loris(ports["imap"], login + b"a APPEND INBOX {99999}\r\n",
                                             stop_loris)) for _ in range(SLOW_LORIS // 2)]
    loris += [asyncio.create_task(slow_loris(ports["smtp"], b"EHLO slow.example\r\n", stop_loris))
              for _ in range(SLOW_LORIS)]
    try:
        async with asyncio.timeout(120):
            imap_barrier, smtp_barrier = asyncio.Barrier(IMAP_SESSIONS), asyncio.Barrier(
                SMTP_CLIENTS)
            work: list[Awaitable[object]] = [
                *(imap_load_session(ports["imap"], imap_barrier, n)
                  for n in range(IMAP_SESSIONS)),
                *(smtp_load_client(ports["smtp"], smtp_barrier, n) for n in range(SMTP_CLIENTS)),
                *(non_reader(ports["imap"]) for _ in range(NON_READERS)),
            ]
            floods: list[Callable[[int], Awaitable[bytes]]] = [imap_flood, smtp_flood,
                                                               pop3_flood]
            names = ["imap", "smtp", "pop3"]
            flood_work = [flood(ports[name]) for flood, name in zip(floods, names, strict=True)
                          for _ in range(FLOODERS)]
            results = await asyncio.gather(*work, *flood_work, wrong_passwords(ports["imap"], 10))
            # Slow-loris clients are disconnected (command_timeout), not kept for ever.
            loris_tails = await asyncio.gather(*loris)
            throttled = results[-1]
            flood_tails = results[len(work):-1]
            # The right password, from another address, while bob's failures are fresh.
            started = time.monotonic()
            client = await Imap.connect(ports["imap"], source="127.0.0.2")
            await client.ok(f"LOGIN bob@{DOMAIN} bob-password")
            right_password = time.monotonic() - started
            client.close()
            assert process.process.poll() is None, "the server died"
    finally:
        done.set()
        stop_loris.set()
        await asyncio.gather(*background, *loris, return_exceptions=True)
    assert process.process.poll() is None, "the server died"
    end_rss = rss_bytes(pid)
    assert await asyncio.to_thread(process.terminate) == 0

    for tail in loris_tails[:SLOW_LORIS]:
        assert tail.endswith(b"* BYE Autologout; command too slow\r\n"), tail[-300:]
    for tail in loris_tails[SLOW_LORIS:]:
        assert tail.split(b"\r\n")[-2].startswith(b"421 4.4.2 "), tail[-300:]
    for tail in flood_tails[:FLOODERS]:
        assert b"* BYE too many invalid commands" in tail, tail[-300:]
        assert tail.count(b" BAD ") <= MAX_ERRORS
    for tail in flood_tails[FLOODERS:2 * FLOODERS]:
        assert tail.endswith(b"\r\n") and tail.split(b"\r\n")[-2].startswith(b"421"), tail
        assert tail.count(b"\r\n500 ") <= MAX_ERRORS
    for tail in flood_tails[2 * FLOODERS:]:
        assert tail.count(b"-ERR") <= MAX_ERRORS + 1, tail
    # After the free failures, each wrong guess waits at least the throttle's delay.
    assert sorted(throttled)[-10] >= 0.05 and len(throttled) == WRONG_PASSWORDS
    assert right_password < GOOD_LATENCY_BOUND

    latencies = {"imap NOOP": observed.imap_latency,
                 "smtp connect+EHLO+QUIT": observed.smtp_latency}
    for name, values in latencies.items():
        print(f"good client {name}: {len(values)} samples, median "
              f"{statistics.median(values) * 1000:.1f} ms, max {max(values) * 1000:.1f} ms")
        assert max(values) < GOOD_LATENCY_BOUND, (name, max(values))
    peak = max(observed.rss)
    print(f"server RSS: idle {baseline >> 20} MiB, peak {peak >> 20} MiB, "
          f"end {end_rss >> 20} MiB; right password after throttling: {right_password:.2f} s")
    assert peak - baseline < RSS_GROWTH_BOUND
    if os.environ.get("POSTIER_ABUSE_VERBOSE"):
        print(f"wrong-password durations: {sorted(throttled)}")


async def test_client_that_never_reads_is_dropped(tmp_path: Path) -> None:
    running = await start_server(
        tmp_path, extra="allow_plaintext = true\n\n[limits]\nimap_idle_timeout = 1\n")
    try:
        account = await running.store.get_account(f"alice@{DOMAIN}")
        assert account is not None
        inbox = await running.store.get_mailbox(account.id, "INBOX")
        for number in range(3):
            await running.store.append(account.id, inbox.id, message(f"big{number}", 1 << 20))
        async with asyncio.timeout(30):
            await non_reader(running.port("imap"), requests=20, message_size=1 << 20,
                             messages=3, user="alice")
    finally:
        await running.stop()
