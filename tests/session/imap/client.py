"""Helpers for IMAP session conversations over net.memory with a real SQLite store."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from postier.auth import Authenticator, MemoryThrottle, ThrottleLimits
from postier.config import AuthSection, Config, LimitsSection, ServerSection
from postier.imap.session import ImapSession
from postier.net.memory import MemoryConnection, MemoryPeer, memory_pair
from postier.net.tls import TlsManager
from postier.services import Services
from postier.store.interface import Store
from postier.types import AccountId, Uid

HOST = "mail.example.test"
ALICE = "alice@example.test"
BOB = "bob@example.test"
PASSWORDS = {ALICE: "alice-password", BOB: "bob-password"}


def make_services(store: Store, *, tls: TlsManager | None = None,
                  limits: LimitsSection | None = None, auth: AuthSection | None = None) -> Services:
    config = Config(server=ServerSection(hostname=HOST), limits=limits or LimitsSection(),
                    auth=auth or AuthSection())
    throttle = ThrottleLimits(free_failures=3, base_delay=0.01, max_delay=0.02, window=60.0)
    return Services(config, store, Authenticator(store, MemoryThrottle(throttle)), tls)


def make_tls(directory: Path) -> TlsManager:
    import trustme

    ca = trustme.CA()
    path = directory / "server.pem"
    ca.issue_cert(HOST).private_key_and_cert_chain_pem.write_to_path(str(path))
    return TlsManager(path, path)


def message(subject: str = "Hello", body: str = "Hi there.\r\n", *,
            sender: str = "bob@example.test", to: str = "alice@example.test",
            extra: str = "") -> bytes:
    return (f"From: Bob <{sender}>\r\nTo: {to}\r\nSubject: {subject}\r\n"
            f"Date: Mon, 7 Feb 1994 21:52:25 -0800\r\nMessage-ID: <{abs(hash(subject))}@x>\r\n"
            f"{extra}\r\n{body}").encode()


class ImapClient:
    """The client's end of one session: tagged commands in, lines out."""

    def __init__(self, peer: MemoryPeer, conn: MemoryConnection,
                 task: asyncio.Task[None]) -> None:
        self.peer = peer
        self.conn = conn
        self.task = task
        self._counter = 0

    def next_tag(self) -> str:
        self._counter += 1
        return f"a{self._counter}"

    def send(self, data: bytes | str) -> None:
        self.peer.send(data.encode() if isinstance(data, str) else data)

    async def line(self, timeout: float = 10.0) -> str:
        raw = await self.peer.read_until(b"\r\n", timeout=timeout)
        return raw.decode("utf-8", "surrogateescape").removesuffix("\r\n")

    async def until_tagged(self, tag: str, timeout: float = 10.0) -> list[str]:
        lines = []
        while True:
            line = await self.line(timeout)
            lines.append(line)
            if line.startswith(f"{tag} "):
                return lines

    async def command(self, text: str, *, tag: str | None = None) -> list[str]:
        """Send ``tag text`` and return every line up to and including the tagged one."""
        tag = tag or self.next_tag()
        self.send(f"{tag} {text}\r\n")
        return await self.until_tagged(tag)

    async def ok(self, text: str) -> list[str]:
        lines = await self.command(text)
        assert lines[-1].split(" ")[1] == "OK", lines
        return lines

    async def login(self, user: str = ALICE) -> None:
        await self.ok(f'LOGIN {user} "{PASSWORDS[user]}"')

    async def closed(self, timeout: float = 10.0) -> str:
        """Everything the server wrote until it closed the connection."""
        async with asyncio.timeout(timeout):
            await self.task
        return bytes(self.conn.outbound).decode("utf-8", "surrogateescape")

    async def stop(self) -> None:
        self.peer.close()
        try:
            async with asyncio.timeout(10):
                await self.task
        except TimeoutError:
            self.task.cancel()


async def connect(services: Services, *, listener: str = "imaps", tls: bool = True,
                  peer_ip: str = "192.0.2.1") -> tuple[ImapClient, str]:
    conn, peer = memory_pair(listener, peer_ip=peer_ip, tls=tls)
    task = asyncio.create_task(ImapSession(services, conn).run())
    client = ImapClient(peer, conn, task)
    return client, await client.line()


async def account_of(store: Store, address: str = ALICE) -> AccountId:
    account = await store.get_account(address)
    assert account is not None
    return account.id


async def deliver(store: Store, data: bytes | None = None, *, address: str = ALICE,
                  mailbox: str = "INBOX", flags: frozenset[str] = frozenset(),
                  when: datetime | None = None) -> Uid:
    account = await account_of(store, address)
    box = await store.get_mailbox(account, mailbox)
    result = await store.append(account, box.id, data or message(), flags,
                                when or datetime(2024, 5, 1, 12, 0, tzinfo=UTC))
    return result.record.uid


class ScramClient:
    """The client half of SCRAM-SHA-256 (RFC 5802, RFC 7677), computed independently."""

    def __init__(self, username: str, password: str,
                 nonce: str = "fyko+d2lbbFgONRv9qkxdawL") -> None:
        self.password = password
        self.bare = f"n={username},r={nonce}"
        self.server_signature = b""

    @property
    def first(self) -> bytes:
        return b"n,," + self.bare.encode()

    def final(self, server_first: bytes) -> bytes:
        import base64
        import hashlib
        import hmac

        attributes = dict(item.split("=", 1) for item in server_first.decode().split(","))
        salted = hashlib.pbkdf2_hmac("sha256", self.password.encode(),
                                     base64.b64decode(attributes["s"]), int(attributes["i"]))
        client_key = hmac.digest(salted, b"Client Key", "sha256")
        without_proof = f"c=biws,r={attributes['r']}"
        auth_message = f"{self.bare},{server_first.decode()},{without_proof}".encode()
        signature = hmac.digest(hashlib.sha256(client_key).digest(), auth_message, "sha256")
        proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
        server_key = hmac.digest(salted, b"Server Key", "sha256")
        self.server_signature = hmac.digest(server_key, auth_message, "sha256")
        return f"{without_proof},p={base64.b64encode(proof).decode()}".encode()

    def verify(self, server_final: bytes) -> bool:
        import base64

        return server_final == b"v=" + base64.b64encode(self.server_signature)


def b64(data: bytes | str) -> str:
    import base64

    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()
