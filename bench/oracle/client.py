"""Blocking raw-socket IMAP and POP3 clients that record exactly what the server answers."""

from __future__ import annotations

import re
import socket
import time

__all__ = ["ImapWire", "Pop3Wire", "ServerGone"]

_LITERAL = re.compile(rb"\{(\d+)\+?\}\r\n$")
_SYNC_LITERAL = re.compile(rb"\{(\d+)\}\r\n")
TIMEOUT = 10.0


class ServerGone(Exception):
    """The server closed the connection (the lines read so far are in ``lines``)."""

    def __init__(self, lines: list[bytes]) -> None:
        super().__init__("connection closed")
        self.lines = lines


class _Wire:
    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self.sock = socket.create_connection((host, port), timeout=TIMEOUT)
        self.buffer = b""

    def close(self) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        try:
            self.sock.sendall(data)
        except OSError:  # closed or reset by the server
            raise ServerGone([]) from None

    def _fill(self) -> bool:
        try:
            chunk = self.sock.recv(65536)
        except TimeoutError:
            raise
        except OSError:  # reset by the server
            return False
        if not chunk:
            return False
        self.buffer += chunk
        return True

    def line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            if not self._fill():
                raise ServerGone([self.buffer] if self.buffer else [])
        line, _, self.buffer = self.buffer.partition(b"\r\n")
        return line + b"\r\n"

    def exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            if not self._fill():
                raise ServerGone([self.buffer])
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def pending(self, wait: float) -> bytes:
        """Whatever arrives within ``wait`` seconds (for unsolicited lines)."""
        deadline = time.monotonic() + wait
        self.sock.settimeout(0.05)
        try:
            while time.monotonic() < deadline:
                try:
                    if not self._fill():
                        break
                except TimeoutError:
                    continue
        finally:
            self.sock.settimeout(TIMEOUT)
        data, self.buffer = self.buffer, b""
        return data


class ImapWire(_Wire):
    def response(self) -> bytes:
        """One response line with its literals."""
        out = self.line()
        while True:
            match = _LITERAL.search(out)
            if not match:
                return out
            out += self.exactly(int(match.group(1)))
            out += self.line()

    def until_tagged(self, tag: bytes, lines: list[bytes]) -> list[bytes]:
        try:
            while True:
                response = self.response()
                lines.append(response)
                if response.startswith(tag + b" "):
                    return lines
        except ServerGone as gone:
            raise ServerGone(lines + gone.lines) from None

    def command(self, tag: str, text: bytes) -> list[bytes]:
        """Send ``tag text`` (synchronizing literals wait for "+"), read up to the tagged line."""
        data = tag.encode() + b" " + text + b"\r\n"
        lines: list[bytes] = []
        position = 0
        for match in _SYNC_LITERAL.finditer(data):
            self.send(data[position:match.end()])
            position = match.end()
            try:
                while True:
                    response = self.response()
                    lines.append(response)
                    if response.startswith(b"+"):
                        break
                    if response.startswith(tag.encode() + b" "):
                        return lines
            except ServerGone as gone:
                raise ServerGone(lines + gone.lines) from None
        self.send(data[position:])
        return self.until_tagged(tag.encode(), lines)

    def idle(self, tag: str) -> list[bytes]:
        """Send IDLE and read up to the continuation request."""
        self.send(tag.encode() + b" IDLE\r\n")
        lines: list[bytes] = []
        while True:
            response = self.response()
            lines.append(response)
            if response.startswith((b"+", tag.encode() + b" ")):
                return lines


class Pop3Wire(_Wire):
    MULTILINE = frozenset({"CAPA", "RETR", "TOP"})

    def command(self, text: str) -> list[bytes]:
        self.send(text.encode() + b"\r\n")
        first = self.line()
        lines = [first]
        verb = text.split(" ")[0].upper()
        args = text.split()[1:]
        multiline = verb in self.MULTILINE or (verb in {"LIST", "UIDL"} and not args)
        if first.startswith(b"+OK") and multiline:
            while True:
                line = self.line()
                lines.append(line)
                if line == b".\r\n":
                    break
        return lines
