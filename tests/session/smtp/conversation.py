"""Helpers for SMTP session conversations: a client over net.memory and a SCRAM client."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
from pathlib import Path

from postier.auth import Authenticator, MemoryThrottle, ThrottleLimits
from postier.config import AuthSection, Config, LimitsSection, ServerSection
from postier.net.memory import MemoryPeer, memory_pair
from postier.net.tls import TlsManager
from postier.services import Services
from postier.smtp.session import SmtpSession, listener_settings
from postier.store.interface import Store
from postier.types import INBOX, AccountId

HOST = "mail.example.test"


def make_services(store: Store, *, tls: TlsManager | None = None,
                  limits: LimitsSection | None = None, auth: AuthSection | None = None) -> Services:
    config = Config(server=ServerSection(hostname=HOST), limits=limits or LimitsSection(),
                    auth=auth or AuthSection())
    limits = ThrottleLimits(free_failures=3, base_delay=0.01, max_delay=0.02, window=60.0)
    return Services(config, store, Authenticator(store, MemoryThrottle(limits)), tls)


def make_tls(directory: Path) -> TlsManager:
    import trustme

    ca = trustme.CA()
    path = directory / "server.pem"
    ca.issue_cert(HOST).private_key_and_cert_chain_pem.write_to_path(str(path))
    return TlsManager(path, path)


class Client:
    """The client's end of one session: send lines, read whole replies."""

    def __init__(self, peer: MemoryPeer, task: asyncio.Task[None]) -> None:
        self.peer = peer
        self.task = task

    def send(self, data: bytes | str) -> None:
        self.peer.send(data.encode() if isinstance(data, str) else data)

    async def reply(self) -> str:
        """One complete (possibly multi-line) reply, CRLFs included."""
        text = ""
        while True:
            line = (await self.peer.read_until(b"\r\n")).decode()
            text += line
            if line[3:4] != "-":
                return text

    async def replies(self, count: int) -> list[str]:
        return [await self.reply() for _ in range(count)]

    async def command(self, line: str) -> str:
        self.send(line + "\r\n")
        return await self.reply()

    async def code(self, line: str) -> str:
        """The code and enhanced code of the reply to ``line``: "250 2.1.5"."""
        return code_of(await self.command(line))

    async def closed(self) -> None:
        """Wait for the session to end."""
        await asyncio.wait_for(self.task, 5)

    async def quit(self) -> None:
        assert (await self.command("QUIT")).startswith("221")
        await self.closed()


def code_of(reply: str) -> str:
    last = reply.rstrip("\r\n").split("\r\n")[-1]
    words = last.split(" ")
    if len(words) > 1 and words[1][:2] in ("2.", "4.", "5."):
        return f"{words[0]} {words[1]}"
    return last[:3]


async def connect(services: Services, listener: str = "smtp", *, tls: bool = False,
                  ehlo: bool = True) -> Client:
    conn, peer = memory_pair(listener, peer_ip="192.0.2.7", tls=tls)
    session = SmtpSession(services, listener_settings(services, listener), conn)
    client = Client(peer, asyncio.create_task(session.run()))
    assert (await client.reply()).startswith(f"220 {HOST} ESMTP")
    if ehlo:
        assert (await client.command("EHLO client.example")).startswith("250-")
    return client


async def inbox(store: Store, address: str) -> list[bytes]:
    """Every message in the account's INBOX, trace fields included."""
    account = await store.get_account(address)
    assert account is not None
    return await mailbox_messages(store, account.id, INBOX)


async def mailbox_messages(store: Store, account: AccountId, name: str) -> list[bytes]:
    mailbox = await store.get_mailbox(account, name)
    records = await store.get_messages(account, mailbox.id)
    return [await store.read_message(account, record) for record in records]


class ScramClient:
    """The client half of SCRAM-SHA-256 (RFC 5802, RFC 7677), computed independently."""

    def __init__(self, username: str, password: str, nonce: str = "fyko+d2lbbFgONRv9qkxdawL")\
            -> None:
        self.password = password
        self.bare = f"n={username},r={nonce}"
        self.server_signature = b""

    @property
    def first(self) -> bytes:
        return b"n,," + self.bare.encode()

    def final(self, server_first: bytes) -> bytes:
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
        return server_final == b"v=" + base64.b64encode(self.server_signature)


def b64(data: bytes | str) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()
