"""IMAP end to end: imaplib over STARTTLS and implicit TLS, imapclient, two live sessions."""

from __future__ import annotations

import asyncio
import imaplib

import imapclient
import pytest

from tests.harness import RunningServer

ALICE, PASSWORD = "alice@example.test", "alice-password"
MESSAGE = (b"From: Bob <bob@example.test>\r\nTo: alice@example.test\r\nSubject: e2e\r\n"
           b"Message-ID: <e2e@example.test>\r\n\r\nHello over TLS.\r\n")


def _imaplib_starttls(server: RunningServer) -> None:
    with imaplib.IMAP4("127.0.0.1", server.port("imap")) as imap:
        assert "STARTTLS" in imap.capabilities and "LOGINDISABLED" in imap.capabilities
        with pytest.raises(imaplib.IMAP4.error):
            imap.login(ALICE, PASSWORD)  # refused in clear
        imap.starttls(server.client_tls())
        assert "LOGINDISABLED" not in imap.capabilities
        assert imap.login(ALICE, PASSWORD)[0] == "OK"
        typ, data = imap.append("INBOX", "(\\Flagged)", None, MESSAGE)
        assert typ == "OK" and b"APPENDUID" in data[0]
        assert imap.select("INBOX") == ("OK", [b"1"])
        typ, data = imap.fetch("1", "(FLAGS BODY.PEEK[])")
        assert typ == "OK"
        assert data[0][1] == MESSAGE  # type: ignore[index]
        assert b"\\Flagged" in data[0][0]  # type: ignore[index]
        assert imap.store("1", "+FLAGS", "(\\Seen)")[0] == "OK"
        assert imap.search(None, "SEEN") == ("OK", [b"1"])
        assert imap.uid("COPY", "1", "Archive")[0] == "OK"
        assert imap.status("Archive", "(MESSAGES)") == ("OK", [b"Archive (MESSAGES 1)"])
        assert imap.close()[0] == "OK"
        assert imap.logout()[0] == "BYE"


async def test_imaplib_over_starttls(server: RunningServer) -> None:
    await asyncio.to_thread(_imaplib_starttls, server)


def _imaplib_implicit_tls(server: RunningServer) -> None:
    with imaplib.IMAP4_SSL("127.0.0.1", server.port("imaps"),
                           ssl_context=server.client_tls()) as imap:
        assert "AUTH=PLAIN" in imap.capabilities
        imap.authenticate("PLAIN", lambda _: f"\0{ALICE}\0{PASSWORD}".encode())
        typ, folders = imap.list()
        assert typ == "OK" and b'(\\HasNoChildren \\Sent) "/" Sent' in folders
        assert imap.create("Projects/2024")[0] == "OK"
        assert imap.rename("Projects", "Work")[0] == "OK"
        typ, folders = imap.list('""', "Work*")
        assert folders == [b'(\\HasChildren) "/" Work', b'(\\HasNoChildren) "/" Work/2024']
        assert imap.select("INBOX", readonly=True)[0] == "OK"
        assert imap.logout()[0] == "BYE"


async def test_imaplib_over_implicit_tls(server: RunningServer) -> None:
    await asyncio.to_thread(_imaplib_implicit_tls, server)


async def test_plaintext_is_not_tls_on_the_imaps_port(server: RunningServer) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port("imaps"))
    writer.write(b"a1 CAPABILITY\r\n")
    await writer.drain()
    data = await asyncio.wait_for(reader.read(100), 10)
    assert not data.startswith(b"* OK")
    writer.close()


def _imapclient_session(server: RunningServer) -> None:
    with imapclient.IMAPClient("127.0.0.1", port=server.port("imaps"),
                               ssl_context=server.client_tls()) as client:
        client.login(ALICE, PASSWORD)
        assert b"MOVE" in client.capabilities() and client.has_capability("UIDPLUS")
        client.append("INBOX", MESSAGE, flags=[b"$Work"])
        client.append("INBOX", MESSAGE.replace(b"e2e", b"second"))
        info = client.select_folder("INBOX")
        assert info[b"EXISTS"] == 2
        messages = client.search(["SUBJECT", "second"])
        assert messages == [2]
        fetched = client.fetch([1, 2], ["FLAGS", "ENVELOPE", "RFC822.SIZE", "BODYSTRUCTURE"])
        assert fetched[1][b"ENVELOPE"].subject == b"e2e"
        assert b"$Work" in fetched[1][b"FLAGS"]
        client.set_flags([2], [imapclient.SEEN])
        client.move([2], "Trash")
        assert client.search() == [1]
        assert client.folder_status("Trash", ["MESSAGES"])[b"MESSAGES"] == 1
        client.idle()
        client.idle_done()
        assert client.namespace().personal == (("", "/"),)
        assert client.list_sub_folders(directory="", pattern="*")
        client.logout()


async def test_imapclient(server: RunningServer) -> None:
    await asyncio.to_thread(_imapclient_session, server)


def _watch_with_idle(server: RunningServer, ready: asyncio.Event,
                     loop: asyncio.AbstractEventLoop) -> list[tuple[int, bytes]]:
    with imapclient.IMAPClient("127.0.0.1", port=server.port("imaps"),
                               ssl_context=server.client_tls()) as client:
        client.login(ALICE, PASSWORD)
        client.select_folder("INBOX")
        client.idle()
        loop.call_soon_threadsafe(ready.set)
        responses = client.idle_check(timeout=20)
        client.idle_done()
        client.logout()
        return [(number, kind) for number, kind, *_ in responses]


async def test_idle_sees_a_delivery(server: RunningServer) -> None:
    ready = asyncio.Event()
    watcher = asyncio.create_task(asyncio.to_thread(
        _watch_with_idle, server, ready, asyncio.get_running_loop()))
    await asyncio.wait_for(ready.wait(), 20)
    account = await server.store.get_account(ALICE)
    assert account is not None
    inbox = await server.store.get_mailbox(account.id, "INBOX")
    await server.store.append(account.id, inbox.id, MESSAGE)
    assert (1, b"EXISTS") in await asyncio.wait_for(watcher, 30)


async def test_multiappend_over_a_real_socket_is_all_or_nothing(server: RunningServer) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port("imaps"),
                                                   ssl=server.client_tls())

    async def tagged(tag: bytes) -> bytes:
        async with asyncio.timeout(10):
            while not (line := await reader.readline()).startswith(tag + b" "):
                assert line, "the server closed the connection"
        return line

    def multiappend(tag: bytes, messages: list[bytes]) -> None:
        writer.write(tag + b" APPEND INBOX" + b"".join(
            b" (\\Seen) {%d+}\r\n%s" % (len(m), m) for m in messages) + b"\r\n")

    await reader.readline()  # greeting
    writer.write(f'a1 LOGIN {ALICE} "{PASSWORD}"\r\n'.encode())
    assert (await tagged(b"a1")).startswith(b"a1 OK")
    parts = [MESSAGE.replace(b"e2e", f"part {i}".encode()) for i in range(3)]
    await server.store.set_quota(ALICE, len(parts[0]) + len(parts[1]) + 5)
    multiappend(b"a2", parts)
    assert (await tagged(b"a2")).startswith(b"a2 NO [OVERQUOTA]")
    await server.store.set_quota(ALICE, None)
    multiappend(b"a3", parts)
    assert b"[APPENDUID " in (line := await tagged(b"a3")) and b" 1:3] " in line
    writer.write(b"a4 STATUS INBOX (MESSAGES UIDNEXT)\r\n")
    assert (await reader.readline()) == b"* STATUS INBOX (MESSAGES 3 UIDNEXT 4)\r\n"
    assert (await tagged(b"a4")).startswith(b"a4 OK")
    writer.close()
