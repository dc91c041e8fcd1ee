"""SMTP commands as values, and the parser that turns one command line into one of them.

How this works: ``parse_command(line)`` takes one line without its terminator (wire.py framed it)
and returns a frozen dataclass per RFC 5321 §4.1.1 verb, or raises a CommandError subclass that
protocol.py maps to a reply. ``to_bytes()`` renders a command back to its line, for the SMTP client
and for round-trip tests. Nothing here knows the session state: whether MAIL is allowed now, or
whether SIZE fits, is decided by protocol.py.

The argument grammar of MAIL and RCPT (paths, ESMTP parameters, xtext) lives in paths.py; its
errors and value types are re-exported here, so callers import every command name from this module.
Non-ASCII is allowed in a path only under SMTPUTF8 (RFC 6531 §3.3): for MAIL when the command
itself carries SMTPUTF8, for RCPT when the caller says the transaction does.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

from postier.smtp.paths import (
    MAIL_PARAMETERS,
    RCPT_PARAMETERS,
    ArgumentError,
    BodyType,
    CommandError,
    DsnNotify,
    DsnReturn,
    PathError,
    UnknownParameter,
    is_number,
    parse_params,
    parse_path,
    xtext_decode,
    xtext_encode,
)

__all__ = [
    "ArgumentError", "Auth", "Base64Error", "Bdat", "BodyType", "Command", "CommandError",
    "CommandNotImplemented", "Data", "DsnNotify", "DsnReturn", "Ehlo", "Expn", "Helo", "Help",
    "MailFrom", "Noop", "PathError", "Quit", "RcptTo", "Rset", "StartTls", "UnknownParameter",
    "UnrecognizedCommand", "Utf8NotPermitted", "Vrfy", "parse_command", "parse_sasl_response",
    "xtext_decode", "xtext_encode",
]


class UnrecognizedCommand(CommandError):
    """Unknown verb, control characters or invalid UTF-8 (500 5.5.2)."""


class CommandNotImplemented(CommandError):
    """A verb RFC 5321 knows that this server does not offer (502 5.5.1)."""


class Base64Error(ArgumentError):
    """AUTH data that is not base64 (501 5.5.2, RFC 4954 §4)."""


class Utf8NotPermitted(CommandError):
    """A non-ASCII address without SMTPUTF8 (553 5.6.7, RFC 6531)."""


@dataclass(frozen=True, slots=True)
class Command:
    verb: ClassVar[str] = ""

    def to_bytes(self) -> bytes:
        return f"{self.verb}\r\n".encode()


@dataclass(frozen=True, slots=True)
class _Hello(Command):
    domain: str

    def to_bytes(self) -> bytes:
        return f"{self.verb} {self.domain}\r\n".encode()


@dataclass(frozen=True, slots=True)
class Helo(_Hello):
    verb: ClassVar[str] = "HELO"


@dataclass(frozen=True, slots=True)
class Ehlo(_Hello):
    verb: ClassVar[str] = "EHLO"


def _render_params(params: dict[str, str | None]) -> str:
    return "".join(f" {k}" if v is None else f" {k}={v}" for k, v in params.items())


@dataclass(frozen=True, slots=True)
class MailFrom(Command):
    """``address`` is ``""`` for the null reverse-path ``<>``; params hold the raw wire values."""

    verb: ClassVar[str] = "MAIL"
    address: str
    params: dict[str, str | None] = field(default_factory=dict, hash=False)
    had_source_route: bool = False

    def to_bytes(self) -> bytes:
        return f"MAIL FROM:<{self.address}>{_render_params(self.params)}\r\n".encode()

    @property
    def size(self) -> int | None:
        value = self.params.get("SIZE")
        return None if value is None else int(value)

    @property
    def body(self) -> BodyType | None:
        value = self.params.get("BODY")
        return None if value is None else BodyType(value.upper())

    @property
    def smtputf8(self) -> bool:
        return "SMTPUTF8" in self.params

    @property
    def ret(self) -> DsnReturn | None:
        value = self.params.get("RET")
        return None if value is None else DsnReturn(value.upper())

    @property
    def envid(self) -> str | None:
        value = self.params.get("ENVID")
        return None if value is None else xtext_decode(value)

    @property
    def auth(self) -> str | None:
        """RFC 4954 §5: the submitter the client vouches for, ``<>`` when it will not say."""
        value = self.params.get("AUTH")
        return None if value is None else xtext_decode(value)


@dataclass(frozen=True, slots=True)
class RcptTo(Command):
    verb: ClassVar[str] = "RCPT"
    address: str
    params: dict[str, str | None] = field(default_factory=dict, hash=False)
    had_source_route: bool = False

    def to_bytes(self) -> bytes:
        return f"RCPT TO:<{self.address}>{_render_params(self.params)}\r\n".encode()

    @property
    def notify(self) -> frozenset[DsnNotify] | None:
        value = self.params.get("NOTIFY")
        if value is None:
            return None
        return frozenset(DsnNotify(v) for v in value.upper().split(","))

    @property
    def orcpt(self) -> tuple[str, str] | None:
        """RFC 3461 §4.2: (address type, original recipient), e.g. ("rfc822", "a@b")."""
        value = self.params.get("ORCPT")
        if value is None:
            return None
        kind, _, address = value.partition(";")
        return kind, xtext_decode(address)


@dataclass(frozen=True, slots=True)
class Data(Command):
    verb: ClassVar[str] = "DATA"


@dataclass(frozen=True, slots=True)
class Bdat(Command):
    verb: ClassVar[str] = "BDAT"
    size: int
    last: bool = False

    def to_bytes(self) -> bytes:
        return f"BDAT {self.size}{' LAST' if self.last else ''}\r\n".encode()


@dataclass(frozen=True, slots=True)
class Rset(Command):
    verb: ClassVar[str] = "RSET"


@dataclass(frozen=True, slots=True)
class Quit(Command):
    verb: ClassVar[str] = "QUIT"


@dataclass(frozen=True, slots=True)
class StartTls(Command):
    verb: ClassVar[str] = "STARTTLS"


@dataclass(frozen=True, slots=True)
class _TextCommand(Command):
    text: str = ""

    def to_bytes(self) -> bytes:
        return f"{self.verb} {self.text}\r\n".encode() if self.text else Command.to_bytes(self)


@dataclass(frozen=True, slots=True)
class Noop(_TextCommand):
    verb: ClassVar[str] = "NOOP"


@dataclass(frozen=True, slots=True)
class Help(_TextCommand):
    verb: ClassVar[str] = "HELP"


@dataclass(frozen=True, slots=True)
class Vrfy(_TextCommand):
    verb: ClassVar[str] = "VRFY"


@dataclass(frozen=True, slots=True)
class Expn(_TextCommand):
    verb: ClassVar[str] = "EXPN"


@dataclass(frozen=True, slots=True)
class Auth(Command):
    """``initial_response`` is decoded; ``b""`` was sent as ``=``, None means absent."""

    verb: ClassVar[str] = "AUTH"
    mechanism: str
    initial_response: bytes | None = None

    def to_bytes(self) -> bytes:
        if self.initial_response is None:
            return f"AUTH {self.mechanism}\r\n".encode()
        encoded = base64.b64encode(self.initial_response).decode() or "="
        return f"AUTH {self.mechanism} {encoded}\r\n".encode()


def parse_sasl_response(line: bytes) -> bytes | None:
    """One client line of a SASL exchange (RFC 4954 §4); None when the client sent "*"."""
    if line == b"*":
        return None
    if line == b"=":  # not in RFC 4954 for continuations, but harmless and some clients send it
        return b""
    return _b64decode(line)


def parse_command(line: bytes, *, smtputf8: bool = False) -> Command:
    """Parse one command line; ``smtputf8`` says the current transaction's MAIL had SMTPUTF8."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        raise UnrecognizedCommand("Invalid UTF-8 in command") from None
    if _CONTROL.search(text):
        raise UnrecognizedCommand("Control character in command")
    verb, _, argument = text.rstrip(" ").partition(" ")
    # ASCII only: str.upper() maps some non-ASCII letters onto ASCII ones ("ſ" -> "S").
    verb = verb.upper() if verb.isascii() else ""
    parse = _PARSERS.get(verb)
    if parse is None:
        if verb in _NOT_IMPLEMENTED:
            raise CommandNotImplemented("Command not implemented")
        raise UnrecognizedCommand("Syntax error, command unrecognized")
    return parse(argument.lstrip(" "), smtputf8)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_MECHANISM = re.compile(r"[A-Za-z0-9_-]{1,20}")
_NOT_IMPLEMENTED = frozenset({"SEND", "SOML", "SAML", "TURN", "ETRN", "ATRN"})


def _b64decode(data: bytes | str) -> bytes:
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):  # ValueError: non-ASCII str input
        raise Base64Error("Cannot decode base64 data") from None


def _no_argument(command: Command) -> Callable[[str, bool], Command]:
    def parse(argument: str, smtputf8: bool) -> Command:
        if argument:
            raise ArgumentError(f"{command.verb} takes no arguments")
        return command

    return parse


def _parse_helo(argument: str, smtputf8: bool, *, esmtp: bool = False) -> Command:
    # The domain is not validated beyond being one token: many real clients greet with names
    # like "my_laptop"; judging them is policy's job.
    if not argument or " " in argument:
        raise ArgumentError("HELO and EHLO take exactly one domain")
    return Ehlo(argument) if esmtp else Helo(argument)


def _parse_text(kind: type[_TextCommand], required: bool) -> Callable[[str, bool], Command]:
    def parse(argument: str, smtputf8: bool) -> Command:
        if required and not argument:
            raise ArgumentError(f"{kind.verb} requires an argument")
        return kind(argument)

    return parse


def _parse_bdat(argument: str, smtputf8: bool) -> Command:
    words = argument.split(" ")
    if not 1 <= len(words) <= 2 or not is_number(words[0], 20):
        raise ArgumentError("Syntax: BDAT size [LAST]")
    if len(words) == 2 and not (words[1].isascii() and words[1].upper() == "LAST"):
        raise ArgumentError("Syntax: BDAT size [LAST]")
    return Bdat(int(words[0]), last=len(words) == 2)


def _parse_auth(argument: str, smtputf8: bool) -> Command:
    words = argument.split(" ")
    if not 1 <= len(words) <= 2 or not _MECHANISM.fullmatch(words[0]):
        raise ArgumentError("Syntax: AUTH mechanism [initial-response]")
    if len(words) == 1:
        return Auth(words[0].upper())
    response = b"" if words[1] == "=" else _b64decode(words[1])
    return Auth(words[0].upper(), response)


def _parse_mail(argument: str, smtputf8: bool) -> Command:
    if argument[:5].upper() != "FROM:":
        raise ArgumentError("Syntax: MAIL FROM:<address>")
    rest = argument[5:].lstrip(" ")
    address, route, end = parse_path(rest, reverse=True)
    params = parse_params(rest[end:], MAIL_PARAMETERS)
    if not rest[:end].isascii() and "SMTPUTF8" not in params:
        raise Utf8NotPermitted("Non-ASCII address requires SMTPUTF8")
    return MailFrom(address, params, route)


def _parse_rcpt(argument: str, smtputf8: bool) -> Command:
    if argument[:3].upper() != "TO:":
        raise ArgumentError("Syntax: RCPT TO:<address>")
    rest = argument[3:].lstrip(" ")
    address, route, end = parse_path(rest, reverse=False)
    params = parse_params(rest[end:], RCPT_PARAMETERS)
    if not rest[:end].isascii() and not smtputf8:
        raise Utf8NotPermitted("Non-ASCII address requires SMTPUTF8")
    return RcptTo(address, params, route)


_PARSERS: dict[str, Callable[[str, bool], Command]] = {
    "HELO": _parse_helo,
    "EHLO": lambda argument, smtputf8: _parse_helo(argument, smtputf8, esmtp=True),
    "MAIL": _parse_mail,
    "RCPT": _parse_rcpt,
    "DATA": _no_argument(Data()),
    "BDAT": _parse_bdat,
    "RSET": _no_argument(Rset()),
    "QUIT": _no_argument(Quit()),
    "STARTTLS": _no_argument(StartTls()),
    "NOOP": _parse_text(Noop, required=False),
    "HELP": _parse_text(Help, required=False),
    "VRFY": _parse_text(Vrfy, required=True),
    "EXPN": _parse_text(Expn, required=True),
    "AUTH": _parse_auth,
}
