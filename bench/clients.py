"""Minimal asyncio SMTP, IMAP and POP3 clients for load generation.

How this works: each client is a thin wrapper over an asyncio stream pair with a large buffer
limit. They parse only what the benchmark needs (reply codes, tagged status, literals, the
``EXISTS`` count) and read bodies in bulk (``readexactly`` for IMAP literals, ``readuntil`` on
the ``CRLF.CRLF`` terminator for POP3), so that the load side spends far less CPU per message
than the servers do. Protocol errors raise ``ClientError`` with the server's line.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field

__all__ = ["ClientError", "ImapClient", "ImapReply", "Pop3Client", "SmtpClient", "dot_stuff"]

_LIMIT = 64 * 1024 * 1024
_LITERAL = re.compile(rb"\{(\d+)\+?\}\r\n$")
_EXISTS = re.compile(rb"^\* (\d+) EXISTS\r\n$")


class ClientError(Exception):
    pass


async def _open(port: int, host: str = "127.0.0.1"
                ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(host, port, limit=_LIMIT)


def dot_stuff(message: bytes) -> bytes:
    """CRLF line ends, leading dots doubled, ending with CRLF (SMTP DATA / POP3 RETR body)."""
    if message.startswith(b"."):
        message = b"." + message
    message = message.replace(b"\r\n.", b"\r\n..")
    return message if message.endswith(b"\r\n") else message + b"\r\n"


# -- SMTP --------------------------------------------------------------------------------------

class SmtpClient:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.extensions: set[str] = set()

    @classmethod
    async def connect(cls, port: int, helo: str = "load.bench.example") -> SmtpClient:
        client = cls(*await _open(port))
        await client.expect(220)
        client.writer.write(f"EHLO {helo}\r\n".encode())
        lines = await client.expect(250)
        client.extensions = {line[4:].split(b" ")[0].decode().upper() for line in lines[1:]}
        return client

    async def reply(self) -> tuple[int, list[bytes]]:
        lines = []
        while True:
            line = await self.reader.readuntil(b"\r\n")
            lines.append(line.rstrip(b"\r\n"))
            if line[3:4] != b"-":
                return int(line[:3]), lines

    async def expect(self, code: int) -> list[bytes]:
        got, lines = await self.reply()
        if got != code:
            raise ClientError(f"expected {code}, got {b' / '.join(lines).decode(errors='replace')}")
        return lines

    async def send(self, sender: str, recipients: list[str], stuffed: bytes) -> None:
        """One transaction; ``stuffed`` is the message already passed through ``dot_stuff``."""
        await self.begin(sender, recipients)
        await self.finish(stuffed)

    async def begin(self, sender: str, recipients: list[str]) -> None:
        """MAIL, RCPT and DATA up to the 354; with PIPELINING (RFC 2920) in one write, as MTAs
        send them."""
        commands = [f"MAIL FROM:<{sender}>\r\n".encode()]
        commands += [f"RCPT TO:<{rcpt}>\r\n".encode() for rcpt in recipients]
        if "PIPELINING" in self.extensions:
            self.writer.write(b"".join(commands) + b"DATA\r\n")
            for _ in commands:
                await self.expect(250)
        else:
            for command in commands:
                self.writer.write(command)
                await self.expect(250)
            self.writer.write(b"DATA\r\n")
        await self.expect(354)

    async def finish(self, stuffed: bytes) -> None:
        """The message and its final dot, then the 250."""
        self.writer.write(stuffed + b".\r\n")
        await self.expect(250)

    async def quit(self) -> None:
        try:
            self.writer.write(b"QUIT\r\n")
            await self.reply()
        except (OSError, asyncio.IncompleteReadError):
            pass
        self.writer.close()


# -- IMAP --------------------------------------------------------------------------------------

@dataclass
class ImapReply:
    status: str                       # OK, NO or BAD
    text: bytes                       # the tagged line
    untagged: list[bytes] = field(default_factory=list)   # lines, literals inlined
    literal_bytes: int = 0            # total size of the literals received

    def exists(self) -> int | None:
        found = None
        for line in self.untagged:
            match = _EXISTS.match(line)
            if match:
                found = int(match.group(1))
        return found


class ImapClient:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.capabilities: set[str] = set()
        self._tag = 0

    @classmethod
    async def connect(cls, port: int) -> ImapClient:
        client = cls(*await _open(port))
        greeting = await client.reader.readuntil(b"\r\n")
        if not greeting.startswith(b"* OK"):
            raise ClientError(f"IMAP greeting: {greeting!r}")
        client._read_capabilities(greeting)
        return client

    def _read_capabilities(self, line: bytes) -> None:
        match = re.search(rb"CAPABILITY ([^\]\r\n]*)", line)
        if match:
            self.capabilities = {c.decode().upper() for c in match.group(1).split()}

    def next_tag(self) -> str:
        self._tag += 1
        return f"a{self._tag}"

    async def read_response(self) -> tuple[bytes, int]:
        """One response line with its literals inlined; also the size of those literals."""
        parts, literal_bytes = [], 0
        while True:
            line = await self.reader.readuntil(b"\r\n")
            parts.append(line)
            match = _LITERAL.search(line)
            if match is None:
                return (line if len(parts) == 1 else b"".join(parts)), literal_bytes
            size = int(match.group(1))
            parts.append(await self.reader.readexactly(size))
            literal_bytes += size

    async def read_until_tagged(self, tag: str) -> ImapReply:
        prefix = tag.encode() + b" "
        untagged: list[bytes] = []
        literal_bytes = 0
        while True:
            line, size = await self.read_response()
            literal_bytes += size
            if line.startswith(prefix):
                status = line[len(prefix):].split(b" ", 1)[0].decode()
                return ImapReply(status, line, untagged, literal_bytes)
            if line.startswith(b"* "):
                untagged.append(line)
            elif not line.startswith(b"+"):
                raise ClientError(f"unexpected IMAP line: {line[:200]!r}")

    async def command(self, text: str, *, check: bool = True) -> ImapReply:
        tag = self.next_tag()
        self.writer.write(f"{tag} {text}\r\n".encode())
        reply = await self.read_until_tagged(tag)
        if check and reply.status != "OK":
            raise ClientError(f"{text.split(' ')[0]}: {reply.text!r}")
        return reply

    async def login(self, user: str, password: str) -> None:
        reply = await self.command(f'LOGIN "{user}" "{password}"')
        self._read_capabilities(reply.text)
        if not self.capabilities or "LITERAL+" not in self.capabilities:
            caps = await self.command("CAPABILITY")
            for line in caps.untagged:
                if line.startswith(b"* CAPABILITY"):
                    self.capabilities = {c.decode().upper() for c in line.split()[2:]}

    async def append(self, mailbox: str, message: bytes, flags: str = "") -> ImapReply:
        tag = self.next_tag()
        flag_part = f"({flags}) " if flags else ""
        head = f'{tag} APPEND "{mailbox}" {flag_part}'.encode()
        if "LITERAL+" in self.capabilities:
            self.writer.write(head + b"{%d+}\r\n" % len(message) + message + b"\r\n")
        else:
            self.writer.write(head + b"{%d}\r\n" % len(message))
            line, _ = await self.read_response()
            if not line.startswith(b"+"):
                return ImapReply("NO", line)
            self.writer.write(message + b"\r\n")
        return await self.read_until_tagged(tag)

    async def append_many(self, mailbox: str, messages: list[bytes], window: int = 16) -> int:
        """APPEND every message, keeping up to ``window`` in flight (needs LITERAL+)."""
        if "LITERAL+" not in self.capabilities:
            for message in messages:
                reply = await self.append(mailbox, message)
                if reply.status != "OK":
                    raise ClientError(f"APPEND: {reply.text!r}")
            return len(messages)
        pending: list[str] = []
        for message in messages:
            tag = self.next_tag()
            self.writer.write(f'{tag} APPEND "{mailbox}" '.encode()
                              + b"{%d+}\r\n" % len(message) + message + b"\r\n")
            pending.append(tag)
            if len(pending) >= window:
                await self._expect_ok(pending.pop(0))
        for tag in pending:
            await self._expect_ok(tag)
        return len(messages)

    async def _expect_ok(self, tag: str) -> None:
        reply = await self.read_until_tagged(tag)
        if reply.status != "OK":
            raise ClientError(f"{tag}: {reply.text!r}")

    async def logout(self) -> None:
        try:
            self.writer.write(f"{self.next_tag()} LOGOUT\r\n".encode())
            await self.writer.drain()
        except OSError:
            pass
        self.writer.close()


# -- POP3 --------------------------------------------------------------------------------------

class Pop3Client:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, port: int) -> Pop3Client:
        client = cls(*await _open(port))
        await client.status()
        return client

    async def status(self) -> bytes:
        line = await self.reader.readuntil(b"\r\n")
        if not line.startswith(b"+OK"):
            raise ClientError(f"POP3: {line!r}")
        return line

    async def command(self, text: str) -> bytes:
        self.writer.write(text.encode() + b"\r\n")
        return await self.status()

    async def multiline(self, text: str) -> bytes:
        """A multi-line answer, still dot-stuffed, without the status line and terminator."""
        self.writer.write(text.encode() + b"\r\n")
        await self.status()
        # The terminator is ".CRLF" at the start of a line; the status line's CRLF is already
        # consumed, so an empty answer is just ".CRLF".
        data = bytearray()
        while True:
            data += await self.reader.readuntil(b".\r\n")
            if len(data) == 3 or data.endswith(b"\r\n.\r\n"):
                return bytes(data[:-3])

    async def login(self, user: str, password: str) -> None:
        await self.command(f"USER {user}")
        await self.command(f"PASS {password}")

    async def quit(self) -> None:
        try:
            await self.command("QUIT")
        except (OSError, asyncio.IncompleteReadError, ClientError):
            pass
        self.writer.close()
