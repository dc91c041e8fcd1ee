"""SMTP over real sockets and real TLS: smtplib (and raw sockets where smtplib cannot) against a
Postier server in this process. Blocking clients run in threads while the server runs in the loop.
"""

from __future__ import annotations

import asyncio
import base64
import shutil
import smtplib
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

from postier.config import LimitsSection
from postier.types import INBOX
from tests.harness import RunningServer, start_server

T = TypeVar("T")
HOST = "127.0.0.1"
MESSAGE = b"From: x@remote.example\r\nSubject: e2e\r\n\r\nHello over a real socket.\r\n"


async def in_thread(function: Callable[[], T]) -> T:
    return await asyncio.to_thread(function)


def smtp(server: RunningServer, listener: str = "smtp") -> smtplib.SMTP:
    return smtplib.SMTP(HOST, server.port(listener), local_hostname="client.example", timeout=30)


async def inbox(server: RunningServer, address: str) -> list[bytes]:
    store = server.store
    account = await store.get_account(address)
    assert account is not None
    mailbox = await store.get_mailbox(account.id, INBOX)
    return [await store.read_message(account.id, record)
            for record in await store.get_messages(account.id, mailbox.id)]


def blob_files(server: RunningServer) -> set[Path]:
    return {p for p in (server.directory / "data").rglob("*") if p.is_file()
            and "blobs" in p.parts}


class RawClient:
    """A line-oriented SMTP client on a plain socket, for what smtplib cannot send."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection((HOST, port), timeout=30)
        self.buffer = b""

    def reply(self) -> str:
        text = b""
        while True:
            while b"\r\n" not in self.buffer:
                data = self.sock.recv(65536)
                if not data:
                    raise ConnectionResetError(f"closed after {text!r}{self.buffer!r}")
                self.buffer += data
            line, _, self.buffer = self.buffer.partition(b"\r\n")
            text += line + b"\r\n"
            if line[3:4] != b"-":
                return text.decode()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def code(self, line: bytes) -> int:
        self.send(line + b"\r\n")
        return int(self.reply()[:3])

    def wait_closed(self) -> None:
        """Close our sending side and wait until the server has closed the connection."""
        self.sock.shutdown(socket.SHUT_WR)
        while self.sock.recv(65536):
            pass
        self.sock.close()


# Submission --------------------------------------------------------------------------------------

async def test_submission_with_starttls_and_auth(server: RunningServer) -> None:
    def session() -> dict[str, tuple[int, bytes]]:
        with smtp(server, "submission") as client:
            client.ehlo()
            assert client.has_extn("starttls") and not client.has_extn("auth")
            client.starttls(context=server.client_tls())
            client.ehlo()
            assert client.esmtp_features["auth"].split() == ["SCRAM-SHA-256", "PLAIN", "LOGIN"]
            client.login("alice@example.test", "alice-password")
            return client.sendmail("alice@example.test",
                                   ["bob@example.test", "carol@remote.example"], MESSAGE)

    assert await in_thread(session) == {}
    [message] = await inbox(server, "bob@example.test")
    assert message.endswith(MESSAGE) and b" with ESMTPSA id " in message
    [queued] = await server.store.list_queue()
    assert [r.address for r in queued.envelope.recipients] == ["carol@remote.example"]


async def test_submissions_with_implicit_tls_and_auth_login(server: RunningServer) -> None:
    def session() -> None:
        with smtplib.SMTP_SSL(HOST, server.port("submissions"), local_hostname="client.example",
                              context=server.client_tls(), timeout=30) as client:
            client.ehlo()
            assert not client.has_extn("starttls")
            client.user, client.password = "bob@example.test", "bob-password"
            code, _ = client.auth("LOGIN", client.auth_login, initial_response_ok=False)
            assert code == 235
            client.sendmail("bob@example.test", ["alice@example.test"], MESSAGE)
            code, _ = client.mail("alice@example.test")  # not bob's address
            assert code == 553

    await in_thread(session)
    assert len(await inbox(server, "alice@example.test")) == 1


async def test_auth_refused_before_tls(server: RunningServer) -> None:
    def session() -> None:
        with smtp(server, "submission") as client:
            client.ehlo()
            assert not client.has_extn("auth")
            plain = base64.b64encode(b"\0alice@example.test\0alice-password").decode()
            assert client.docmd("AUTH", f"PLAIN {plain}")[0] == 538
            assert client.mail("alice@example.test")[0] == 530

    await in_thread(session)


async def test_wrong_password_refused(server: RunningServer) -> None:
    def session() -> None:
        with smtp(server, "submission") as client:
            client.starttls(context=server.client_tls())
            with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
                client.login("alice@example.test", "wrong-password")
            assert refused.value.smtp_code == 535
            assert client.mail("alice@example.test")[0] == 530

    await in_thread(session)


# MX ----------------------------------------------------------------------------------------------

async def test_mx_delivers_to_users_aliases_catch_all_and_subaddresses(
        server: RunningServer) -> None:
    await server.store.add_alias("team@example.test", ["alice@example.test", "bob@example.test"])
    await server.store.add_domain("other.test")
    await server.store.set_catch_all("other.test", "bob@example.test")

    def session() -> None:
        with smtp(server) as client:
            client.ehlo()
            assert client.has_extn("starttls") and not client.has_extn("auth")
            client.starttls(context=server.client_tls())
            for recipient in ("alice@example.test", "team@example.test", "anyone@other.test",
                              "alice+news@example.test"):
                assert client.sendmail("x@remote.example", [recipient], MESSAGE) == {}

    await in_thread(session)
    alice = await inbox(server, "alice@example.test")
    bob = await inbox(server, "bob@example.test")
    assert len(alice) == 3 and len(bob) == 2
    assert all(m.endswith(MESSAGE) for m in alice + bob)
    assert b" with ESMTPS id " in alice[0] and b"\tfor <alice+news@example.test>;" in alice[2]


RELAY_TRICKS = [
    "bob@remote.example",
    "alice%remote.example@example.test",
    '"alice@remote.example"@example.test',
    "@relay.example:alice@example.test",
    "@relay.example:bob@remote.example",
    "alice!remote.example@example.test",
    "remote.example!alice@example.test",
    "alice@[127.0.0.1]",
]


async def test_mx_refuses_to_relay_every_tricky_form(server: RunningServer) -> None:
    await server.store.set_catch_all("example.test", "bob@example.test")

    def session() -> list[tuple[str, int]]:
        with smtp(server) as client:
            client.ehlo()
            assert client.mail("x@remote.example")[0] == 250
            return [(r, client.docmd(f"RCPT TO:<{r}>")[0]) for r in RELAY_TRICKS]

    assert await in_thread(session) == [(r, 550) for r in RELAY_TRICKS]
    assert await inbox(server, "bob@example.test") == []
    assert await server.store.list_queue() == []


async def test_size_is_advertised_and_enforced(tmp_path: Path) -> None:
    small = await start_server(tmp_path / "small", extra="[limits]\nmax_message_size = 10000\n")
    try:
        def session() -> None:
            with smtp(small) as client:
                client.ehlo()
                assert client.esmtp_features["size"] == "10000"
                assert client.mail("x@remote.example", ["SIZE=10001"])[0] == 552
                with pytest.raises(smtplib.SMTPSenderRefused):  # smtplib declares SIZE itself
                    client.sendmail("x@remote.example", ["alice@example.test"], b"x" * 10001)
                assert client.mail("x@remote.example")[0] == 250  # without SIZE, the body counts
                assert client.rcpt("alice@example.test")[0] == 250
                assert client.data(MESSAGE + b"x" * 10000 + b"\r\n")[0] == 552
                assert client.sendmail("x@remote.example", ["alice@example.test"], MESSAGE) == {}

        await in_thread(session)
        assert len(await inbox(small, "alice@example.test")) == 1
    finally:
        await small.stop()


async def test_bdat_over_a_raw_socket(server: RunningServer) -> None:
    body = b"Subject: chunked\r\n\r\n" + b".dots stay as they are\r\n" * 3

    def session() -> list[str]:
        client = RawClient(server.port("smtp"))
        replies = [client.reply()]
        client.send(b"EHLO client.example\r\nMAIL FROM:<x@remote.example> BODY=BINARYMIME\r\n"
                    b"RCPT TO:<alice@example.test>\r\n")
        replies += [client.reply() for _ in range(3)]
        client.send(b"BDAT 20\r\n" + body[:20])
        replies.append(client.reply())
        client.send(f"BDAT {len(body) - 20} LAST\r\n".encode() + body[20:] + b"QUIT\r\n")
        replies += [client.reply(), client.reply()]
        return [r[:3] for r in replies]

    assert await in_thread(session) == ["220", "250", "250", "250", "250", "250", "221"]
    [message] = await inbox(server, "alice@example.test")
    assert message.endswith(body)


async def test_ten_megabyte_message_is_stored_byte_exact(server: RunningServer) -> None:
    line = bytes(range(0x20, 0x7F)) + b"\xc3\xa9\r\n"  # 8-bit text, under the 998 limit
    body = (b"From: x@remote.example\r\nSubject: big\r\n\r\n"
            + (line + b".a line that must be dot-stuffed\r\n" + b".\r\n" + line * 40)
            * 2600)
    assert len(body) > 10 * 1024 * 1024

    def session() -> None:
        with smtp(server) as client:
            assert client.sendmail("x@remote.example", ["alice@example.test"], body,
                                   mail_options=["BODY=8BITMIME"]) == {}

    await in_thread(session)
    [message] = await inbox(server, "alice@example.test")
    assert message.endswith(body)
    assert message[: -len(body)].startswith(b"Return-Path: <x@remote.example>\r\nReceived: ")
    assert message[: -len(body)].count(b"\r\n") == 4  # Return-Path and a 3-line Received


async def test_client_dropping_mid_data_leaves_nothing_behind(server: RunningServer) -> None:
    before = blob_files(server)

    def session() -> None:
        client = RawClient(server.port("submission"))
        client.reply()
        client.send(b"EHLO client.example\r\nSTARTTLS\r\n")
        assert client.reply().startswith("250")
        assert client.reply().startswith("220")
        client.sock = server.client_tls().wrap_socket(client.sock, server_hostname=HOST)
        client.code(b"EHLO client.example")
        plain = base64.b64encode(b"\0alice@example.test\0alice-password")
        assert client.code(b"AUTH PLAIN " + plain) == 235
        assert client.code(b"MAIL FROM:<alice@example.test>") == 250
        assert client.code(b"RCPT TO:<bob@example.test>") == 250
        assert client.code(b"RCPT TO:<carol@remote.example>") == 250
        assert client.code(b"DATA") == 354
        client.send(MESSAGE + b"x" * 200_000)
        client.sock.close()  # no end of data, no QUIT

    await in_thread(session)
    await wait_for_sessions_to_end(server)
    assert await inbox(server, "bob@example.test") == []
    assert await server.store.list_queue() == []
    assert blob_files(server) == before


async def wait_for_sessions_to_end(server: RunningServer, timeout: float = 10.0) -> None:
    listeners = server.server.listeners
    assert listeners is not None
    async with asyncio.timeout(timeout):
        while listeners.active_connections:
            await asyncio.sleep(0.01)


async def test_server_survives_bad_input_and_keeps_serving_others(server: RunningServer) -> None:
    def abuse() -> list[int]:
        client = RawClient(server.port("smtp"))
        client.reply()
        codes = [client.code(b"EHLO client.example")]
        client.send(b"A" * 100_000)  # a 100 KB line, no CRLF yet
        # Meanwhile another client is served in full.
        with smtp(server) as other:
            assert other.sendmail("x@remote.example", ["bob@example.test"], MESSAGE) == {}
        codes.append(client.code(b""))  # the end of the long line: 500 5.5.6
        codes.append(client.code(b"\x00\x00NOOP\x00"))
        codes.append(client.code(b"\xff\xfe garbage \x80"))
        codes.append(client.code(b"DATA"))  # out of order
        codes.append(client.code(b"RCPT TO:<alice@example.test>"))
        client.send(b"BDAT 6 LAST\r\nQUIT\r\n")  # the chunk is read, not executed
        codes.append(int(client.reply()[:3]))
        codes.append(client.code(b"NOOP"))
        codes.append(client.code(b"MAIL FROM:<x@remote.example>"))
        codes.append(client.code(b"MAIL FROM:<x@remote.example>"))  # nested
        codes.append(client.code(b"QUIT"))
        return codes

    assert await in_thread(abuse) == [250, 500, 500, 500, 503, 503, 503, 250, 250, 503, 221]
    assert len(await inbox(server, "bob@example.test")) == 1
    assert await inbox(server, "alice@example.test") == []

    def too_many_errors() -> str:
        client = RawClient(server.port("smtp"))
        client.reply()
        for _ in range(LimitsSection().max_errors - 1):  # the default limit, then one more
            client.send(b"NONSENSE\r\n")
            client.reply()
        client.send(b"NONSENSE\r\n")
        last = client.reply() + client.reply()
        client.wait_closed()
        return last

    assert "421 4.7.0" in await in_thread(too_many_errors)

    def still_serving() -> dict[str, tuple[int, bytes]]:
        with smtp(server) as client:
            return client.sendmail("x@remote.example", ["alice@example.test"], MESSAGE)

    assert await in_thread(still_serving) == {}


async def test_starttls_with_pipelined_plaintext_is_not_executed(server: RunningServer) -> None:
    def session() -> int:
        client = RawClient(server.port("smtp"))
        client.reply()
        client.code(b"EHLO client.example")
        client.send(b"STARTTLS\r\nMAIL FROM:<x@remote.example>\r\n")  # injected before TLS
        assert client.reply().startswith("220")
        client.sock = server.client_tls().wrap_socket(client.sock, server_hostname=HOST)
        client.code(b"EHLO client.example")
        return client.code(b"RCPT TO:<alice@example.test>")

    assert await in_thread(session) == 503  # the MAIL sent before TLS never happened


@pytest.mark.skipif(shutil.which("swaks") is None, reason="swaks is not installed")
async def test_swaks_submission(server: RunningServer) -> None:
    command = ["swaks", "--server", HOST, "--port", str(server.port("submission")), "--tls",
               "--tls-verify", "--tls-ca-path", str(server.directory / "ca.pem"),
               "--auth", "PLAIN", "--auth-user", "alice@example.test",
               "--auth-password", "alice-password", "--from", "alice@example.test",
               "--to", "bob@example.test", "--helo", "client.example"]
    result = await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True,
                                     timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(await inbox(server, "bob@example.test")) == 1

