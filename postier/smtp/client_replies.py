"""What an SMTP client reads: replies from a remote server, and its EHLO extensions. No I/O.

How this works: ``ReplyReader`` is fed bytes and returns one ``RemoteReply`` per complete reply,
or None until one is complete. A reply is one or more lines ``code-text`` ending with a line
``code SP text`` (RFC 5321 §4.2.1); every line must carry the same three digits. Anything else —
a line without a code, mixed codes, a line or reply above the limits — is ``RemoteProtocolError``:
the remote's fault, and the reason the session ends.

The reader is lenient where that is harmless: a bare LF ends a line (some servers send it), a
last line of just ``250`` is accepted, and bytes that are not UTF-8 are replaced, so a reply can
always be shown in a log, a queue listing or a bounce. Control characters are dropped from the
text for the same reason.

``Extensions.parse`` reads the EHLO reply: the first line greets, each further line is a keyword
with optional parameters (RFC 5321 §4.1.1.1). Keywords are case-insensitive.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["Extensions", "RemoteProtocolError", "RemoteReply", "ReplyReader"]

MAX_LINE = 8192  # RFC 5321 §4.5.3.1.5 says 512; real servers send longer ones
MAX_LINES = 256
_LINE = re.compile(rb"([2-5][0-9][0-9])([ -]?)(.*)", re.DOTALL)
_ENHANCED = re.compile(r"([245])\.([0-9]{1,3})\.([0-9]{1,3})(?:\s+|$)")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


class RemoteProtocolError(Exception):
    """The remote server broke the protocol (garbage, oversized or inconsistent replies)."""


@dataclass(frozen=True, slots=True)
class RemoteReply:
    code: int
    lines: tuple[str, ...]

    @property
    def enhanced(self) -> str | None:
        """The RFC 3463 status code starting the text, if it matches the reply's class."""
        match = _ENHANCED.match(self.lines[0]) if self.lines else None
        if match is None or match.group(1) != str(self.code)[0]:
            return None
        return ".".join(match.group(1, 2, 3))

    @property
    def status(self) -> str:
        """The enhanced code, or the generic one of the reply's class (RFC 3463 §3.1)."""
        return self.enhanced or f"{str(self.code)[0]}.0.0"

    @property
    def is_positive(self) -> bool:
        return 200 <= self.code < 400

    @property
    def is_transient(self) -> bool:
        return 400 <= self.code < 500

    @property
    def is_permanent(self) -> bool:
        return self.code >= 500

    def __str__(self) -> str:
        text = " ".join(line for line in self.lines if line)
        return f"{self.code} {text}".rstrip()


class ReplyReader:
    def __init__(self) -> None:
        self._buffer = bytearray()
        self._lines: list[str] = []
        self._code: bytes | None = None
        self.eof = False

    def feed(self, data: bytes) -> None:
        if not data:
            self.eof = True
        self._buffer += data

    @property
    def buffered(self) -> int:
        """Bytes received but not yet part of a returned reply."""
        return len(self._buffer) + sum(len(line) for line in self._lines)

    def discard(self) -> None:
        self._buffer.clear()
        self._lines.clear()
        self._code = None

    def next_reply(self) -> RemoteReply | None:
        while True:
            end = self._buffer.find(b"\n")
            if end < 0:
                if len(self._buffer) > MAX_LINE:
                    raise RemoteProtocolError(f"reply line longer than {MAX_LINE} octets")
                return None
            raw = bytes(self._buffer[:end]).rstrip(b"\r")
            del self._buffer[:end + 1]
            if len(raw) > MAX_LINE:
                raise RemoteProtocolError(f"reply line longer than {MAX_LINE} octets")
            match = _LINE.fullmatch(raw)
            if match is None or (match.group(2) == b"" and match.group(3)):
                raise RemoteProtocolError(f"not an SMTP reply: {_printable(raw)[:80]!r}")
            code, separator, text = match.groups()
            if self._code is not None and code != self._code:
                raise RemoteProtocolError(f"reply lines with different codes "
                                          f"({self._code.decode()} then {code.decode()})")
            self._code = code
            self._lines.append(_printable(text))
            if len(self._lines) > MAX_LINES:
                raise RemoteProtocolError(f"reply of more than {MAX_LINES} lines")
            if separator != b"-":
                reply = RemoteReply(int(code), tuple(self._lines))
                self._lines = []
                self._code = None
                return reply


def _printable(raw: bytes) -> str:
    return _CONTROL.sub("", raw.decode("utf-8", errors="replace")).strip()


@dataclass(frozen=True, slots=True)
class Extensions:
    """The service extensions of an EHLO reply; empty after HELO."""

    keywords: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, reply: RemoteReply) -> Extensions:
        keywords: dict[str, str] = {}
        for line in reply.lines[1:]:
            name, _, params = line.partition(" ")
            if name:
                keywords[name.upper()] = params.strip()
        return cls(keywords)

    def __contains__(self, keyword: str) -> bool:
        return keyword.upper() in self.keywords

    @property
    def size_limit(self) -> int | None:
        """RFC 1870 §4: ``SIZE n``; 0 or no number means no fixed limit."""
        value = self.keywords.get("SIZE")
        if value is None or not value.isdigit() or int(value) == 0:
            return None
        return int(value)

    @property
    def auth_mechanisms(self) -> frozenset[str]:
        return frozenset(self.keywords.get("AUTH", "").upper().split())
