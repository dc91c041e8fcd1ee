"""POP3 commands: one frozen dataclass per command, and the parser from a line to a command.

How this works: ``parse_command(line)`` takes one command line without its CRLF and returns a
command or raises CommandError, whose text is safe to send after "-ERR". Keywords are
case-insensitive (RFC 1939 §3). Arguments are separated by spaces, except for USER and PASS
whose single argument is the rest of the line: RFC 1939 §7 lets a password contain spaces.
Text is UTF-8 (RFC 6856 §2, "UTF8 USER"); control characters, NUL included, are refused.

Message numbers are decimal, at most 9 digits: a larger number can never name a message, and
refusing it early keeps arithmetic on client input bounded. Whether a number names a message is
the maildrop's business (maildrop.py), not the parser's. Commands are parsed whatever the state;
protocol.py decides whether the state allows them.
"""

from __future__ import annotations

import binascii
import re
from dataclasses import dataclass, field

__all__ = [
    "Auth",
    "Capa",
    "Command",
    "CommandError",
    "Dele",
    "List",
    "Noop",
    "Pass",
    "Quit",
    "Retr",
    "Rset",
    "Stat",
    "Stls",
    "Top",
    "Uidl",
    "User",
    "Utf8",
    "decode_base64",
    "parse_command",
]

_NUMBER = re.compile(rb"[0-9]{1,9}")
_KEYWORD = re.compile(rb"[A-Za-z0-9]{1,8}")
_CONTROL = re.compile(rb"[\x00-\x1f\x7f]")


class CommandError(Exception):
    """The line is not a valid command; the message is the text for "-ERR"."""


@dataclass(frozen=True, slots=True)
class Capa:
    pass


@dataclass(frozen=True, slots=True)
class User:
    name: str


@dataclass(frozen=True, slots=True)
class Pass:
    password: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class Auth:
    mechanism: str | None  # None: list the mechanisms
    initial_response: bytes | None = field(default=None, repr=False)  # b"" for "="


@dataclass(frozen=True, slots=True)
class Stls:
    pass


@dataclass(frozen=True, slots=True)
class Utf8:
    pass


@dataclass(frozen=True, slots=True)
class Quit:
    pass


@dataclass(frozen=True, slots=True)
class Stat:
    pass


@dataclass(frozen=True, slots=True)
class List:
    number: int | None = None


@dataclass(frozen=True, slots=True)
class Retr:
    number: int


@dataclass(frozen=True, slots=True)
class Top:
    number: int
    lines: int


@dataclass(frozen=True, slots=True)
class Dele:
    number: int


@dataclass(frozen=True, slots=True)
class Noop:
    pass


@dataclass(frozen=True, slots=True)
class Rset:
    pass


@dataclass(frozen=True, slots=True)
class Uidl:
    number: int | None = None


Command = (Capa | User | Pass | Auth | Stls | Utf8 | Quit | Stat | List | Retr | Top | Dele | Noop
           | Rset | Uidl)

_NO_ARGUMENTS: dict[bytes, Command] = {
    b"CAPA": Capa(), b"STLS": Stls(), b"UTF8": Utf8(), b"QUIT": Quit(), b"STAT": Stat(),
    b"NOOP": Noop(), b"RSET": Rset(),
}


def parse_command(line: bytes) -> Command:
    if _CONTROL.search(line):
        raise CommandError("control characters are not allowed in commands")
    keyword, _, rest = line.partition(b" ")
    if not _KEYWORD.fullmatch(keyword):
        raise CommandError("unknown command")
    name = keyword.upper()
    if name in (b"USER", b"PASS"):
        return _credentials(name, rest)
    arguments = rest.split()
    if name in _NO_ARGUMENTS:
        if arguments:
            raise CommandError(f"{name.decode()} takes no arguments")
        return _NO_ARGUMENTS[name]
    match name:
        case b"LIST" | b"UIDL":
            number = _optional_number(arguments)
            return List(number) if name == b"LIST" else Uidl(number)
        case b"RETR" | b"DELE":
            number = _message_number(arguments)
            return Retr(number) if name == b"RETR" else Dele(number)
        case b"TOP":
            if len(arguments) != 2:
                raise CommandError("usage: TOP message lines")
            return Top(_number(arguments[0]), _number(arguments[1]))
        case b"AUTH":
            return _auth(arguments)
        case b"APOP":
            raise CommandError("APOP is not supported; use USER and PASS, or AUTH")
    raise CommandError("unknown command")


def decode_base64(data: bytes) -> bytes:
    """Strict base64 (RFC 4648 §4) of one SASL response; CommandError when malformed."""
    try:
        return binascii.a2b_base64(data, strict_mode=True) if data else b""
    except (binascii.Error, ValueError) as exc:
        raise CommandError("malformed base64") from exc


def _credentials(name: bytes, rest: bytes) -> User | Pass:
    if not rest:
        raise CommandError(f"{name.decode()} needs an argument")
    try:
        text = rest.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CommandError("user names and passwords must be UTF-8") from exc
    if name == b"USER":
        user = text.strip()
        if not user:
            raise CommandError("USER needs an argument")
        return User(user)
    return Pass(text)


def _number(argument: bytes) -> int:
    if not _NUMBER.fullmatch(argument):
        raise CommandError("invalid number")
    return int(argument)


def _message_number(arguments: list[bytes]) -> int:
    if len(arguments) != 1:
        raise CommandError("a message number is required")
    return _number(arguments[0])


def _optional_number(arguments: list[bytes]) -> int | None:
    if len(arguments) > 1:
        raise CommandError("at most one message number")
    return _number(arguments[0]) if arguments else None


def _auth(arguments: list[bytes]) -> Auth:
    if not arguments:
        return Auth(None)
    if len(arguments) > 2:
        raise CommandError("usage: AUTH mechanism [initial-response]")
    try:
        mechanism = arguments[0].decode("ascii").upper()
    except UnicodeDecodeError as exc:
        raise CommandError("invalid mechanism name") from exc
    if len(arguments) == 1:
        return Auth(mechanism)
    initial = arguments[1]
    # RFC 5034 §4: "=" is an empty initial response.
    return Auth(mechanism, b"" if initial == b"=" else decode_base64(initial))
