"""Load-side helpers shared by the scenarios: filling mailboxes, timing, percentiles.

``Stopwatch`` measures wall time together with the load generator's own CPU time and the
server's (``Target.root_pids`` and descendants), so every result says whether the client could
have been the bottleneck: ``client_cpu_share`` near 1.0 means the load generator used a whole
core and the number is a floor, not the server's limit.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass

from bench.clients import ClientError, ImapClient, SmtpClient, dot_stuff
from bench.common import Target, cpu_seconds

__all__ = ["Stopwatch", "deliver", "percentile", "populate_imap", "summary_times",
           "wait_for_counts", "wait_for_quiet"]


def _busy_cpu_seconds() -> float:
    """CPU time all processes on the machine have used (``/proc/stat``: all but idle, iowait)."""
    with open("/proc/stat") as stat:
        fields = [int(x) for x in stat.readline().split()[1:8]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def _kernel_threads_cpu_seconds() -> float:
    """CPU time of the kernel's own threads (children of kthreadd, pid 2): journal commits,
    block I/O and writeback that fsync-heavy servers cause but are not charged for."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                text = stat.read()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2:].split()
        if fields[1] == "2" or entry == "2":
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def wait_for_quiet(max_wait: float, threshold: float = 0.3) -> float:
    """Wait (up to ``max_wait`` seconds) until the machine is nearly idle: less than
    ``threshold`` cores busy over one second. Returns the last busy share seen, for the record:
    on a shared machine, other jobs would otherwise land inside a measurement."""
    deadline = time.monotonic() + max_wait
    while True:
        before = _busy_cpu_seconds()
        time.sleep(1.0)
        busy = _busy_cpu_seconds() - before
        if busy < threshold or time.monotonic() > deadline:
            return round(busy, 2)
        time.sleep(1.0)


@dataclass
class Stopwatch:
    target: Target
    wall: float = 0.0
    client_cpu: float = 0.0
    server_cpu: float = 0.0
    server_cpu_start: float = 0.0
    other_cpu: float = 0.0
    kernel_cpu: float = 0.0

    def __enter__(self) -> Stopwatch:
        self._roots = self.target.root_pids()
        self._server = self.server_cpu_start = cpu_seconds(self._roots)
        self._busy = _busy_cpu_seconds()
        self._kernel = _kernel_threads_cpu_seconds()
        self._cpu = time.process_time()
        self._wall = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self._wall
        self.client_cpu = time.process_time() - self._cpu
        self.server_cpu = cpu_seconds(self._roots) - self._server
        self.kernel_cpu = _kernel_threads_cpu_seconds() - self._kernel
        # What the rest of the machine used meanwhile (another job on a shared machine).
        self.other_cpu = max(0.0, _busy_cpu_seconds() - self._busy - self.server_cpu
                             - self.client_cpu - self.kernel_cpu)

    def stats(self) -> dict[str, float | None]:
        return {"seconds": round(self.wall, 4),
                "client_cpu_share": round(self.client_cpu / self.wall, 3) if self.wall else 0,
                "server_cpu_seconds": round(self.server_cpu, 3),
                # Machine-wide counters tick every 10 ms: meaningless for short sections.
                "kernel_threads_cpu_share": round(self.kernel_cpu / self.wall, 3)
                if self.wall >= 0.5 else None,
                "other_cpu_share": round(self.other_cpu / self.wall, 3)
                if self.wall >= 0.5 else None}


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def summary_times(values: Sequence[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 4), "min": round(min(values), 4),
            "max": round(max(values), 4), "runs": len(values)}


async def populate_imap(target: Target, user: str, messages: list[bytes], *,
                        connections: int = 4, batch: int = 50, mailbox: str = "INBOX") -> None:
    """APPEND ``messages`` to ``user``'s mailbox over several connections.

    With MULTIAPPEND (RFC 3502) and LITERAL+ both servers take ``batch`` messages per command;
    otherwise single APPENDs, pipelined. The order of UIDs follows the batches."""
    assert target.imap is not None
    chunks = [messages[i:i + batch] for i in range(0, len(messages), batch)]
    queue: asyncio.Queue[list[bytes]] = asyncio.Queue()
    for chunk in chunks:
        queue.put_nowait(chunk)

    async def worker() -> None:
        client = await ImapClient.connect(target.imap)  # type: ignore[arg-type]
        await client.login(user, target.password)
        multi = {"MULTIAPPEND", "LITERAL+"} <= client.capabilities
        try:
            while not queue.empty():
                chunk = queue.get_nowait()
                if multi:
                    tag = client.next_tag()
                    parts = [f'{tag} APPEND "{mailbox}"'.encode()]
                    for message in chunk:
                        parts.append(b" {%d+}\r\n" % len(message) + message)
                    client.writer.write(b"".join(parts) + b"\r\n")
                    reply = await client.read_until_tagged(tag)
                    if reply.status != "OK":
                        raise ClientError(f"MULTIAPPEND: {reply.text!r}")
                else:
                    await client.append_many(mailbox, chunk)
        finally:
            await client.logout()

    await asyncio.gather(*(worker() for _ in range(min(connections, len(chunks)) or 1)))


async def deliver(target: Target, deliveries: list[tuple[str, bytes]], *,
                  clients: int = 10) -> None:
    """Send (recipient, message) pairs over SMTP with ``clients`` connections."""
    assert target.smtp is not None
    queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
    for item in deliveries:
        queue.put_nowait(item)

    async def worker() -> None:
        client = await SmtpClient.connect(target.smtp)  # type: ignore[arg-type]
        try:
            while not queue.empty():
                recipient, message = queue.get_nowait()
                await client.send("loader@sender.example", [recipient], dot_stuff(message))
        finally:
            await client.quit()

    await asyncio.gather(*(worker() for _ in range(min(clients, len(deliveries)) or 1)))


async def wait_for_counts(target: Target, expected: dict[str, int], *, timeout: float = 300.0,
                          interval: float = 0.05) -> float:
    """Wait until every account holds at least the expected messages.

    Returns the seconds from the call to the start of the first count that found them all (0
    when they were there at once), so a slow count (a CLI run) adds nothing."""
    started = time.perf_counter()
    addresses = list(expected)
    while True:
        polled = time.perf_counter()
        counts = await asyncio.to_thread(target.count_messages, addresses)
        if all(counts[a] >= expected[a] for a in addresses):
            return polled - started
        if time.perf_counter() - started > timeout:
            missing = {a: expected[a] - counts[a] for a in addresses if counts[a] < expected[a]}
            raise TimeoutError(f"{target.name}: messages still missing after {timeout} s: "
                               f"{missing}")
        await asyncio.sleep(interval)
