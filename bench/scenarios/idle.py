"""IDLE: memory per idle session and wake-up latency, each session on its own mailbox, and
many sessions on one shared mailbox.

Cases (sizes from ``bench/run.py``; the full run measures all three):

- ``own_1000`` and ``own_5000``: N sessions, each logged in to an account of its own
  (``idle1@bench.test`` ... ``idleN@bench.test``, created in bulk for this scenario with the
  same password as the others), each in IDLE on that account's INBOX. One delivery wakes one
  session. Own accounts rather than own folders: SMTP delivers to the INBOX (``user+tag`` goes
  to the INBOX too), and creating accounts in bulk is cheap; logging 5,000 of them in is what
  a real server with 5,000 idle clients does anyway.
- ``shared_500``: 500 sessions of one account (``bench15``) in IDLE on the same INBOX. One
  delivery wakes all 500 at once.

Memory per connection: the server's memory once all N are idling, minus before they
connected, divided by N. For Postier that is one process, restarted before each case (a long
lived heap would hand freed memory to the new sessions and look free); for the reference the
Dovecot processes (master, login, auth, one ``imap`` process per session...). RSS sums count
shared library pages once per process, which inflates a many-process server, so PSS (shared
pages divided among the processes mapping them) is reported too; for one process they agree.
The server first serves as many logins at once as the opening uses, which are then closed, so
one-off costs (password hashing pools, code paths loaded) are in "before".

Wake-up latency, one round at a time:

- after an SMTP delivery: the clock starts when the client sends the message after the 354
  (so the server's DATA handling, its fsync and the 250 are inside) and stops, for each IDLE
  session of that mailbox, when the line ``* n EXISTS`` is read;
- after a STORE in another session: a separate session of the same account, with the mailbox
  selected, sends ``STORE * +FLAGS.SILENT (\\Flagged)`` on the message the SMTP rounds just
  delivered (``-FLAGS`` the next time that account is woken); the clock starts when it is
  written and stops at each IDLE session's ``* n FETCH`` line.

p50/p99/max over every woken session of every round. The own-mailbox cases run ``deliveries``
rounds of each kind (200 by default, so p99 is not just the slowest of a few), to accounts
spread over the whole range; the shared case a fifth as many (each wakes all its sessions).

The load generator must not be the slow side: the IDLE connections are plain
``asyncio.Protocol`` objects whose ``data_received`` takes the timestamp as soon as the event
loop (uvloop when installed) reads the socket, with no task switch or stream buffering in
between. The generator's CPU during the rounds is recorded: ``client_cpu_share`` (cores, SMTP
rounds; ``other_cpu_share`` is what other jobs on the machine used meanwhile),
``client_cpu_ms_per_round`` and ``client_cpu_us_per_wake`` (its CPU per woken session, SMTP
client and STORE session included: an upper bound on the delay it adds to the last of 500
sessions woken together). ``server_cpu_ms_per_smtp_round`` is the server's CPU per delivery
and the wake-ups it causes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import cast

from bench.clients import ImapClient, SmtpClient, dot_stuff
from bench.common import DOMAIN, Target, memory_kb
from bench.load import Stopwatch, percentile
from bench.messages import fixed_size_message

NAME = "idle"
SHARED_USER = 15  # bench15: the shared-mailbox case
OPEN_AT_ONCE = 50
WAKE_TIMEOUT = 10.0
SETUP_TIMEOUT = 120.0
PAUSE = 0.05  # seconds between rounds


def own_address(number: int) -> str:
    """The account of the ``number``-th (1-based) own-mailbox session."""
    return f"idle{number}@{DOMAIN}"


class IdleConnection(asyncio.Protocol):
    """One IMAP connection: logs in, selects INBOX, IDLEs, and timestamps wake-up lines as
    soon as they are read."""

    def __init__(self, user: str) -> None:
        self.user = user
        self.transport: asyncio.Transport | None = None
        self._buffer = b""
        self._lines: list[bytes] = []
        self._waiter: asyncio.Future[None] | None = None
        self.idling = False
        self.on_wake: Callable[[IdleConnection, bytes, float], None] | None = None
        self.closed = False

    # -- asyncio.Protocol -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        data = self._buffer + data
        *lines, self._buffer = data.split(b"\r\n")
        if self.idling:
            if self.on_wake is not None:
                for line in lines:
                    if line.endswith(b" EXISTS") or b" FETCH " in line:
                        self.on_wake(self, line, now)
            return
        self._lines += lines
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(ConnectionError(f"{self.user}: connection closed"))

    # -- setup ----------------------------------------------------------------------------

    async def _line(self) -> bytes:
        while not self._lines:
            if self.closed:
                raise ConnectionError(f"{self.user}: connection closed")
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        return self._lines.pop(0)

    async def _command(self, tag: str, text: str) -> bytes:
        assert self.transport is not None
        self.transport.write(f"{tag} {text}\r\n".encode())
        while True:
            line = await self._line()
            if line.startswith(tag.encode() + b" "):
                if not line.startswith(tag.encode() + b" OK"):
                    raise RuntimeError(f"{self.user}: {text.split()[0]}: {line!r}")
                return line

    async def start(self, password: str) -> None:
        greeting = await self._line()
        if not greeting.startswith(b"* OK"):
            raise RuntimeError(f"greeting: {greeting!r}")
        await self._command("a", f'LOGIN "{self.user}" "{password}"')
        await self._command("b", "SELECT INBOX")
        assert self.transport is not None
        self.transport.write(b"c IDLE\r\n")
        while True:
            line = await self._line()
            if line.startswith(b"+"):
                break
            if line.startswith(b"c "):
                raise RuntimeError(f"IDLE refused: {line!r}")
        self._lines.clear()
        self.idling = True

    def close(self) -> None:
        if self.transport is not None:
            self.transport.abort()


async def _open_one(port: int, user: str, password: str) -> IdleConnection:
    loop = asyncio.get_running_loop()
    _, connection = await loop.create_connection(lambda: IdleConnection(user), "127.0.0.1", port)
    try:
        async with asyncio.timeout(SETUP_TIMEOUT):
            await connection.start(password)
    except BaseException:
        connection.close()
        raise
    return connection


async def _open_all(target: Target, users: list[str]) -> list[IdleConnection]:
    assert target.imap is not None
    limit = asyncio.Semaphore(OPEN_AT_ONCE)
    port = target.imap

    async def one(user: str) -> IdleConnection:
        async with limit:
            return await _open_one(port, user, target.password)

    results = await asyncio.gather(*(one(u) for u in users), return_exceptions=True)
    sessions = [r for r in results if isinstance(r, IdleConnection)]
    failures = [r for r in results if isinstance(r, BaseException)]
    if failures:
        for session in sessions:
            session.close()
        raise RuntimeError(f"{len(failures)} of {len(users)} IDLE sessions failed to open, "
                           f"first: {failures[0]!r}")
    return sessions


class Round:
    """One wake-up: the sessions expected to hear it and when each did."""

    def __init__(self, watchers: list[IdleConnection], marker: Callable[[bytes], bool]) -> None:
        self.pending = set(map(id, watchers))
        self.marker = marker
        self.started = 0.0
        self.latencies: list[float] = []
        self.done = asyncio.get_running_loop().create_future()
        if not self.pending:
            self.done.set_result(None)

    def heard(self, connection: IdleConnection, line: bytes, when: float) -> None:
        key = id(connection)
        if key in self.pending and self.marker(line):
            self.pending.discard(key)
            self.latencies.append(when - self.started)
            if not self.pending and not self.done.done():
                self.done.set_result(None)


async def _measure(watchers: list[IdleConnection], marker: Callable[[bytes], bool],
                   trigger: Callable[[Round], object]) -> tuple[list[float], int]:
    """Run one round: arm the watchers, ``await trigger(round)`` (it sets ``round.started``),
    wait for every watcher or the timeout."""
    wake = Round(watchers, marker)
    for connection in watchers:
        connection.on_wake = wake.heard
    try:
        await trigger(wake)  # type: ignore[misc]
        try:
            async with asyncio.timeout(WAKE_TIMEOUT):
                await asyncio.shield(wake.done)
        except TimeoutError:
            pass
    finally:
        for connection in watchers:
            connection.on_wake = None
    return wake.latencies, len(wake.pending)


def _is_exists(line: bytes) -> bool:
    return line.endswith(b" EXISTS")


def _is_fetch(line: bytes) -> bool:
    return b" FETCH (" in line


async def _smtp_rounds(target: Target, by_user: dict[str, list[IdleConnection]],
                       users: list[str]) -> tuple[list[float], int]:
    assert target.smtp is not None
    smtp = await SmtpClient.connect(target.smtp)
    latencies: list[float] = []
    missed = 0
    try:
        for number, user in enumerate(users):
            message = dot_stuff(fixed_size_message(number, user, 2048))

            async def send(wake: Round, user: str = user, message: bytes = message) -> None:
                await smtp.begin("notify@sender.example", [user])
                wake.started = time.perf_counter()
                await smtp.finish(message)

            found, lost = await _measure(by_user[user], _is_exists, send)
            latencies += found
            missed += lost
            await asyncio.sleep(PAUSE)
    finally:
        await smtp.quit()
    return latencies, missed


async def _store_rounds(target: Target, by_user: dict[str, list[IdleConnection]],
                        users: list[str]) -> tuple[list[float], int]:
    assert target.imap is not None
    storers: dict[str, ImapClient] = {}
    for user in dict.fromkeys(users):
        client = await ImapClient.connect(target.imap)
        await client.login(user, target.password)
        await client.command("SELECT INBOX")
        storers[user] = client
    latencies: list[float] = []
    missed = 0
    try:
        flagged: dict[str, bool] = {}
        for user in users:
            client = storers[user]
            # The newest message (the one this case's SMTP round delivered): set \Flagged, then
            # clear it the next time this account is woken, so every STORE is a change.
            sign = "-" if flagged.get(user) else "+"
            flagged[user] = not flagged.get(user)

            async def store(wake: Round, client: ImapClient = client, sign: str = sign) -> None:
                tag = client.next_tag()
                client.writer.write(f"{tag} STORE * {sign}FLAGS.SILENT (\\Flagged)\r\n".encode())
                wake.started = time.perf_counter()
                reply = await client.read_until_tagged(tag)
                if reply.status != "OK":
                    raise RuntimeError(f"STORE: {reply.text!r}")

            found, lost = await _measure(by_user[user], _is_fetch, store)
            latencies += found
            missed += lost
            await asyncio.sleep(PAUSE)
    finally:
        for client in storers.values():
            await client.logout()
    return latencies, missed


def _summary(prefix: str, latencies: list[float], missed: int) -> dict[str, object]:
    return {
        f"{prefix}_wake_ups": len(latencies), f"{prefix}_missed": missed,
        f"{prefix}_p50_ms": round(1000 * percentile(latencies, 0.5), 1) if latencies else None,
        f"{prefix}_p99_ms": round(1000 * percentile(latencies, 0.99), 1) if latencies else None,
        f"{prefix}_max_ms": round(1000 * max(latencies), 1) if latencies else None,
    }


async def _settle(target: Target, seconds: float = 1.0) -> dict[str, int]:
    await asyncio.sleep(seconds)
    return memory_kb(target.imap_pids())


async def run_case(target: Target, users: list[str], rounds: list[str]) -> dict[str, object]:
    """One case: every address in ``users`` (repeated for a shared mailbox) opens one IDLE
    session; ``rounds`` are the accounts woken, one SMTP round and one STORE round each."""
    if target.imap is None or target.smtp is None:
        raise RuntimeError("no imap or smtp listener")
    if target.restart is not None:
        await asyncio.to_thread(target.restart)
    # Warm up with as many logins at once as the real opening uses: password hashing (Argon2,
    # 19 MiB each) grows memory pools once per concurrent login, not per session, and that
    # must not be charged to the sessions.
    for session in await _open_all(target, users[:OPEN_AT_ONCE]):
        session.close()
    await _wait_stable(target)
    before = await _settle(target, 1.0)
    baseline_processes = before["processes"]
    opened_at = time.perf_counter()
    idle = await _open_all(target, users)
    open_seconds = time.perf_counter() - opened_at
    try:
        after = await _settle(target)
        count = len(idle)
        per_connection = {key: round((after[key] - before[key]) / count, 1)
                          for key in ("rss_kb", "pss_kb", "private_kb")}
        by_user: dict[str, list[IdleConnection]] = {}
        for session in idle:
            by_user.setdefault(session.user, []).append(session)
        with Stopwatch(target) as watch:
            smtp_latencies, smtp_missed = await _smtp_rounds(target, by_user, rounds)
        smtp_cpu = watch.client_cpu
        cpu = time.process_time()
        store_latencies, store_missed = await _store_rounds(target, by_user, rounds)
        store_cpu = time.process_time() - cpu
        closed = sum(1 for session in idle if session.closed)
    finally:
        for session in idle:
            session.close()
    await _wait_processes(target, baseline_processes)
    wakes = len(smtp_latencies) + len(store_latencies)
    return {
        "sessions": count, "mailboxes": len(by_user), "open_seconds": round(open_seconds, 2),
        "memory_before_kb": before, "memory_after_kb": after,
        "per_connection_kb": per_connection,
        "rss_kb_per_connection": per_connection["rss_kb"],
        "pss_kb_per_connection": per_connection["pss_kb"],
        "rounds": len(rounds), "sessions_closed_by_server": closed,
        **_summary("smtp", smtp_latencies, smtp_missed),
        **_summary("store", store_latencies, store_missed),
        "smtp_rounds": watch.stats(),
        "server_cpu_ms_per_smtp_round": round(1000 * watch.server_cpu / len(rounds), 2),
        "client_cpu_share": watch.stats()["client_cpu_share"],
        "other_cpu_share": watch.stats()["other_cpu_share"],
        "client_cpu_ms_per_round": round(1000 * (smtp_cpu + store_cpu) / (2 * len(rounds)), 2),
        "client_cpu_us_per_wake": round(1e6 * (smtp_cpu + store_cpu) / wakes, 1)
        if wakes else None,
    }


def cases(own: tuple[int, ...], shared: int) -> dict[str, list[str]]:
    """Case name → one address per session."""
    found = {f"own_{count}": [own_address(n) for n in range(1, count + 1)] for count in own}
    if shared:
        found[f"shared_{shared}"] = [f"bench{SHARED_USER}@{DOMAIN}"] * shared
    return found


async def run(target: Target, own: tuple[int, ...] = (1000, 5000), shared: int = 500,
              deliveries: int = 40) -> dict[str, object]:
    if own and target.add_accounts is not None:
        await asyncio.to_thread(target.add_accounts, [own_address(n)
                                                      for n in range(1, max(own) + 1)])
    results: dict[str, object] = {}
    for name, users in cases(own, shared).items():
        distinct = list(dict.fromkeys(users))
        # Spread the woken accounts over the whole range (a shared case has just one, and
        # fewer rounds: each wakes every session).
        count = deliveries if name.startswith("own") else max(1, deliveries // 5)
        woken = [distinct[(i * len(distinct)) // count] for i in range(count)]
        try:
            results[name] = await run_case(target, users, woken)
        except Exception as exc:  # one case failing does not lose the others
            results[name] = {"error": f"not available: {exc}"[:500]}
    return results


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
    """Let a many-process server wind the sessions down before the next case."""
    deadline = time.monotonic() + timeout
    while len(target.imap_pids()) > count + 2 and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
