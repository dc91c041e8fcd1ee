"""Memory per idle IMAP session and IDLE wake-up latency (issue: multi-device sync).

Starts ``postier serve`` as a subprocess on 127.0.0.1 port 0, opens N IMAP connections
(plain ``imap`` listener with ``allow_plaintext``, or ``--tls`` for imaps), each does LOGIN,
SELECT INBOX, IDLE; reports the server's RSS growth divided by N, then the p50/p99 latency
from an SMTP delivery (and from a STORE in another session) to the ``EXISTS``/``FETCH`` line
in every IDLE session.

    python -m bench.idle.run                 # N = 1000, one shared mailbox
    python -m bench.idle.run -n 5000 --accounts   # each session on its own account
    python -m bench.idle.run --tls
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import smtplib
import ssl
import sys
import tempfile
import time
from pathlib import Path

from postier.auth.passwords import hash_password
from postier.config import load_config
from postier.server import open_store
from tests.harness import DOMAIN, ServerProcess, write_config

PASSWORD = "bench-password"


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def raise_fd_limit(wanted: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else wanted
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(target, max(wanted, soft)), hard))


async def prepare(directory: Path, accounts: int, n: int) -> ServerProcess:
    extra = f"""
[limits]
max_connections = {n + 100}
max_connections_per_ip = {n + 100}
"""
    config = write_config(directory, extra=extra)
    text = config.read_text().replace("free_failures = 3",
                                      "free_failures = 3\nallow_plaintext = true")
    config.write_text(text)
    process = ServerProcess(config)
    data = process.data_dir
    data.mkdir(parents=True, exist_ok=True)
    store = await open_store(load_config(config))
    try:
        if await store.get_domain(DOMAIN) is None:
            await store.add_domain(DOMAIN)
        hashed = hash_password(PASSWORD)  # one hash for every account: setup stays fast
        for index in range(accounts):
            await store.add_account(f"u{index}@{DOMAIN}", hashed, None)
    finally:
        await store.close()
    return process


class Session:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def command(self, tag: str, text: str) -> list[bytes]:
        self.writer.write(f"{tag} {text}\r\n".encode())
        lines = []
        while True:
            line = await self.reader.readline()
            if not line:
                raise ConnectionError("closed")
            lines.append(line)
            if line.startswith(tag.encode() + b" "):
                return lines

    async def wait_for(self, marker: bytes) -> float:
        while True:
            line = await self.reader.readline()
            if not line:
                raise ConnectionError("closed")
            if marker in line:
                return time.perf_counter()


async def open_session(port: int, user: str, tls: ssl.SSLContext | None, idle: bool) -> Session:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=tls, limit=16 * 1024)
    session = Session(reader, writer)
    await reader.readline()
    if not (await session.command("a", f'LOGIN {user} "{PASSWORD}"'))[-1].startswith(b"a OK"):
        raise RuntimeError(f"LOGIN {user} failed")
    await session.command("b", "SELECT INBOX")
    if idle:
        writer.write(b"c IDLE\r\n")
        await reader.readline()  # "+ idling"
    return session


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def send_mail(port: int, recipient: str) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        smtp.sendmail("bench@example.org", [recipient],
                      f"From: bench@example.org\r\nTo: {recipient}\r\nSubject: wake\r\n\r\nhi\r\n")


async def run(n: int, tls: bool, accounts: bool, rounds: int) -> None:
    raise_fd_limit(2 * n + 200)
    with tempfile.TemporaryDirectory() as temp:
        directory = Path(temp)
        process = await prepare(directory, n if accounts else 1, n)
        ports = process.start()
        try:
            context = None
            if tls:
                context = ssl.create_default_context(cafile=str(directory / "ca.pem"))
            port = ports["imaps" if tls else "imap"]
            users = [f"u{i if accounts else 0}@{DOMAIN}" for i in range(n)]
            # Warm up: one session through every code path, so imports are not counted.
            warm = await open_session(port, users[0], context, idle=False)
            await warm.command("w", "NOOP")
            await asyncio.sleep(0.5)
            before = rss_kib(process.process.pid)  # type: ignore[union-attr]
            sessions: list[Session] = []
            started = time.perf_counter()
            for start in range(0, n, 100):
                sessions += await asyncio.gather(*(open_session(port, user, context, True)
                                                   for user in users[start:start + 100]))
            setup = time.perf_counter() - started
            await asyncio.sleep(1.0)
            after = rss_kib(process.process.pid)  # type: ignore[union-attr]
            per_session = (after - before) * 1024 / n
            print(f"sessions: {n} ({'imaps' if tls else 'imap'}, "
                  f"{'one account each' if accounts else 'one shared mailbox'}), "
                  f"set up in {setup:.1f} s")
            print(f"server RSS: {before} KiB -> {after} KiB: {per_session / 1024:.1f} KiB "
                  f"per idle session")

            smtp_latencies: list[float] = []
            for index in range(rounds):
                targets = sessions if not accounts else [sessions[index % n]]
                recipient = users[index % n]
                waiters = [asyncio.ensure_future(s.wait_for(b"EXISTS")) for s in targets]
                sent = time.perf_counter()
                await asyncio.to_thread(send_mail, ports["smtp"], recipient)
                done = await asyncio.gather(*waiters)
                smtp_latencies += [max(0.0, t - sent) for t in done]
            print(f"SMTP delivery -> EXISTS: p50 {percentile(smtp_latencies, 50) * 1000:.1f} ms, "
                  f"p99 {percentile(smtp_latencies, 99) * 1000:.1f} ms "
                  f"({len(smtp_latencies)} wake-ups; includes the SMTP transaction)")

            if not accounts:
                store_latencies: list[float] = []
                for index in range(rounds):
                    waiters = [asyncio.ensure_future(s.wait_for(b"FETCH")) for s in sessions]
                    sent = time.perf_counter()
                    flag = "+FLAGS" if index % 2 == 0 else "-FLAGS"
                    await warm.command(f"s{index}", f"STORE 1 {flag}.SILENT (\\Flagged)")
                    done = await asyncio.gather(*waiters)
                    store_latencies += [max(0.0, t - sent) for t in done]
                print(f"STORE in another session -> FETCH: "
                      f"p50 {percentile(store_latencies, 50) * 1000:.1f} ms, "
                      f"p99 {percentile(store_latencies, 99) * 1000:.1f} ms")
            print(f"server RSS at the end: {rss_kib(process.process.pid)} KiB")  # type: ignore[union-attr]
            for session in sessions:
                session.writer.close()
        finally:
            process.terminate()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=1000, help="idle sessions (1000; try 5000)")
    parser.add_argument("--tls", action="store_true", help="use the imaps listener")
    parser.add_argument("--accounts", action="store_true",
                        help="one account (and mailbox) per session instead of one shared")
    parser.add_argument("--rounds", type=int, default=10, help="wake-ups measured")
    args = parser.parse_args()
    asyncio.run(run(args.n, args.tls, args.accounts, args.rounds))


if __name__ == "__main__":
    sys.exit(main())
