"""A device that was offline resynchronises with QRESYNC over a real socket (RFC 7162 §3.2.5)
and learns exactly the changes another device made meanwhile."""

from __future__ import annotations

import asyncio
import re
import ssl

from tests.harness import RunningServer

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
