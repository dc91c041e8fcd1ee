"""LOGIN, AUTHENTICATE (PLAIN, LOGIN, SCRAM-SHA-256, SASL-IR, cancel), UNAUTHENTICATE."""

from __future__ import annotations

import base64

from postier.services import Services
from tests.session.imap.client import ImapClient, ScramClient, b64, connect


async def test_login_and_capabilities_in_ok(services: Services) -> None:
    client, _ = await connect(services)
    lines = await client.command('LOGIN alice@example.test "alice-password"')
    assert lines[-1].startswith("a1 OK [CAPABILITY IMAP4rev1 ")
    assert "UIDPLUS" in lines[-1]
    await client.stop()


async def test_login_with_literal_and_quoted_strings(services: Services) -> None:
    client, _ = await connect(services)
    client.send(b'a1 LOGIN "alice@example.test" {14+}\r\nalice-password\r\n')
    assert (await client.until_tagged("a1"))[-1].startswith("a1 OK")
    await client.stop()


async def test_wrong_password_is_authenticationfailed(services: Services) -> None:
    client, _ = await connect(services)
    lines = await client.command('LOGIN alice@example.test "wrong"')
    assert lines[-1] == "a1 NO [AUTHENTICATIONFAILED] invalid credentials"
    lines = await client.command('LOGIN nobody@example.test "wrong"')
    assert lines[-1] == "a2 NO [AUTHENTICATIONFAILED] invalid credentials"
    await client.login()  # still possible afterwards
    await client.stop()


async def test_authenticate_plain_with_initial_response(services: Services) -> None:
    client, _ = await connect(services)
    token = b64("\0alice@example.test\0alice-password")
    lines = await client.command(f"AUTHENTICATE PLAIN {token}")
    assert lines[-1].startswith("a1 OK [CAPABILITY")
    await client.ok("SELECT INBOX")
    await client.stop()


async def test_authenticate_plain_with_continuation(services: Services) -> None:
    client, _ = await connect(services)
    client.send("a1 AUTHENTICATE PLAIN\r\n")
    assert await client.line() == "+ "
    client.send(b64("\0alice@example.test\0alice-password") + "\r\n")
    assert (await client.until_tagged("a1"))[-1].startswith("a1 OK")
    await client.stop()


async def test_authenticate_plain_wrong_password(services: Services) -> None:
    client, _ = await connect(services)
    token = b64("\0alice@example.test\0x")
    lines = await client.command(f"AUTHENTICATE PLAIN {token}")
    assert lines[-1].startswith("a1 NO [AUTHENTICATIONFAILED]")
    await client.stop()


async def test_authenticate_login_mechanism(services: Services) -> None:
    client, _ = await connect(services)
    client.send("a1 AUTHENTICATE LOGIN\r\n")
    assert (await client.line()).startswith("+ ")
    client.send(b64("alice@example.test") + "\r\n")
    assert (await client.line()).startswith("+ ")
    client.send(b64("alice-password") + "\r\n")
    assert (await client.until_tagged("a1"))[-1].startswith("a1 OK")
    await client.stop()


async def test_authenticate_cancel_and_bad_base64(services: Services) -> None:
    client, _ = await connect(services)
    client.send("a1 AUTHENTICATE PLAIN\r\n")
    assert await client.line() == "+ "
    client.send("*\r\n")
    assert (await client.until_tagged("a1"))[-1] == "a1 BAD authentication cancelled"
    client.send("a2 AUTHENTICATE PLAIN\r\n")
    assert await client.line() == "+ "
    client.send("!!!not base64\r\n")
    assert (await client.until_tagged("a2"))[-1].startswith("a2 BAD")
    await client.login()
    await client.stop()


async def test_overlong_authenticate_response_gets_bye(services: Services) -> None:
    client, _ = await connect(services)
    client.send("a1 AUTHENTICATE PLAIN\r\n")
    assert await client.line() == "+ "
    client.send(b"A" * 70_000 + b"\r\n")
    assert (await client.closed()).endswith("* BYE line too long\r\n")


async def test_authenticate_unknown_mechanism(services: Services) -> None:
    client, _ = await connect(services)
    lines = await client.command("AUTHENTICATE GSSAPI")
    assert lines[-1].startswith("a1 NO")
    await client.stop()


async def test_authenticate_plain_refused_without_tls(services: Services) -> None:
    client, _ = await connect(services, listener="imap", tls=False)
    lines = await client.command(f"AUTHENTICATE PLAIN {b64('x')}")
    assert lines[-1].startswith("a1 NO [PRIVACYREQUIRED]")
    await client.stop()


async def test_scram_sha_256_sends_server_final_as_a_challenge(services: Services) -> None:
    client, _ = await connect(services, listener="imap", tls=False)  # SCRAM needs no TLS
    scram = ScramClient("alice@example.test", "alice-password")
    client.send(f"a1 AUTHENTICATE SCRAM-SHA-256 {b64(scram.first)}\r\n")
    challenge = await client.line()
    assert challenge.startswith("+ ")
    client.send(b64(scram.final(base64.b64decode(challenge[2:]))) + "\r\n")
    final = await client.line()
    assert final.startswith("+ ") and scram.verify(base64.b64decode(final[2:]))
    client.send("\r\n")
    assert (await client.until_tagged("a1"))[-1].startswith("a1 OK [CAPABILITY")
    await client.stop()


async def test_scram_wrong_password(services: Services) -> None:
    client, _ = await connect(services)
    scram = ScramClient("alice@example.test", "nope")
    client.send(f"a1 AUTHENTICATE SCRAM-SHA-256 {b64(scram.first)}\r\n")
    challenge = await client.line()
    client.send(b64(scram.final(base64.b64decode(challenge[2:]))) + "\r\n")
    assert (await client.until_tagged("a1"))[-1].startswith("a1 NO [AUTHENTICATIONFAILED]")
    await client.stop()


async def test_unauthenticate(client: ImapClient) -> None:
    await client.ok("SELECT INBOX")
    await client.ok("UNAUTHENTICATE")
    assert (await client.command("LIST \"\" *"))[-1].endswith("BAD log in first")
    await client.login("bob@example.test")
    await client.ok("SELECT INBOX")
