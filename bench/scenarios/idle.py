"""IDLE: N concurrent sessions (1,000 by default) sit in IDLE on the INBOXes of 20 accounts.

Memory per connection: the server's memory once all N are idling, minus before they
connected, divided by N. For Postier that is one process; for the reference the Dovecot
processes (master, login, auth, one ``imap`` process per session...). RSS sums count shared
library pages once per process, which inflates a many-process server, so PSS (shared pages
divided among the processes mapping them) is reported too; for one process they agree.

The server first serves as many logins at once as the opening uses, which are then closed, so
one-off costs (password hashing pools, code paths loaded) are in "before".

Wake-up latency: then, one at a time, a message is delivered over SMTP to one of the accounts;
the clock starts when the client sends the message after the 354 and stops when each IDLE
session of that account reads ``* n EXISTS``. p50 and p99 over every woken session.
"""

from __future__ import annotations

import asyncio
import time

from bench.clients import ImapClient, SmtpClient, dot_stuff
from bench.common import Target, memory_kb
from bench.load import percentile
from bench.messages import fixed_size_message

NAME = "idle"
USERS = range(15, 35)  # bench15..bench34
OPEN_AT_ONCE = 50
WAKE_TIMEOUT = 10.0


class IdleSession:
    def __init__(self, client: ImapClient, user: str) -> None:
        self.client, self.user = client, user
        self.woken: asyncio.Queue[float] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, target: Target, user: str) -> IdleSession:
        client = await ImapClient.connect(target.imap)  # type: ignore[arg-type]
        await client.login(user, target.password)
        await client.command("SELECT INBOX")
        client.writer.write(b"idle IDLE\r\n")
        while True:
            line, _ = await client.read_response()
            if line.startswith(b"+"):
                break
            if line.startswith(b"idle "):
                raise RuntimeError(f"IDLE refused: {line!r}")
        session = cls(client, user)
        session.task = asyncio.create_task(session._listen())
        return session

    async def _listen(self) -> None:
        reader = self.client.reader
        while True:
            line = await reader.readuntil(b"\r\n")
            if line.endswith(b" EXISTS\r\n"):
                self.woken.put_nowait(time.perf_counter())

    def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
        self.client.writer.transport.abort()


async def _open_all(target: Target, users: list[str], count: int) -> list[IdleSession]:
    limit = asyncio.Semaphore(OPEN_AT_ONCE)

    async def one(index: int) -> IdleSession:
        async with limit:
            return await IdleSession.open(target, users[index % len(users)])

    results = await asyncio.gather(*(one(i) for i in range(count)), return_exceptions=True)
    sessions = [r for r in results if isinstance(r, IdleSession)]
    failures = [r for r in results if isinstance(r, BaseException)]
    if failures:
        for session in sessions:
            session.close()
        raise RuntimeError(f"{len(failures)} of {count} IDLE sessions failed to open, "
                           f"first: {failures[0]!r}")
    return sessions


async def _settle(target: Target, seconds: float = 1.0) -> dict[str, int]:
    await asyncio.sleep(seconds)
    return memory_kb(target.imap_pids())


async def run(target: Target, sessions: int = 1000, deliveries: int = 40) -> dict[str, object]:
    if target.imap is None or target.smtp is None:
        raise RuntimeError("no imap or smtp listener")
    users = [target.user(n) for n in USERS]
    if target.restart is not None:
        # A long-lived Python process keeps the heap earlier scenarios grew; new sessions
        # would fill freed memory and look free. Measure in a fresh process.
        await asyncio.to_thread(target.restart)
    # Warm up with as many logins at once as the real opening uses: password hashing (Argon2,
    # 19 MiB each) grows memory pools once per concurrent login, not per session, and that
    # must not be charged to the sessions.
    for session in await _open_all(target, users, OPEN_AT_ONCE):
        session.close()
    await _wait_stable(target)
    before = await _settle(target, 1.0)
    baseline_processes = before["processes"]
    opened_at = time.perf_counter()
    idle = await _open_all(target, users, sessions)
    open_seconds = time.perf_counter() - opened_at
    try:
        after = await _settle(target)
        per_connection = {key: round((after[key] - before[key]) / sessions, 1)
                          for key in ("rss_kb", "pss_kb", "private_kb")}
        latencies, missed = await _wake_ups(target, idle, users, deliveries)
    finally:
        for session in idle:
            session.close()
    await _wait_processes(target, baseline_processes)
    return {
        "sessions": sessions, "open_seconds": round(open_seconds, 2),
        "memory_before_kb": before, "memory_after_kb": after,
        "per_connection_kb": per_connection,
        "rss_kb_per_connection": per_connection["rss_kb"],
        "pss_kb_per_connection": per_connection["pss_kb"],
        "deliveries": deliveries, "wake_ups": len(latencies), "missed_wake_ups": missed,
        "wake_p50_ms": round(1000 * percentile(latencies, 0.5), 1),
        "wake_p99_ms": round(1000 * percentile(latencies, 0.99), 1),
        "wake_max_ms": round(1000 * max(latencies), 1) if latencies else None,
    }


async def _wake_ups(target: Target, idle: list[IdleSession], users: list[str],
                    deliveries: int) -> tuple[list[float], int]:
    by_user: dict[str, list[IdleSession]] = {}
    for session in idle:
        by_user.setdefault(session.user, []).append(session)
    smtp = await SmtpClient.connect(target.smtp)  # type: ignore[arg-type]
    latencies: list[float] = []
    missed = 0
    try:
        for number in range(deliveries):
            user = users[number % len(users)]
            watchers = by_user.get(user, [])
            for session in watchers:
                while not session.woken.empty():
                    session.woken.get_nowait()
            await smtp.begin("notify@sender.example", [user])
            started = time.perf_counter()
            await smtp.finish(dot_stuff(fixed_size_message(number, user, 2048)))
            results = await asyncio.gather(
                *(asyncio.wait_for(s.woken.get(), WAKE_TIMEOUT) for s in watchers),
                return_exceptions=True)
            for result in results:
                if isinstance(result, float):
                    latencies.append(result - started)
                else:
                    missed += 1
            await asyncio.sleep(0.05)
    finally:
        await smtp.quit()
    return latencies, missed


async def _wait_stable(target: Target, timeout: float = 30.0) -> None:
    """Wait until the server's process count has stopped changing for a second."""
    deadline = time.monotonic() + timeout
    last, stable = -1, 0
    while stable < 4 and time.monotonic() < deadline:
        count = len(target.imap_pids())
        stable = stable + 1 if count == last else 0
        last = count
        await asyncio.sleep(0.25)


async def _wait_processes(target: Target, count: int, timeout: float = 60.0) -> None:
    """Let a many-process server wind the sessions down before the next scenario."""
    deadline = time.monotonic() + timeout
    while len(target.imap_pids()) > count + 2 and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
