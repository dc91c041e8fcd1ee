"""The grammar of MAIL and RCPT arguments: paths, ESMTP parameters and xtext. No I/O.

How this works: ``parse_path`` reads the ``<...>`` at the start of a MAIL or RCPT argument and
``parse_params`` the ``KEYWORD[=value]`` list after it; commands.py builds MailFrom and RcptTo from
the results. The errors raised here (ArgumentError, PathError, UnknownParameter, all
CommandError) are the root of the command error tree that commands.py completes and re-exports.

Paths follow RFC 5321 §4.1.2, with these choices:

- a source route ``<@a,@b:user@host>`` is parsed and dropped, as RFC 5321 §4.1.1.3 and Appendix C
  require, but the caller learns that there was one, so that policy can refuse such paths;
- the local part is kept exactly as sent, quotes and backslashes included (``"a b"@x``,
  ``"user@remote"@local``), so this layer never changes which mailbox is meant;
  ``local_part_value`` gives the unquoted value when policy needs to compare it;
- domains are LDH labels or the address literals ``[1.2.3.4]`` and ``[IPv6:...]``; the unregistered
  General-address-literal form is refused;
- ``<Postmaster>`` without a domain is accepted as a forward-path (RFC 5321 §4.1.1.3).

ESMTP parameters (RFC 5321 §4.1.2 esmtp-param) are validated here: SIZE (RFC 1870), BODY
(RFC 6152, RFC 3030), SMTPUTF8 (RFC 6531), RET/ENVID/NOTIFY/ORCPT (RFC 3461 §4, values in xtext),
AUTH (RFC 4954 §5). Any other keyword raises UnknownParameter (555, RFC 5321 §4.1.1.11).
"""

from __future__ import annotations

import enum
import ipaddress
import re
import string
from collections.abc import Callable

__all__ = [
    "MAIL_PARAMETERS", "RCPT_PARAMETERS", "ArgumentError", "BodyType", "CommandError", "DsnNotify",
    "DsnReturn", "PathError", "UnknownParameter", "is_address_literal", "is_number",
    "local_part_value", "parse_params", "parse_path", "split_address", "xtext_decode",
    "xtext_encode",
]


class CommandError(Exception):
    """The line is not a valid command; the message is fixed text, safe to send to the client."""


class ArgumentError(CommandError):
    """Known verb, malformed arguments (501 5.5.4)."""


class PathError(ArgumentError):
    """Malformed reverse-path (501 5.1.7) or forward-path (501 5.1.3)."""

    def __init__(self, message: str, *, reverse_path: bool) -> None:
        super().__init__(message)
        self.reverse_path = reverse_path


class UnknownParameter(CommandError):
    """An ESMTP parameter this server does not implement (555 5.5.4)."""


class BodyType(enum.StrEnum):
    SEVEN_BIT = "7BIT"
    EIGHT_BIT_MIME = "8BITMIME"
    BINARY_MIME = "BINARYMIME"


class DsnReturn(enum.StrEnum):
    FULL = "FULL"
    HEADERS = "HDRS"


class DsnNotify(enum.StrEnum):
    NEVER = "NEVER"
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
    DELAY = "DELAY"


MAIL_PARAMETERS = frozenset({"SIZE", "BODY", "SMTPUTF8", "RET", "ENVID", "AUTH"})
RCPT_PARAMETERS = frozenset({"NOTIFY", "ORCPT"})

_XTEXT = re.compile(r"(?:[\x21-\x2a\x2c-\x3c\x3e-\x7e]|\+[0-9A-Fa-f]{2})*")
_KEYWORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")
_VALUE = re.compile(r"[\x21-\x3c\x3e-\x7e]+")
_LET_DIG = frozenset(string.ascii_letters + string.digits)
_ATEXT = _LET_DIG | frozenset("!#$%&'*+-/=?^_`{|}~")


def is_number(text: str, max_length: int) -> bool:
    """ASCII digits only, 1 to ``max_length`` of them."""
    return 0 < len(text) <= max_length and text.isascii() and text.isdigit()


def parse_path(text: str, *, reverse: bool) -> tuple[str, bool, int]:
    """Parse the ``<...>`` at the start of text: (address, had_source_route, index after ">")."""
    if not text.startswith("<") or (text.startswith("<>") and not reverse):
        raise _path_error(reverse)
    if text.startswith("<>"):
        return "", False, 2
    try:
        i, had_route = 1, False
        if text.startswith("@", i):  # A-d-l ":" — RFC 5321 §4.1.2
            had_route = True
            while True:
                i = _domain_end(text, i + 1, literal=False)
                if text[i] == "," and text.startswith("@", i + 1):
                    i += 1
                elif text[i] == ":":
                    i += 1
                    break
                else:
                    raise ValueError("bad source route")
        start = i
        i = _local_part_end(text, i)
        if text[i] == "@":
            i = _domain_end(text, i + 1, literal=True)
        elif reverse or text[start:i].lower() != "postmaster":
            raise ValueError("missing domain")
        if text[i] != ">":
            raise ValueError("missing >")
    except (IndexError, ValueError):
        raise _path_error(reverse) from None
    return text[start:i], had_route, i + 1


def split_address(address: str) -> tuple[str, str]:
    """(local part as sent, domain) of a parsed path; the domain is "" for ``<Postmaster>``.

    A domain never contains "@", so the last "@" separates them even when a quoted local part
    contains one (``"user@remote"@local``)."""
    local, _, domain = address.rpartition("@")
    return (local, domain) if local else (address, "")


def local_part_value(local: str) -> str:
    """The value of a local part: quotes and backslash escapes removed. RFC 5321 §4.1.2 makes
    ``"john"@x`` and ``john@x`` the same mailbox."""
    if not local.startswith('"'):
        return local
    return re.sub(r"\\(.)", r"\1", local[1:-1])


def is_address_literal(domain: str) -> bool:
    """``[192.0.2.1]`` or ``[IPv6:...]`` rather than a domain name."""
    return domain.startswith("[")


def _path_error(reverse: bool) -> PathError:
    message = "Bad sender address syntax" if reverse else "Bad recipient address syntax"
    return PathError(message, reverse_path=reverse)


def _local_part_end(text: str, i: int) -> int:
    """RFC 5321 §4.1.2 Local-part = Dot-string / Quoted-string (RFC 6531 adds UTF-8)."""
    if text[i] == '"':
        i += 1
        while text[i] != '"':
            if text[i] == "\\":
                if not " " <= text[i + 1] <= "~":
                    raise ValueError("bad quoted-pair")
                i += 2
            elif text[i] >= " " and text[i] != "\\":
                i += 1
            else:
                raise ValueError("bad qtext")
        return i + 1
    while True:
        start = i
        while text[i] in _ATEXT or text[i] > "\x7f":
            i += 1
        if i == start:
            raise ValueError("empty atom")
        if text[i] != ".":
            return i
        i += 1


def _domain_end(text: str, i: int, *, literal: bool) -> int:
    if literal and text[i] == "[":
        end = text.index("]", i)
        if not _is_address_literal_body(text[i + 1 : end]):
            raise ValueError("bad address literal")
        return end + 1
    while True:
        start = i
        while text[i] in _LET_DIG or text[i] == "-" or text[i] > "\x7f":
            i += 1
        if i == start or text[start] == "-" or text[i - 1] == "-":
            raise ValueError("bad domain label")
        if text[i] != ".":
            return i
        i += 1


def _is_address_literal_body(body: str) -> bool:
    if body[:5].lower() == "ipv6:":
        if "%" in body:  # zone ids are not part of RFC 5321 IPv6-addr
            return False
        try:
            ipaddress.IPv6Address(body[5:])
        except ValueError:
            return False
        return True
    parts = body.split(".")
    return len(parts) == 4 and all(is_number(p, 3) and int(p) <= 255 for p in parts)


def parse_params(text: str, allowed: frozenset[str]) -> dict[str, str | None]:
    """The esmtp-params after a path: upper-cased keyword → raw value (None when absent)."""
    if text and not text.startswith(" "):
        raise ArgumentError("Garbage after address")
    params: dict[str, str | None] = {}
    for item in text.split(" "):
        if not item:
            continue
        keyword, equals, value = item.partition("=")
        if not _KEYWORD.fullmatch(keyword) or (equals and not _VALUE.fullmatch(value)):
            raise ArgumentError("Syntax error in parameters")
        keyword = keyword.upper()
        if keyword in params:
            raise ArgumentError(f"Duplicate {keyword} parameter")
        if keyword not in allowed:
            raise UnknownParameter("Parameter not recognized or not implemented")
        if not _PARAM_VALID[keyword](value if equals else None):
            raise ArgumentError(f"Invalid {keyword} parameter")
        params[keyword] = value if equals else None
    return params


def _is_xtext(value: str | None, max_length: int) -> bool:
    if value is None or len(value) > max_length:
        return False
    try:
        xtext_decode(value)
    except ValueError:  # also UnicodeDecodeError: "+FF" alone is not UTF-8
        return False
    return True


def _is_notify(value: str | None) -> bool:
    if value is None:
        return False
    words = value.upper().split(",")
    if words == ["NEVER"]:
        return True
    return len(set(words)) == len(words) and set(words) <= {"SUCCESS", "FAILURE", "DELAY"}


def _is_orcpt(value: str | None) -> bool:
    if value is None:
        return False
    kind, semicolon, address = value.partition(";")
    return (
        bool(semicolon and kind and address)
        and all(c in _ATEXT for c in kind)
        and _is_xtext(address, 500)
    )


_PARAM_VALID: dict[str, Callable[[str | None], bool]] = {
    "SIZE": lambda v: v is not None and is_number(v, 20),
    "BODY": lambda v: v is not None and v.upper() in {b.value for b in BodyType},
    "SMTPUTF8": lambda v: v is None,
    "RET": lambda v: v is not None and v.upper() in {r.value for r in DsnReturn},
    "ENVID": lambda v: _is_xtext(v, 100),  # RFC 3461 §4.4: at most 100 characters
    "AUTH": lambda v: _is_xtext(v, 500),
    "NOTIFY": _is_notify,
    "ORCPT": _is_orcpt,
}


def xtext_decode(text: str) -> str:
    """RFC 3461 §4: ``+XX`` is a hex-encoded octet; other printable ASCII but "+" and "=" is
    literal. Raises ValueError."""
    if not _XTEXT.fullmatch(text):
        raise ValueError("invalid xtext")
    raw = re.sub(r"\+([0-9A-Fa-f]{2})", lambda m: chr(int(m.group(1), 16)), text)
    return raw.encode("latin-1").decode("utf-8")


def xtext_encode(text: str) -> str:
    return "".join(
        chr(b) if 33 <= b <= 126 and b not in (0x2B, 0x3D) else f"+{b:02X}"
        for b in text.encode("utf-8")
    )
