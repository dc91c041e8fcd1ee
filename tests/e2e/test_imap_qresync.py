"""A device that was offline resynchronises with QRESYNC over a real socket (RFC 7162 §3.2.5)
and learns exactly the changes another device made meanwhile."""

from __future__ import annotations

import asyncio
import re
import ssl
from pathlib import Path

from postier.types import ModSeq
from tests.harness import RunningServer, start_server

LOGIN = 'LOGIN alice@example.test "alice-password"'
MESSAGE = (b"From: Bob <bob@example.test>\r\nTo: alice@example.test\r\nSubject: sync\r\n"
           b"\r\nHello.\r\n")


class RawClient:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer, self.count = reader, writer, 0

    @classmethod
    async def open(cls, server: RunningServer) -> RawClient:
        context: ssl.SSLContext = server.client_tls()
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port("imaps"),
                                                       ssl=context)
        client = cls(reader, writer)
        await client.line()  # greeting
        await client.ok(LOGIN)
        return client

    async def line(self) -> str:
        raw = await asyncio.wait_for(self.reader.readuntil(b"\r\n"), 10)
        return raw.decode().removesuffix("\r\n")

    async def ok(self, text: str, literal: bytes | None = None) -> list[str]:
        self.count += 1
        tag = f"t{self.count}"
        if literal is None:
            self.writer.write(f"{tag} {text}\r\n".encode())
        else:
            self.writer.write(f"{tag} {text} {{{len(literal)}+}}\r\n".encode() + literal + b"\r\n")
        lines = []
        while not (line := await self.line()).startswith(f"{tag} "):
            lines.append(line)
        assert line.startswith(f"{tag} OK"), (text, line)
        return lines

    async def close(self) -> None:
        await self.ok("LOGOUT")
        self.writer.close()


async def test_offline_device_resyncs_with_qresync(server: RunningServer) -> None:
    phone = await RawClient.open(server)
    for _ in range(6):
        await phone.ok("APPEND INBOX", MESSAGE)
    await phone.ok("ENABLE QRESYNC")
    lines = await phone.ok("SELECT INBOX")
    uidvalidity = next(int(m.group(1)) for x in lines if (m := re.search(r"UIDVALIDITY (\d+)", x)))
    modseq = next(int(m.group(1)) for x in lines if (m := re.search(r"HIGHESTMODSEQ (\d+)", x)))
    uids = [int(m.group(1)) for x in await phone.ok("UID FETCH 1:* UID")
            if (m := re.search(r"UID (\d+)", x))]
    await phone.close()  # the phone goes offline

    laptop = await RawClient.open(server)
    await laptop.ok("SELECT INBOX")
    await laptop.ok(f"UID STORE {uids[0]},{uids[1]} +FLAGS (\\Deleted)")
    await laptop.ok("EXPUNGE")
    await laptop.ok(f"UID STORE {uids[3]} +FLAGS (\\Seen \\Flagged)")
    await laptop.ok("APPEND INBOX", MESSAGE)
    await laptop.close()

    phone = await RawClient.open(server)
    await phone.ok("ENABLE QRESYNC")
    known = ",".join(map(str, uids))
    lines = await phone.ok(f"SELECT INBOX (QRESYNC ({uidvalidity} {modseq} {known}))")
    assert f"* VANISHED (EARLIER) {uids[0]}:{uids[1]}" in lines
    fetches = [x for x in lines if " FETCH " in x]
    assert len(fetches) == 1 and f"UID {uids[3]} " in fetches[0]
    assert "\\Seen" in fetches[0] and "\\Flagged" in fetches[0]
    assert "* 5 EXISTS" in lines  # 6 - 2 + 1: the new message is learned from EXISTS
    await phone.close()


async def test_resync_after_the_expunge_history_was_pruned(tmp_path: Path) -> None:
    """The server forgets expunges after ``[store] expunge_history`` (here one second): a device
    that was away longer still gets a complete VANISHED (EARLIER), and one that synced after the
    prune an exact one."""
    server = await start_server(tmp_path / "server", extra='[store]\nexpunge_history = "1s"\n')
    try:
        phone = await RawClient.open(server)
        for _ in range(6):
            await phone.ok("APPEND INBOX", MESSAGE)
        await phone.ok("ENABLE QRESYNC")
        lines = await phone.ok("SELECT INBOX")
        uidvalidity = next(int(m.group(1)) for x in lines
                           if (m := re.search(r"UIDVALIDITY (\d+)", x)))
        modseq = next(int(m.group(1)) for x in lines
                      if (m := re.search(r"HIGHESTMODSEQ (\d+)", x)))
        uids = [int(m.group(1)) for x in await phone.ok("UID FETCH 1:* UID")
                if (m := re.search(r"UID (\d+)", x))]
        await phone.close()  # the phone goes offline

        laptop = await RawClient.open(server)
        await laptop.ok("SELECT INBOX")
        await laptop.ok(f"UID STORE {uids[1]},{uids[4]} +FLAGS (\\Deleted)")
        await laptop.ok("EXPUNGE")
        await laptop.close()
        # The background task prunes within a second or two; wait for it, with a deadline.
        store = server.store
        account = await store.get_account("alice@example.test")
        assert account is not None
        inbox = await store.get_mailbox(account.id, "INBOX")
        deadline = asyncio.get_running_loop().time() + 20
        while await store.vanished_since(account.id, inbox.id, ModSeq(modseq)) is not None:
            assert asyncio.get_running_loop().time() < deadline, "the history was not pruned"
            await asyncio.sleep(0.05)

        phone = await RawClient.open(server)
        await phone.ok("ENABLE QRESYNC")
        lines = await phone.ok(f"SELECT INBOX (QRESYNC ({uidvalidity} {modseq}))")
        # Every UID below UIDNEXT that is gone: here exactly the two the laptop expunged.
        assert f"* VANISHED (EARLIER) {uids[1]},{uids[4]}" in lines
        assert "* 4 EXISTS" in lines
        now = next(int(m.group(1)) for x in lines if (m := re.search(r"HIGHESTMODSEQ (\d+)", x)))
        await phone.close()

        laptop = await RawClient.open(server)
        await laptop.ok("SELECT INBOX")
        await laptop.ok(f"UID STORE {uids[5]} +FLAGS (\\Deleted)")
        await laptop.ok("EXPUNGE")
        await laptop.close()
        phone = await RawClient.open(server)
        await phone.ok("ENABLE QRESYNC")
        known = ",".join(str(uids[i]) for i in (0, 2, 3, 5))
        lines = await phone.ok(f"SELECT INBOX (QRESYNC ({uidvalidity} {now} {known}))")
        # Exact from the history, or complete from the known UIDs if the next prune came first:
        # the same single UID either way.
        assert [x for x in lines if x.startswith("* VANISHED")] == [
            f"* VANISHED (EARLIER) {uids[5]}"]
        await phone.close()
    finally:
        await server.stop()
