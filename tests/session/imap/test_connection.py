"""Connection commands: greeting, CAPABILITY, NOOP, LOGOUT, ID, ENABLE, NAMESPACE, STARTTLS,
COMPRESS, and the session's handling of bad input, wrong states and silence."""

from __future__ import annotations

import asyncio
import zlib
from pathlib import Path

from postier.config import AuthSection, LimitsSection
from postier.services import Services
from postier.store.interface import Store
from tests.session.imap.client import ImapClient, connect, make_services, make_tls


async def test_greeting_on_implicit_tls_offers_passwords(services: Services) -> None:
    client, greeting = await connect(services, listener="imaps", tls=True)
    assert greeting.startswith("* OK [CAPABILITY IMAP4rev1 IMAP4rev2 ")
    assert "AUTH=PLAIN" in greeting and "LOGINDISABLED" not in greeting
    assert "STARTTLS" not in greeting
    await client.stop()


async def test_plaintext_port_says_logindisabled_and_starttls(users: Store,
                                                             tmp_path: Path) -> None:
    services = make_services(users, tls=make_tls(tmp_path))
    client, greeting = await connect(services, listener="imap", tls=False)
    assert "STARTTLS" in greeting and "LOGINDISABLED" in greeting
    assert "AUTH=PLAIN" not in greeting and "AUTH=SCRAM-SHA-256" in greeting
    lines = await client.command('LOGIN alice@example.test "alice-password"')
    assert lines[-1].startswith("a1 NO [PRIVACYREQUIRED]")
    await client.stop()


async def test_allow_plaintext_removes_logindisabled(users: Store) -> None:
    services = make_services(users, auth=AuthSection(allow_plaintext=True))
    client, greeting = await connect(services, listener="imap", tls=False)
    assert "LOGINDISABLED" not in greeting and "AUTH=PLAIN" in greeting
    await client.login()
    await client.stop()


async def test_starttls_upgrades_and_drops_pipelined_plaintext(users: Store,
                                                              tmp_path: Path) -> None:
    services = make_services(users, tls=make_tls(tmp_path))
    client, _ = await connect(services, listener="imap", tls=False)
    # A command injected after STARTTLS in the same packet must never run.
    client.send("a1 STARTTLS\r\na2 LOGIN alice@example.test alice-password\r\n")
    assert await client.line() == "a1 OK begin TLS negotiation now"
    assert client.conn.tls_active
    lines = await client.ok("CAPABILITY")
    assert "STARTTLS" not in lines[0] and "LOGINDISABLED" not in lines[0]
    assert "AUTH=PLAIN" in lines[0]
    assert not any(line.startswith("a2 ") for line in lines)
    await client.login()
    lines = await client.command("STARTTLS")
    assert " BAD " in lines[-1]
    await client.stop()


async def test_starttls_refused_when_already_secure(services: Services) -> None:
    client, _ = await connect(services, listener="imaps", tls=True)
    lines = await client.command("STARTTLS")
    assert lines[-1].startswith("a1 BAD")
    await client.ok("NOOP")  # the machine resumed: the session goes on
    await client.stop()


async def test_capability_after_login_lists_extensions(client: ImapClient) -> None:
    line = (await client.ok("CAPABILITY"))[0]
    for name in ("IMAP4rev1", "IMAP4rev2", "LITERAL+", "SASL-IR", "ENABLE", "UIDPLUS", "MOVE",
                 "IDLE", "NAMESPACE", "ID", "UNSELECT", "CHILDREN", "LIST-EXTENDED",
                 "LIST-STATUS", "SPECIAL-USE", "CREATE-SPECIAL-USE", "ESEARCH", "SEARCHRES",
                 "SORT", "THREAD=REFERENCES", "THREAD=ORDEREDSUBJECT", "QUOTA",
                 "QUOTA=RES-STORAGE", "QUOTA=RES-MESSAGE", "APPENDLIMIT=52428800",
                 "MULTIAPPEND", "BINARY", "UNAUTHENTICATE", "STATUS=SIZE", "PREVIEW",
                 "COMPRESS=DEFLATE", "CONDSTORE"):
        assert f" {name}" in line, name
    assert "AUTH=" not in line and "STARTTLS" not in line


async def test_noop_logout_and_id(client: ImapClient) -> None:
    await client.ok("NOOP")
    lines = await client.ok('ID ("name" "test-client" "version" "1.0")')
    assert lines[0] == '* ID ("name" "Postier" "version" "0.1.0")'
    await client.ok("ID NIL")
    lines = await client.ok("LOGOUT")
    assert lines == ["* BYE logging out", lines[-1]]
    await client.closed()


async def test_id_before_login_is_allowed(services: Services) -> None:
    client, _ = await connect(services)
    await client.ok('ID ("name" "x")')
    await client.stop()


async def test_enable_imap4rev2(client: ImapClient) -> None:
    assert (await client.ok("ENABLE IMAP4rev2 X-UNKNOWN"))[0] == "* ENABLED IMAP4rev2"
    assert (await client.ok("ENABLE IMAP4rev2"))[0] == "* ENABLED"  # already on
    await client.ok("SELECT INBOX")
    lines = await client.command("ENABLE IMAP4rev2")
    assert " BAD " in lines[-1]  # RFC 9051 §6.3.1: only before a mailbox is selected


async def test_namespace(client: ImapClient) -> None:
    assert (await client.ok("NAMESPACE"))[0] == '* NAMESPACE (("" "/")) NIL NIL'


async def test_commands_in_the_wrong_state_are_bad(services: Services) -> None:
    client, _ = await connect(services)
    assert (await client.command("SELECT INBOX"))[-1] == "a1 BAD log in first"
    await client.login()
    assert (await client.command("FETCH 1 FLAGS"))[-1] == "a3 BAD select a mailbox first"
    assert (await client.command("LOGIN a b"))[-1].startswith("a4 BAD")
    assert (await client.command("NOTIFY NONE"))[-1] == "a5 OK NOTIFY completed"
    await client.stop()


async def test_garbage_gets_bad_and_the_session_continues(client: ImapClient) -> None:
    client.send(b"\x00\xff\xfe garbage\r\n")
    assert (await client.line()).startswith("* BAD")
    lines = await client.command("FROBNICATE")
    assert lines[-1].startswith("a2 BAD")
    lines = await client.command("LIST (unbalanced")
    assert lines[-1].startswith("a3 BAD")
    await client.ok("NOOP")


async def test_a_line_that_is_only_a_tag_gets_a_tagged_bad(client: ImapClient) -> None:
    client.send(b"lonely\r\n")
    assert (await client.line()).startswith("lonely BAD ")
    await client.ok("NOOP")


async def test_nineteen_bad_commands_in_a_row_keep_the_session(client: ImapClient) -> None:
    # The default [limits] max_errors is Dovecot's: the 20th BAD in a row ends the session.
    for _ in range(19):
        assert (await client.command("FROBNICATE"))[-1].split(" ")[1] == "BAD"
    await client.ok("NOOP")


async def test_too_many_bad_commands_end_with_bye(users: Store) -> None:
    services = make_services(users, limits=LimitsSection(max_errors=3))
    client, _ = await connect(services)
    client.send("x1 FOO\r\nx2 FOO\r\nx3 FOO\r\nx4 NOOP\r\n")
    output = await client.closed()
    assert "* BYE too many invalid commands" in output
    assert "x4 OK" not in output


async def test_overlong_line_is_fatal(users: Store) -> None:
    services = make_services(users, limits=LimitsSection(imap_line_length=1024))
    client, _ = await connect(services)
    client.send(b"a1 NOOP " + b"x" * 2000)
    output = await client.closed()
    assert "* BYE line too long" in output


async def test_literal_over_the_limit_is_refused_before_it_is_sent(users: Store) -> None:
    services = make_services(users, limits=LimitsSection(max_message_size=1000))
    client, _ = await connect(services)
    await client.login()
    lines = await client.command("APPEND INBOX {5000}")
    assert lines[-1].startswith("a2 NO [TOOBIG]")
    await client.ok("NOOP")
    # LITERAL+: the octets come anyway; they are read, dropped, and the command is BAD.
    client.send(b"a4 APPEND INBOX {2000+}\r\n" + b"x" * 2000 + b"\r\n")
    assert (await client.until_tagged("a4"))[-1].startswith("a4 BAD [TOOBIG]")
    await client.ok("NOOP")
    await client.stop()


async def test_large_literal_before_login_is_refused(services: Services) -> None:
    client, _ = await connect(services)
    client.send("a1 LOGIN {100000}\r\n")
    output = await client.closed()
    assert "* BYE literal too large before authentication" in output


async def test_synchronizing_literal_gets_continuation(services: Services) -> None:
    client, _ = await connect(services)
    client.send("a1 LOGIN {18}\r\n")
    assert (await client.line()).startswith("+ ")
    client.send('alice@example.test "alice-password"\r\n')
    assert (await client.until_tagged("a1"))[-1].startswith("a1 OK")
    await client.stop()


async def test_silent_client_is_logged_out(users: Store) -> None:
    services = make_services(users, limits=LimitsSection(imap_idle_timeout=0.2))
    client, _ = await connect(services)
    output = await client.closed()
    assert "* BYE autologout" in output


async def test_client_that_disconnects_ends_the_session(services: Services) -> None:
    client, _ = await connect(services)
    client.send("a1 NOOP\r\n")
    client.peer.close()
    await client.closed()


async def test_compress_deflate(client: ImapClient) -> None:
    client.send("a1 COMPRESS DEFLATE\r\n")
    assert await client.line() == "a1 OK DEFLATE active"
    deflate = zlib.compressobj(6, zlib.DEFLATED, -15)
    inflate = zlib.decompressobj(-15)

    def send(text: str) -> None:
        client.send(deflate.compress(text.encode()) + deflate.flush(zlib.Z_SYNC_FLUSH))

    async def read_until_tagged(tag: str) -> str:
        text = ""
        start = len(client.conn.outbound)
        while f"\r\n{tag} " not in "\r\n" + text:
            async with asyncio.timeout(5):
                while len(client.conn.outbound) == start:
                    client.conn.outbound_event.clear()
                    await client.conn.outbound_event.wait()
            chunk = bytes(client.conn.outbound[start:])
            start = len(client.conn.outbound)
            text += inflate.decompress(chunk).decode()
        return text

    send("a2 NOOP\r\n")
    assert "a2 OK" in await read_until_tagged("a2")
    send("a3 COMPRESS DEFLATE\r\n")
    assert "a3 NO [COMPRESSIONACTIVE]" in await read_until_tagged("a3")
    send("a4 CAPABILITY\r\n")
    text = await read_until_tagged("a4")
    assert "COMPRESS=DEFLATE" not in text
    send("a5 LOGOUT\r\n")
    assert "* BYE" in await read_until_tagged("a5")


async def test_corrupt_compressed_stream_gets_a_compressed_bye(client: ImapClient) -> None:
    client.send("a1 COMPRESS DEFLATE\r\n")
    assert await client.line() == "a1 OK DEFLATE active"
    client.send(b"\xff\xff\xff\xff not deflate at all")  # an invalid block type
    output = await client.closed()
    compressed = output.encode("utf-8", "surrogateescape").split(b"a1 OK DEFLATE active\r\n", 1)[1]
    assert zlib.decompressobj(-15).decompress(compressed) == b"* BYE invalid compressed data\r\n"


async def test_compress_is_refused_before_login_and_with_unknown_mechanism(
        services: Services) -> None:
    client, _ = await connect(services)
    assert (await client.command("COMPRESS DEFLATE"))[-1].startswith("a1 BAD")
    await client.login()
    assert (await client.command("COMPRESS LZMA"))[-1].startswith("a3 BAD")
    await client.ok("NOOP")
    await client.stop()
