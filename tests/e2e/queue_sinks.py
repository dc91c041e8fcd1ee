"""Test doubles on loopback for the outbound queue: SMTP sinks with one behaviour each, and a
tiny DNS server. Real sockets, real asyncio servers; every wait has a deadline."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset


@dataclass
class Received:
    sender: str
    recipients: list[str]
    data: bytes
    mail_line: str
    rcpt_lines: list[str]
    tls: bool


@dataclass
class SinkBehaviour:
    """What the sink does; the defaults make an accepting ESMTP server."""

    extensions: tuple[str, ...] = ("PIPELINING", "8BITMIME", "SIZE 10000000", "ENHANCEDSTATUSCODES")
    greeting: bytes = b"220 sink.example.net ESMTP\r\n"
    rcpt_reply: Callable[[str, int], bytes] | None = None  # (address, connection number) → reply
    data_reply: Callable[[int], bytes] | None = None  # connection number → reply to the final dot
    hang_before_greeting: bool = False
    close_in_data: bool = False  # close the connection after the first line of message data
    starttls: ssl.SSLContext | None = None  # offer STARTTLS with this server context
    broken_tls: bool = False  # offer STARTTLS, say 220, then talk garbage instead of TLS


@dataclass
class SmtpSink:
    behaviour: SinkBehaviour = field(default_factory=SinkBehaviour)
    messages: list[Received] = field(default_factory=list)
    connections: int = 0
    connected_at: list[float] = field(default_factory=list)
    port: int = 0
    _server: asyncio.Server | None = None
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _writers: list[asyncio.StreamWriter] = field(default_factory=list)

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> SmtpSink:
        self._server = await asyncio.start_server(self._handle, host, port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in self._writers:
                writer.close()
            await self._server.wait_closed()

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"sink: condition not met within {timeout}s "
                                   f"({self.connections} connections, "
                                   f"{len(self.messages)} messages)")
            self._changed.clear()
            try:
                async with asyncio.timeout(min(remaining, 0.2)):
                    await self._changed.wait()
            except TimeoutError:
                pass

    async def wait_messages(self, count: int, timeout: float = 20.0) -> list[Received]:
        await self.wait_for(lambda: len(self.messages) >= count, timeout)
        return self.messages

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.connected_at.append(time.monotonic())
        number = self.connections
        self._writers.append(writer)
        self._changed.set()
        try:
            await self._session(reader, writer, number)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            writer.close()
            self._changed.set()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                       number: int) -> None:
        behaviour = self.behaviour
        if behaviour.hang_before_greeting:
            await asyncio.sleep(3600)
        writer.write(behaviour.greeting)
        sender: str | None = None
        recipients: list[str] = []
        mail_line = ""
        rcpt_lines: list[str] = []
        tls = False
        while True:
            line = await reader.readline()
            if not line:
                return
            command = line.decode("utf-8", "replace").rstrip("\r\n")
            verb = command[:4].upper()
            if verb == "EHLO":
                extensions = list(behaviour.extensions)
                if (behaviour.starttls is not None or behaviour.broken_tls) and not tls:
                    extensions.append("STARTTLS")
                lines = ["sink.example.net", *extensions]
                writer.write("".join(f"250{'-' if i < len(lines) - 1 else ' '}{text}\r\n"
                                     for i, text in enumerate(lines)).encode())
            elif verb == "HELO":
                writer.write(b"250 sink.example.net\r\n")
            elif command.upper() == "STARTTLS":
                writer.write(b"220 2.0.0 go ahead\r\n")
                await writer.drain()
                if behaviour.broken_tls:
                    writer.write(b"this is not a TLS handshake\r\n" * 4)
                    await writer.drain()
                    return
                assert behaviour.starttls is not None
                await writer.start_tls(behaviour.starttls)
                tls = True
            elif verb == "MAIL":
                sender = command[command.index("<") + 1:command.index(">")]
                mail_line = command
                recipients, rcpt_lines = [], []
                writer.write(b"250 2.1.0 ok\r\n")
            elif verb == "RCPT":
                address = command[command.index("<") + 1:command.index(">")]
                reply = behaviour.rcpt_reply(address, number) if behaviour.rcpt_reply else None
                reply = reply or b"250 2.1.5 ok\r\n"
                if reply.startswith(b"2"):
                    recipients.append(address)
                    rcpt_lines.append(command)
                writer.write(reply)
            elif verb == "DATA":
                if not recipients:
                    writer.write(b"554 5.5.1 no valid recipients\r\n")
                    continue
                writer.write(b"354 go ahead\r\n")
                await writer.drain()
                data = await self._read_data(reader, writer, behaviour)
                if data is None:
                    return
                reply = behaviour.data_reply(number) if behaviour.data_reply else None
                reply = reply or b"250 2.0.0 queued\r\n"
                if reply.startswith(b"2"):
                    assert sender is not None
                    self.messages.append(Received(sender, recipients, data, mail_line,
                                                  rcpt_lines, tls))
                    self._changed.set()
                writer.write(reply)
            elif verb == "RSET":
                sender, recipients = None, []
                writer.write(b"250 2.0.0 ok\r\n")
            elif verb == "QUIT":
                writer.write(b"221 2.0.0 bye\r\n")
                await writer.drain()
                return
            else:
                writer.write(b"502 5.5.1 not implemented\r\n")
            await writer.drain()

    @staticmethod
    async def _read_data(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                         behaviour: SinkBehaviour) -> bytes | None:
        lines: list[bytes] = []
        while True:
            line = await reader.readline()
            if not line:
                return None
            if behaviour.close_in_data:
                writer.transport.abort()
                return None
            if line == b".\r\n":
                return b"".join(lines)
            lines.append(line[1:] if line.startswith(b".") else line)


class DnsServer(asyncio.DatagramProtocol):
    """Answers from ``records``: {(name, type): [rdata text]}; ``nxdomain`` and ``servfail``
    are sets of names. Names are absolute, lower case, with the trailing dot."""

    def __init__(self) -> None:
        self.records: dict[tuple[str, str], list[str]] = {}
        self.nxdomain: set[str] = set()
        self.servfail: set[str] = set()
        self.queries: list[tuple[str, str]] = []
        self.transport: asyncio.DatagramTransport | None = None
        self.port = 0

    async def start(self) -> DnsServer:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(lambda: self,
                                                           local_addr=("127.0.0.1", 0))
        self.transport = transport
        self.port = transport.get_extra_info("sockname")[1]
        return self

    def stop(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def add(self, name: str, rdtype: str, *values: str) -> None:
        self.records.setdefault((name.lower().rstrip(".") + ".", rdtype), []).extend(values)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        pass

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        query = dns.message.from_wire(data)
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        question = query.question[0]
        name = question.name.to_text().lower()
        rdtype = dns.rdatatype.to_text(question.rdtype)
        self.queries.append((name, rdtype))
        if name in self.servfail:
            response.set_rcode(dns.rcode.SERVFAIL)
        elif name in self.nxdomain or not any(key[0] == name for key in self.records):
            response.set_rcode(dns.rcode.NXDOMAIN)
        else:
            values = self.records.get((name, rdtype), [])
            if values:
                response.answer.append(dns.rrset.from_text_list(name, 60, "IN", rdtype, values))
        assert self.transport is not None
        self.transport.sendto(response.to_wire(), addr)


async def wait_until(check: Callable[[], object], timeout: float = 20.0,
                     what: str = "condition") -> object:
    """Poll an async (or plain) check every 50 ms until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached within {timeout}s")
        await asyncio.sleep(0.05)


def make_message(sender: str = "alice@example.test", to: str = "bob@example.org",
                 subject: str = "Hello", body: str = "Hello Bob.\r\n.leading dot\r\n",
                 message_id: str = "m1@example.test") -> bytes:
    return (f"From: Alice <{sender}>\r\nTo: <{to}>\r\nSubject: {subject}\r\n"
            f"Date: Mon, 01 Jan 2024 10:00:00 +0000\r\nMessage-ID: <{message_id}>\r\n"
            f"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}"
            ).encode()
