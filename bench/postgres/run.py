"""Postier on PostgreSQL with 1, 2 and 3 nodes, next to the embedded store: SMTP ingest and
IMAP bulk fetch on this machine.

For each setup, ``postier serve`` processes share one store (a fresh PostgreSQL schema, or one
embedded store for the single embedded node). Then:

- SMTP ingest: ``--clients`` connections, spread round-robin over the nodes, each send
  ``--messages`` 4 KB messages to 10 local users over the MX listener (one transaction at a
  time per connection); rate = messages acknowledged (250 after DATA, i.e. committed) per
  second.
- IMAP bulk fetch: one IMAPS connection per user, spread over the nodes, each fetching
  ``BODY.PEEK[]`` of its whole INBOX at once; rate = messages (and MB) per second for all.

Every node, PostgreSQL and the clients share this machine's CPUs, so more nodes only help as far
as there are cores to run them. Usage::

    python bench/postgres/run.py [--nodes 1 2 3] [--clients 20] [--messages 100]
                                 [--dsn postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

USERS = [f"bench{i}@example.test" for i in range(1, 11)]
PASSWORD = "bench-password"
SIZE = 4096


def _config(directory: Path, store: str) -> Path:
    from postier.net.tls import generate_self_signed

    directory.mkdir(parents=True)
    generate_self_signed("mail.example.test", directory / "cert.pem", directory / "key.pem")
    path = directory / "postier.toml"
    path.write_text(f"""
[server]
hostname = "mail.example.test"
data_dir = "data"
[tls]
cert = "cert.pem"
key = "key.pem"
[listen]
smtp = ["127.0.0.1:0"]
submission = []
submissions = []
imap = []
imaps = ["127.0.0.1:0"]
pop3 = []
pop3s = []
http = []
[log]
level = "warning"
{store}
""")
    return path


async def _add_users(config: Path) -> None:
    from postier.auth.passwords import hash_password, scram_credentials
    from postier.config import load_config
    from postier.server import open_store

    store = await open_store(load_config(config))
    try:
        await store.add_domain("example.test")
        hashed, scram = hash_password(PASSWORD), scram_credentials(PASSWORD)
        for user in USERS:
            await store.add_account(user, hashed, scram)
    finally:
        await store.close()


def _start(config: Path) -> tuple[subprocess.Popen[bytes], dict[str, int]]:
    runtime = config.parent / "data" / "run" / "listeners.json"
    process = subprocess.Popen([sys.executable, "-m", "postier", "--config", str(config),
                                "serve"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if runtime.exists():
            data = json.loads(runtime.read_text())
            if data.get("pid") == process.pid:
                return process, {e["name"]: e["port"] for e in data["listeners"]}
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"{config} did not start")


def _message(number: int) -> bytes:
    head = (f"From: sender{number}@remote.example\r\nTo: someone@example.test\r\n"
            f"Subject: benchmark {number}\r\nMessage-ID: <b{number}@remote.example>\r\n\r\n")
    line = b"The quick brown fox jumps over the lazy dog, again and again.\r\n"
    body = line * ((SIZE - len(head)) // len(line) + 1)
    return head.encode() + body[:SIZE - len(head) - 2] + b"\r\n"


async def _smtp_client(port: int, index: int, count: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)

    async def reply() -> bytes:
        while True:
            line = await reader.readline()
            if line[3:4] != b"-":
                if not line.startswith((b"2", b"3")):
                    raise RuntimeError(f"SMTP refused: {line!r}")
                return line

    await reply()
    writer.write(b"EHLO bench.example\r\n")
    await reply()
    for n in range(count):
        number = index * count + n
        writer.write(f"MAIL FROM:<s{number}@remote.example>\r\n"
                     f"RCPT TO:<{USERS[number % len(USERS)]}>\r\nDATA\r\n".encode())
        await reply()
        await reply()
        await reply()
        writer.write(_message(number) + b".\r\n")
        await reply()
    writer.write(b"QUIT\r\n")
    await writer.drain()
    writer.close()


class _Imap:
    """Just enough IMAP over TLS: send a command, read until its tagged OK."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def login(cls, port: int, user: str) -> _Imap:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        client = cls(*await asyncio.open_connection("127.0.0.1", port, ssl=context))
        await client.reader.readline()
        await client.command("a", f'LOGIN "{user}" "{PASSWORD}"')
        await client.command("b", "SELECT INBOX")
        return client

    async def command(self, tag: str, text: str) -> bytes:
        self.writer.write(f"{tag} {text}\r\n".encode())
        data = bytearray()
        while True:
            chunk = await self.reader.read(1 << 20)
            if not chunk:
                raise RuntimeError("IMAP connection closed")
            data += chunk
            start = data.rfind(b"\r\n", 0, len(data) - 2) + 2 if len(data) > 2 else 0
            start = 0 if start == 1 else start  # one line only
            last = data[start:]
            if data.endswith(b"\r\n") and last.startswith(f"{tag} ".encode()):
                if not last.startswith(f"{tag} OK".encode()):
                    raise RuntimeError(f"IMAP: {bytes(last)!r}")
                return bytes(data)

    async def fetch_all(self) -> tuple[int, int]:
        fetched = await self.command("c", "FETCH 1:* BODY.PEEK[]")
        return fetched.count(b" FETCH ("), len(fetched)

    async def close(self) -> None:
        await self.command("d", "LOGOUT")
        self.writer.close()


async def _measure(ports: list[dict[str, int]], clients: int, messages: int) -> dict[str, float]:
    started = time.perf_counter()
    await asyncio.gather(*(_smtp_client(ports[i % len(ports)]["smtp"], i, messages)
                           for i in range(clients)))
    ingest = time.perf_counter() - started
    sessions = await asyncio.gather(*(_Imap.login(ports[i % len(ports)]["imaps"], user)
                                      for i, user in enumerate(USERS)))
    started = time.perf_counter()  # logged in and selected: time the FETCH alone
    results = await asyncio.gather(*(session.fetch_all() for session in sessions))
    fetch = time.perf_counter() - started
    await asyncio.gather(*(session.close() for session in sessions))
    count = sum(r[0] for r in results)
    assert count == clients * messages, (count, clients * messages)
    return {"smtp_messages_per_s": round(clients * messages / ingest, 1),
            "imap_fetch_messages_per_s": round(count / fetch, 1),
            "imap_fetch_mb_per_s": round(sum(r[1] for r in results) / fetch / 1e6, 1)}


async def _schema(dsn: str, statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def run_setup(root: Path, name: str, nodes: int, dsn: str | None, clients: int,
              messages: int) -> dict[str, float]:
    schema = f"postier_bench_{secrets.token_hex(4)}"
    if dsn is None:
        store = ""
    else:
        asyncio.run(_schema(dsn, f'CREATE SCHEMA "{schema}"'))
        separator = "&" if "?" in dsn else "?"
        store = f'[store]\nbackend = "postgresql"\ndsn = "{dsn}{separator}search_path={schema}"'
    processes = []
    try:
        configs = [_config(root / f"{name}-{i}", store) for i in range(nodes)]
        asyncio.run(_add_users(configs[0]))
        ports = []
        for config in configs:
            process, found = _start(config)
            processes.append(process)
            ports.append(found)
        return asyncio.run(_measure(ports, clients, messages))
    finally:
        for process in processes:
            process.terminate()
            process.wait(30)
        if dsn is not None:
            asyncio.run(_schema(dsn, f'DROP SCHEMA "{schema}" CASCADE'))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--messages", type=int, default=100, help="per client")
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--no-embedded", action="store_true")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="postier-bench-pg-"))
    try:
        setups = [] if args.no_embedded else [("embedded", 1, None)]
        setups += [(f"postgresql-{n}-node", n, args.dsn) for n in args.nodes]
        for name, nodes, dsn in setups:
            result = run_setup(root, name, nodes, dsn, args.clients, args.messages)
            print(f"{name:<22} {json.dumps(result)}", flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
