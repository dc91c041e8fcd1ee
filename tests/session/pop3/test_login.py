"""Logging in: USER/PASS, AUTH (PLAIN, LOGIN, SCRAM-SHA-256), TLS rules, [IN-USE], LOGIN-DELAY."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

from postier.config import Pop3Section
from postier.pop3.session import shared_state
from postier.services import Services
from postier.store.interface import Store
from tests.session.pop3.conversation import (
    ScramClient,
    account_id,
    connect,
    deliver,
    make_services,
    make_tls,
    message,
)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def test_user_pass(services: Services, users: Store) -> None:
    await deliver(users, message("one"))
    client = await connect(services)
    size = len(message("one"))
    assert await client.login() == f"+OK maildrop has 1 messages ({size} octets)"
    assert await client.quit() == "+OK Postier POP3 server signing off (1 messages left)"


async def test_wrong_password_and_unknown_user(services: Services) -> None:
    client = await connect(services)
    assert await client.login(password="nope") == "-ERR [AUTH] invalid credentials"
    assert await client.login("nobody@example.test", "x") == "-ERR [AUTH] invalid credentials"
    assert (await client.login()).startswith("+OK maildrop")
    await client.quit()


async def test_no_password_before_tls(users: Store, tmp_path: Path) -> None:
    services = make_services(users, tls=make_tls(tmp_path))
    client = await connect(services, tls=False)
    status = await client.command("USER alice@example.test")
    assert status.startswith("-ERR [AUTH]") and "STLS" in status
    assert (await client.command("AUTH PLAIN")).startswith("-ERR [AUTH]")
    assert await client.command("STLS") == "+OK Begin TLS negotiation"
    assert client.conn.tls_active
    _, capabilities = await client.multi("CAPA")
    assert "USER" in capabilities and "STLS" not in capabilities
    assert (await client.login()).startswith("+OK maildrop")
    await client.quit()


async def test_plaintext_allowed_by_the_operator(users: Store) -> None:
    client = await connect(make_services(users, allow_plaintext=True), tls=False)
    _, capabilities = await client.multi("CAPA")
    assert "USER" in capabilities and "STLS" not in capabilities  # no certificate here
    assert (await client.login()).startswith("+OK maildrop")
    await client.quit()


async def test_auth_plain_with_initial_response(services: Services) -> None:
    client = await connect(services)
    initial = b64(b"\x00alice@example.test\x00alice-password")
    status = await client.command(f"AUTH PLAIN {initial}")
    assert status.startswith("+OK maildrop")
    await client.quit()


async def test_auth_plain_with_challenge_and_cancel(services: Services) -> None:
    client = await connect(services)
    assert await client.command("AUTH PLAIN") == "+ "
    assert await client.command("*") == "-ERR authentication cancelled"
    assert await client.command("AUTH PLAIN") == "+ "
    assert await client.command("!!") == "-ERR malformed base64 in authentication response"
    assert await client.command("AUTH PLAIN") == "+ "
    assert await client.command(b64(b"\x00bob@example.test\x00wrong")) == (
        "-ERR [AUTH] invalid credentials")
    assert await client.command("AUTH PLAIN") == "+ "
    assert (await client.command(b64(b"\x00bob@example.test\x00bob-password"))).startswith("+OK")
    await client.quit()


async def test_auth_login(services: Services) -> None:
    client = await connect(services)
    assert await client.command("AUTH LOGIN") == f"+ {b64(b'Username:')}"
    assert await client.command(b64(b"alice@example.test")) == f"+ {b64(b'Password:')}"
    assert (await client.command(b64(b"alice-password"))).startswith("+OK maildrop")
    await client.quit()


async def test_auth_scram_sends_server_final_as_a_challenge(services: Services) -> None:
    scram = ScramClient("alice@example.test", "alice-password")
    client = await connect(services)
    challenge = await client.command(f"AUTH SCRAM-SHA-256 {b64(scram.first())}")
    assert challenge.startswith("+ ")
    final = await client.command(b64(scram.final(base64.b64decode(challenge[2:]))))
    assert final.startswith("+ ") and scram.verify(base64.b64decode(final[2:]))
    assert (await client.command("")).startswith("+OK maildrop")
    await client.quit()


async def test_auth_scram_wrong_password(services: Services) -> None:
    scram = ScramClient("alice@example.test", "wrong")
    client = await connect(services)
    challenge = await client.command(f"AUTH SCRAM-SHA-256 {b64(scram.first())}")
    status = await client.command(b64(scram.final(base64.b64decode(challenge[2:]))))
    assert status == "-ERR [AUTH] invalid credentials"
    await client.quit()


async def test_second_session_gets_in_use_until_the_first_ends(services: Services) -> None:
    first = await connect(services)
    assert (await first.login()).startswith("+OK")
    second = await connect(services)
    assert await second.login() == "-ERR [IN-USE] maildrop is in use by another POP3 session"
    other_user = await connect(services)
    assert (await other_user.login("bob@example.test", "bob-password")).startswith("+OK")
    await first.quit()
    assert (await second.login()).startswith("+OK")
    await second.quit()
    await other_user.quit()


async def test_lock_released_when_the_client_vanishes(services: Services,
                                                      users: Store) -> None:
    locks = shared_state(services).locks
    first = await connect(services)
    await first.login()
    first.drop()
    await first.closed()
    assert not locks.is_locked(await account_id(users))  # type: ignore[attr-defined]
    second = await connect(services)
    assert (await second.login()).startswith("+OK")
    await second.quit()


async def test_lock_released_when_the_session_is_cancelled(services: Services,
                                                           users: Store) -> None:
    first = await connect(services)
    await first.login()
    first.task.cancel()
    await asyncio.gather(first.task, return_exceptions=True)
    assert first.conn.closed
    assert not shared_state(services).locks.is_locked(  # type: ignore[attr-defined]
        await account_id(users))


async def test_login_delay(users: Store) -> None:
    services = make_services(users, pop3=Pop3Section(login_delay=300))
    client = await connect(services)
    _, capabilities = await client.multi("CAPA")
    assert "LOGIN-DELAY 300" in capabilities
    assert (await client.login()).startswith("+OK")
    await client.quit()
    again = await connect(services)
    status = await again.login()
    assert status.startswith("-ERR [LOGIN-DELAY] logged in too recently")
    # The delay is per account, and a wrong password still says [AUTH], not [LOGIN-DELAY].
    assert (await again.login(password="nope")).startswith("-ERR [AUTH]")
    assert (await again.login("bob@example.test", "bob-password")).startswith("+OK")
    await again.quit()


async def test_utf8_and_capabilities(services: Services) -> None:
    client = await connect(services)
    assert await client.command("UTF8") == "+OK UTF-8 mode enabled"
    _, capabilities = await client.multi("CAPA")
    assert capabilities == ["TOP", "UIDL", "USER", "SASL SCRAM-SHA-256 PLAIN LOGIN",
                            "PIPELINING", "RESP-CODES", "AUTH-RESP-CODE", "EXPIRE NEVER",
                            "UTF8 USER", "IMPLEMENTATION Postier"]
    await client.quit()
