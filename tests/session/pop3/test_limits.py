"""Bad input against a whole session: errors, floods, STLS injection, and the session survives."""

from __future__ import annotations

from pathlib import Path

from postier.config import LimitsSection
from postier.services import Services
from postier.store.interface import Store
from tests.session.pop3.conversation import connect, deliver, make_services, make_tls, message


async def test_garbage_gets_errors_then_the_session_goes_on(services: Services) -> None:
    client = await connect(services)
    client.send(b"\x00\x01\x02\r\n" + b"A" * 5000 + b"\r\n\xff\xfe\r\nRETR 1\r\n")
    assert [await client.line() for _ in range(4)] == [
        "-ERR control characters are not allowed in commands\r\n",
        "-ERR line too long\r\n", "-ERR unknown command\r\n",
        "-ERR log in first (USER and PASS, or AUTH)\r\n"]
    assert (await client.login()).startswith("+OK")
    await client.quit()


async def test_too_many_errors_closes_the_connection(users: Store) -> None:
    services = make_services(users, limits=LimitsSection(max_errors=3))
    client = await connect(services)
    client.send(b"X\r\nY\r\nZ\r\nCAPA\r\n")
    await client.closed()
    assert client.conn.outbound.endswith(
        b"-ERR [SYS/PERM] too many errors, closing connection\r\n")


async def test_pipelined_flood_is_answered_in_order(services: Services, users: Store) -> None:
    for n in range(5):
        await deliver(users, message(str(n)))
    client = await connect(services)
    await client.login()
    client.send(b"LIST\r\nUIDL\r\nSTAT\r\n" * 2000 + b"NOOP\r\n")
    for _ in range(2000):
        assert (await client.line()).startswith("+OK 5 messages")
        await client.body()
        assert (await client.line()).startswith("+OK unique-id")
        await client.body()
        assert (await client.line()).startswith("+OK 5 ")
    assert await client.line() == "+OK\r\n"
    await client.quit()


async def test_plaintext_pipelined_after_stls_is_never_executed(users: Store,
                                                                tmp_path: Path) -> None:
    services = make_services(users, tls=make_tls(tmp_path), allow_plaintext=True)
    client = await connect(services, tls=False)
    client.send(b"STLS\r\nUSER alice@example.test\r\nPASS alice-password\r\n")
    assert await client.line() == "+OK Begin TLS negotiation\r\n"
    assert await client.command("STAT") == "-ERR log in first (USER and PASS, or AUTH)"
    assert await client.command("PASS alice-password") == "-ERR send USER first"
    await client.quit()


async def test_client_vanishing_mid_sasl(services: Services) -> None:
    client = await connect(services)
    assert await client.command("AUTH PLAIN") == "+ "
    client.drop()
    await client.closed()


async def test_stls_not_offered_without_certificate(services: Services) -> None:
    client = await connect(services, tls=False)
    assert await client.command("STLS") == "-ERR STLS is not available here"
    await client.quit()
