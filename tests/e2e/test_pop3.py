"""POP3 end to end: poplib over STLS (pop3) and implicit TLS (pop3s) against a real server."""

from __future__ import annotations

import asyncio
import base64
import poplib
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

from postier.pop3.session import shared_state
from postier.services import Services
from postier.store.changes import MessagesExpunged
from postier.types import INBOX, SEEN, Pop3DeletePolicy, SpecialUse, UidSet
from tests.harness import RunningServer, start_server

T = TypeVar("T")
ALICE = ("alice@example.test", "alice-password")


def services_of(server: RunningServer) -> Services:
    assert server.server.context is not None
    return server.server.context


async def deliver(server: RunningServer, body: bytes) -> int:
    account = await server.store.get_account(ALICE[0])
    assert account is not None
    inbox = await server.store.get_mailbox(account.id, INBOX)
    return int((await server.store.append(account.id, inbox.id, body)).record.uid)


async def inbox_uids(server: RunningServer) -> list[int]:
    account = await server.store.get_account(ALICE[0])
    assert account is not None
    inbox = await server.store.get_mailbox(account.id, INBOX)
    return [int(s.uid) for s in await server.store.message_states(account.id, inbox.id)]


async def in_thread(function: Callable[[], T]) -> T:
    """poplib blocks; the server runs on this event loop."""
    return await asyncio.to_thread(function)


def message(subject: str, body: bytes = b"hello\r\n") -> bytes:
    return (b"From: bob@example.test\r\nTo: alice@example.test\r\nSubject: "
            + subject.encode() + b"\r\n\r\n" + body)


def joined(lines: list[bytes]) -> bytes:
    """poplib's lines (terminators removed, dot-stuffing undone) back into message bytes."""
    return b"".join(line + b"\r\n" for line in lines)


def pop3s(server: RunningServer) -> poplib.POP3_SSL:
    return poplib.POP3_SSL("127.0.0.1", server.port("pop3s"), context=server.client_tls(),
                           timeout=10)


def login(client: poplib.POP3, user: tuple[str, str] = ALICE) -> bytes:
    client.user(user[0])
    return client.pass_(user[1])


async def test_every_command_over_stls(server: RunningServer) -> None:
    bodies = [message("one"), message("two", b".starts with a dot\r\n..two dots\r\nend\r\n")]
    for body in bodies:
        await deliver(server, body)

    def conversation() -> None:
        client = poplib.POP3("127.0.0.1", server.port("pop3"), timeout=10)
        try:
            assert client.getwelcome() == b"+OK Postier POP3 server ready"
            capabilities = client.capa()
            assert "STLS" in capabilities and "USER" not in capabilities
            with pytest.raises(poplib.error_proto, match=r"\[AUTH\].*STLS"):
                client.user(ALICE[0])
            with pytest.raises(poplib.error_proto, match="log in first"):
                client.stat()
            client.stls(context=server.client_tls())
            capabilities = client.capa()
            assert "STLS" not in capabilities and "USER" in capabilities
            assert capabilities["SASL"] == ["SCRAM-SHA-256", "PLAIN", "LOGIN"]
            assert {"TOP", "UIDL", "PIPELINING", "RESP-CODES", "AUTH-RESP-CODE",
                    "EXPIRE", "UTF8", "IMPLEMENTATION"} <= set(capabilities)
            with pytest.raises(poplib.error_proto, match=r"\[AUTH\]"):
                login(client, (ALICE[0], "wrong"))
            assert login(client).startswith(b"+OK maildrop has 2 messages")
            assert client.stat() == (2, sum(len(b) for b in bodies))
            assert client.list()[1] == [f"{n} {len(b)}".encode()
                                        for n, b in enumerate(bodies, 1)]
            assert client.list(2) == f"+OK 2 {len(bodies[1])}".encode()
            uidl = client.uidl()[1]
            assert [line.split()[0] for line in uidl] == [b"1", b"2"]
            assert client.uidl(1).split()[2] == uidl[0].split()[1]
            assert joined(client.retr(2)[1]) == bodies[1]
            assert joined(client.top(2, 1)[1]) == bodies[1].split(b"\r\n\r\n")[0] + (
                b"\r\n\r\n.starts with a dot\r\n")
            assert client.noop() == b"+OK"
            assert client.dele(1) == b"+OK message 1 deleted"
            with pytest.raises(poplib.error_proto, match="already deleted"):
                client.retr(1)
            assert client.stat() == (1, len(bodies[1]))
            assert client.rset().startswith(b"+OK maildrop has 2 messages")
            with pytest.raises(poplib.error_proto, match="not allowed after login"):
                client.user(ALICE[0])
            assert client.quit().startswith(b"+OK")
        finally:
            client.close()

    await in_thread(conversation)
    assert len(await inbox_uids(server)) == 2


async def test_implicit_tls_dele_quit_removes_and_imap_sees_it(server: RunningServer) -> None:
    await server.store.set_pop3_delete_policy(ALICE[0], Pop3DeletePolicy.EXPUNGE)
    first = await deliver(server, message("one"))
    second = await deliver(server, message("two"))
    account = await server.store.get_account(ALICE[0])
    assert account is not None

    def conversation() -> None:
        client = pop3s(server)
        login(client)
        assert "STLS" not in client.capa()
        client.retr(2)
        client.dele(1)
        assert client.quit() == b"+OK Postier POP3 server signing off (1 messages left)"

    with server.store.hub.subscribe(account.id) as imap_observer:
        await in_thread(conversation)
        changes = imap_observer.drain()
    assert [c.uids for c in changes if isinstance(c, MessagesExpunged)] == [(first,)]
    assert await inbox_uids(server) == [second]
    inbox = await server.store.get_mailbox(account.id, INBOX)
    (state,) = await server.store.message_states(account.id, inbox.id)
    assert SEEN in state.flags


async def test_default_policy_moves_to_trash(server: RunningServer) -> None:
    await deliver(server, message("one"))

    def conversation() -> None:
        client = pop3s(server)
        login(client)
        client.dele(1)
        client.quit()

    await in_thread(conversation)
    assert await inbox_uids(server) == []
    account = await server.store.get_account(ALICE[0])
    assert account is not None
    trash = await server.store.find_special_use(account.id, SpecialUse.TRASH)
    assert trash is not None
    assert len(await server.store.message_states(account.id, trash.id)) == 1


async def test_dele_then_rset_keeps(server: RunningServer) -> None:
    uids = [await deliver(server, message(str(n))) for n in range(3)]

    def conversation() -> None:
        client = pop3s(server)
        login(client)
        for number in (1, 2, 3):
            client.dele(number)
        client.rset()
        client.quit()

    await in_thread(conversation)
    assert await inbox_uids(server) == uids


async def test_dropped_connection_deletes_nothing(server: RunningServer) -> None:
    await server.store.set_pop3_delete_policy(ALICE[0], Pop3DeletePolicy.EXPUNGE)
    uid = await deliver(server, message("one"))
    account = await server.store.get_account(ALICE[0])
    assert account is not None

    def conversation() -> None:
        client = pop3s(server)
        login(client)
        client.dele(1)
        client.sock.close()  # gone without QUIT

    await in_thread(conversation)
    locks = shared_state(services_of(server)).locks
    async with asyncio.timeout(5):
        while locks.is_locked(account.id):  # type: ignore[attr-defined]
            await asyncio.sleep(0.01)  # the session ends when the server notices the close
    assert await inbox_uids(server) == [uid]


async def test_second_session_is_in_use(server: RunningServer) -> None:
    def conversation() -> None:
        first = pop3s(server)
        login(first)
        second = poplib.POP3("127.0.0.1", server.port("pop3"), timeout=10)
        second.stls(context=server.client_tls())
        with pytest.raises(poplib.error_proto, match=r"\[IN-USE\]"):
            login(second)
        first.quit()
        assert login(second).startswith(b"+OK")
        second.quit()

    await in_thread(conversation)


async def test_auth_plain_and_utf8(server: RunningServer) -> None:
    def conversation() -> None:
        client = pop3s(server)
        assert client.utf8() == b"+OK UTF-8 mode enabled"
        initial = base64.b64encode(b"\x00alice@example.test\x00alice-password").decode()
        assert client._shortcmd(f"AUTH PLAIN {initial}").startswith(b"+OK maildrop")
        client.quit()

    await in_thread(conversation)


async def test_dot_stuffed_bodies_round_trip(server: RunningServer) -> None:
    body = message("dots", b"".join(b"." * n + b"x\r\n" for n in range(6)) + b".\r\n..\r\n")
    await deliver(server, body)

    def conversation() -> bytes:
        client = pop3s(server)
        login(client)
        lines = client.retr(1)[1]
        client.quit()
        return joined(lines)

    assert await in_thread(conversation) == body


async def test_expunged_under_a_session_by_another_client(server: RunningServer) -> None:
    uid = await deliver(server, message("soon gone", b"unique 51b2\r\n"))
    account = await server.store.get_account(ALICE[0])
    assert account is not None
    inbox = await server.store.get_mailbox(account.id, INBOX)
    client = await in_thread(lambda: pop3s(server))
    await in_thread(lambda: login(client))
    await server.store.remove(account.id, inbox.id, UidSet.of([uid]))
    with pytest.raises(poplib.error_proto, match="no longer exists"):
        await in_thread(lambda: client.retr(1))
    await in_thread(client.quit)



async def test_connections_over_the_limit_are_refused(tmp_path: Path) -> None:
    busy = await start_server(tmp_path / "busy", extra="[limits]\nmax_connections_per_ip = 1\n")
    try:
        def conversation() -> None:
            first = pop3s(busy)
            with pytest.raises(poplib.error_proto, match=r"\[SYS/TEMP\] too many connections"):
                pop3s(busy)
            first.quit()

        await in_thread(conversation)
    finally:
        await busy.stop()
