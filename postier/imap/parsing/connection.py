"""Grammar of the connection commands: AUTHENTICATE, LOGIN, ENABLE, ID, COMPRESS.

How this works
--------------
Commands without arguments need no grammar of their own (``parsing/__init__.py`` builds them).
The ones here take credentials or negotiate: AUTHENTICATE with an optional SASL-IR initial
response (RFC 4959 §3, ``=`` meaning empty), LOGIN (RFC 9051 §6.2.3), ENABLE (RFC 5161),
ID (RFC 2971) and COMPRESS (RFC 4978). :func:`decode_base64` is also what the protocol
uses for the client's lines during an AUTHENTICATE exchange (RFC 9051 §6.2.2).
"""

from __future__ import annotations

import binascii

from postier.imap.commands import Authenticate, Compress, Enable, Id, Login
from postier.imap.parsing.reader import ParseError, Reader, utf8

__all__ = [
    "decode_base64",
    "parse_authenticate",
    "parse_compress",
    "parse_enable",
    "parse_id",
    "parse_login",
]

_BASE64_CHARS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")


def decode_base64(data: bytes) -> bytes:
    """Strict RFC 4648 base64: alphabet, padding and no trailing garbage are all checked."""
    try:
        return binascii.a2b_base64(data, strict_mode=True)
    except binascii.Error:
        raise ParseError("invalid base64") from None


def parse_authenticate(r: Reader) -> Authenticate:
    r.sp()
    mechanism = r.keyword("SASL mechanism")
    initial: bytes | None = None
    if r.accept(" "):
        data = r.take(_BASE64_CHARS)
        if not data:
            raise ParseError("expected initial response")
        initial = b"" if data == b"=" else decode_base64(data)
    return Authenticate(mechanism, initial)


def parse_login(r: Reader) -> Login:
    r.sp()
    user = r.astring("user name")
    r.sp()
    return Login(user, r.astring("password"))


def parse_enable(r: Reader) -> Enable:
    capabilities = []
    r.sp()
    capabilities.append(r.keyword("capability"))
    while r.accept(" "):
        capabilities.append(r.keyword("capability"))
    return Enable(tuple(capabilities))


def parse_id(r: Reader) -> Id:
    r.sp()
    if not r.peek_is("("):
        if r.keyword("parameter list") != "NIL":
            raise ParseError("expected parameter list or NIL")
        return Id(None)
    r.open()
    parameters: list[tuple[str, str | None]] = []
    if not r.accept(")"):
        while True:
            key = utf8(r.string())
            r.sp()
            parameters.append((key, r.nstring()))
            if r.close():
                break
    return Id(tuple(parameters))


def parse_compress(r: Reader) -> Compress:
    r.sp()
    return Compress(r.keyword("compression mechanism"))
