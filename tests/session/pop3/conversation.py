"""Helpers for POP3 session conversations over net.memory with a real SQLite store."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
from datetime import datetime
from pathlib import Path

from postier.auth import Authenticator, MemoryThrottle, ThrottleLimits
from postier.config import AuthSection, Config, LimitsSection, Pop3Section, ServerSection
from postier.net.memory import MemoryConnection, MemoryPeer, memory_pair
from postier.net.tls import TlsManager
from postier.pop3.session import Pop3Session, SharedState, shared_state
from postier.services import Services
from postier.store.interface import Store
from postier.types import INBOX, AccountId, Flag, Uid

HOST = "mail.example.test"


def make_services(store: Store, *, tls: TlsManager | None = None,
                  allow_plaintext: bool = False, limits: LimitsSection | None = None,
                  pop3: Pop3Section | None = None) -> Services:
    config = Config(server=ServerSection(hostname=HOST), limits=limits or LimitsSection(),
                    auth=AuthSection(allow_plaintext=allow_plaintext),
                    pop3=pop3 or Pop3Section())
    throttle = ThrottleLimits(free_failures=3, base_delay=0.01, max_delay=0.02, window=60.0)
    return Services(config, store, Authenticator(store, MemoryThrottle(throttle)), tls)


def make_tls(directory: Path) -> TlsManager:
    import trustme

    path = directory / "server.pem"
    trustme.CA().issue_cert(HOST).private_key_and_cert_chain_pem.write_to_path(str(path))
    return TlsManager(path, path)


class Pop3Client:
    """The client's end of one session."""

    def __init__(self, conn: MemoryConnection, peer: MemoryPeer,
                 task: asyncio.Task[None]) -> None:
        self.conn = conn
        self.peer = peer
        self.task = task

    def send(self, data: bytes | str) -> None:
        self.peer.send(data.encode() if isinstance(data, str) else data)

    async def line(self) -> str:
        return (await self.peer.read_until(b"\r\n")).decode()

    async def command(self, line: str) -> str:
        """Send a command, return its status line without CRLF."""
        self.send(line + "\r\n")
        return (await self.line()).rstrip("\r\n")

    async def body(self) -> bytes:
        """The rest of a multi-line response, byte-stuffing removed (RFC 1939 §3)."""
        lines: list[bytes] = []
        while True:
            line = await self.peer.read_until(b"\r\n")
            if line == b".\r\n":
                return b"".join(lines)
            lines.append(line[1:] if line.startswith(b".") else line)

    async def multi(self, line: str) -> tuple[str, list[str]]:
        status = await self.command(line)
        assert status.startswith("+OK"), status
        return status, (await self.body()).decode().splitlines()

    async def retr(self, number: int) -> bytes:
        status = await self.command(f"RETR {number}")
        assert status.startswith("+OK"), status
        return await self.body()

    async def login(self, user: str = "alice@example.test",
                    password: str = "alice-password") -> str:
        assert (await self.command(f"USER {user}")).startswith("+OK")
        return await self.command(f"PASS {password}")

    async def quit(self) -> str:
        status = await self.command("QUIT")
        await self.closed()
        return status

    async def closed(self) -> None:
        await asyncio.wait_for(self.task, 5)

    def drop(self) -> None:
        """The client vanishes without QUIT."""
        self.peer.close()


async def connect(services: Services, *, tls: bool = True,
                  shared: SharedState | None = None) -> Pop3Client:
    conn, peer = memory_pair("pop3s" if tls else "pop3", peer_ip="192.0.2.7", tls=tls)
    session = Pop3Session(services, conn, shared or shared_state(services))
    client = Pop3Client(conn, peer, asyncio.create_task(session.run()))
    assert await client.line() == "+OK Postier POP3 server ready\r\n"
    return client


async def account_id(store: Store, address: str = "alice@example.test") -> AccountId:
    account = await store.get_account(address)
    assert account is not None
    return account.id


async def deliver(store: Store, body: bytes, address: str = "alice@example.test", *,
                  mailbox: str = INBOX, flags: frozenset[Flag] = frozenset(),
                  date: datetime | None = None) -> Uid:
    account = await account_id(store, address)
    box = await store.get_mailbox(account, mailbox)
    result = await store.append(account, box.id, body, flags, date)
    return result.record.uid


async def messages(store: Store, mailbox: str = INBOX,
                   address: str = "alice@example.test") -> dict[Uid, frozenset[Flag]]:
    account = await account_id(store, address)
    box = await store.get_mailbox(account, mailbox)
    return {state.uid: state.flags for state in await store.message_states(account, box.id)}


def message(subject: str, body: str = "hello\r\n") -> bytes:
    return (f"From: bob@example.test\r\nTo: alice@example.test\r\nSubject: {subject}\r\n\r\n"
            f"{body}").encode()


class ScramClient:
    """The client half of SCRAM-SHA-256 (RFC 5802, RFC 7677), computed independently."""

    def __init__(self, username: str, password: str, nonce: str = "rOprNGfwEbeRWgbNEkqO") -> None:
        self.password = password
        self.bare = f"n={username},r={nonce}"
        self.auth_message = b""
        self.salted = b""

    def first(self) -> bytes:
        return ("n,," + self.bare).encode()

    def final(self, server_first: bytes) -> bytes:
        fields = dict(item.split("=", 1) for item in server_first.decode().split(","))
        salt = base64.b64decode(fields["s"])
        self.salted = hashlib.pbkdf2_hmac("sha256", self.password.encode(), salt,
                                          int(fields["i"]))
        without_proof = f"c=biws,r={fields['r']}"
        self.auth_message = f"{self.bare},{server_first.decode()},{without_proof}".encode()
        client_key = hmac.digest(self.salted, b"Client Key", "sha256")
        signature = hmac.digest(hashlib.sha256(client_key).digest(), self.auth_message, "sha256")
        proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
        return f"{without_proof},p={base64.b64encode(proof).decode()}".encode()

    def verify(self, server_final: bytes) -> bool:
        server_key = hmac.digest(self.salted, b"Server Key", "sha256")
        expected = hmac.digest(server_key, self.auth_message, "sha256")
        return server_final == b"v=" + base64.b64encode(expected)
