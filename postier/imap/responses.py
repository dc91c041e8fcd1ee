"""Server responses as values, and their serialization (RFC 9051 §7, §9).

How this works
--------------
A response is one of :class:`Tagged`, :class:`UntaggedStatus`, :class:`Preauth`, :class:`Bye`,
:class:`Untagged` (any other ``*`` line: a sequence of values) or :class:`Continuation`.
:func:`serialize` turns one into a list of byte chunks: literal payloads are passed through as
the caller's own ``bytes`` objects rather than copied into one buffer, so a 30 MB BODY[] is
written with ``writelines`` without another 30 MB copy.

Values in an :class:`Untagged` are written by type:

* ``None`` → ``NIL``; ``int`` → number; :class:`Atom` → its text verbatim (``FLAGS``,
  ``\\Seen``, ``BODY[HEADER.FIELDS (From)]``); tuple/list → parenthesized, space separated.
* ``str`` / ``bytes`` → a *string*: quoted when every octet may appear in a quoted string and
  it is not long, else a literal (RFC 9051 §4.3). In IMAP4rev1 a quoted string holds 7-bit text
  only; when the client uses IMAP4rev2 or enabled UTF8=ACCEPT (``utf8=True``), UTF-8 may be
  quoted too (RFC 9051 §4.3, RFC 6855). CR, LF and NUL always force a literal.
* :class:`AString` → an atom when it is one (and not ``NIL``), else a string: for positions the
  grammar types ``astring``, such as mailbox names in LIST.
* :class:`Literal` → always a literal; ``binary=True`` writes ``~{n}`` (literal8, RFC 3516) when
  the data holds NUL. NUL anywhere else cannot be expressed and raises ValueError: the fetch
  layer must send such content through BINARY or clean it first.

Human-readable text after a status or code is not a string in the grammar: CR/LF are replaced by
spaces and, for IMAP4rev1, non-ASCII by ``?``, so no caller can break the line structure.
"""

from __future__ import annotations

import binascii
import enum
from dataclasses import dataclass, field
from datetime import datetime, timezone, tzinfo

from postier.imap.wire import ATOM_CHARS
from postier.types import UidSet

# fmt: off
__all__ = [
    "AString", "AppendUidCode", "Atom", "BadCharsetCode", "BadEventCode", "Bye", "CapabilityCode",
    "Continuation", "CopyUidCode", "HighestModSeqCode", "Literal", "MailboxIdCode",
    "ModifiedCode", "PermanentFlagsCode", "Preauth", "Response", "ResponseCode", "SimpleCode",
    "Status", "Tagged", "UidNextCode", "UidValidityCode", "UnseenCode", "Untagged",
    "UntaggedStatus", "Value", "format_datetime", "serialize",
]
# fmt: on

MAX_QUOTED = 1024  # longer strings go as literals, so no client line buffer must hold them


class Status(enum.StrEnum):
    OK = "OK"
    NO = "NO"
    BAD = "BAD"


@dataclass(frozen=True, slots=True)
class Atom:
    """Protocol text written verbatim; never client-supplied text."""

    text: str


@dataclass(frozen=True, slots=True)
class AString:
    text: str


@dataclass(frozen=True, slots=True)
class Literal:
    data: bytes
    binary: bool = False


Value = None | int | str | bytes | Atom | AString | Literal | tuple["Value", ...] | list["Value"]


class SimpleCode(enum.StrEnum):
    """Response codes without arguments (RFC 9051 §7.1 and the extensions named)."""

    ALERT = "ALERT"
    ALREADYEXISTS = "ALREADYEXISTS"
    AUTHENTICATIONFAILED = "AUTHENTICATIONFAILED"
    AUTHORIZATIONFAILED = "AUTHORIZATIONFAILED"
    CANNOT = "CANNOT"
    CLIENTBUG = "CLIENTBUG"
    CLOSED = "CLOSED"  # RFC 7162 §3.2.11
    COMPRESSIONACTIVE = "COMPRESSIONACTIVE"  # RFC 4978
    CONTACTADMIN = "CONTACTADMIN"
    CORRUPTION = "CORRUPTION"
    EXPIRED = "EXPIRED"
    EXPUNGEISSUED = "EXPUNGEISSUED"
    HASCHILDREN = "HASCHILDREN"
    INUSE = "INUSE"
    LIMIT = "LIMIT"
    NOMODSEQ = "NOMODSEQ"  # RFC 7162 §3.1.2.2
    NONEXISTENT = "NONEXISTENT"
    NOPERM = "NOPERM"
    NOTIFICATIONOVERFLOW = "NOTIFICATIONOVERFLOW"  # RFC 5465
    NOTSAVED = "NOTSAVED"  # RFC 5182
    OVERQUOTA = "OVERQUOTA"
    PARSE = "PARSE"
    PRIVACYREQUIRED = "PRIVACYREQUIRED"
    READ_ONLY = "READ-ONLY"
    READ_WRITE = "READ-WRITE"
    SERVERBUG = "SERVERBUG"
    TOOBIG = "TOOBIG"  # RFC 7889, RFC 4469
    TRYCREATE = "TRYCREATE"
    UIDNOTSTICKY = "UIDNOTSTICKY"
    UNAVAILABLE = "UNAVAILABLE"
    UNKNOWN_CTE = "UNKNOWN-CTE"
    USEATTR = "USEATTR"  # RFC 6154


@dataclass(frozen=True, slots=True)
class CapabilityCode:
    capabilities: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PermanentFlagsCode:
    flags: tuple[str, ...]  # may include "\\*"


@dataclass(frozen=True, slots=True)
class UidValidityCode:
    uidvalidity: int


@dataclass(frozen=True, slots=True)
class UidNextCode:
    uidnext: int


@dataclass(frozen=True, slots=True)
class UnseenCode:  # IMAP4rev1 SELECT: first unseen sequence number
    number: int


@dataclass(frozen=True, slots=True)
class HighestModSeqCode:
    modseq: int


@dataclass(frozen=True, slots=True)
class AppendUidCode:  # RFC 4315 §3, RFC 9051 §7.1
    uidvalidity: int
    uids: UidSet


@dataclass(frozen=True, slots=True)
class CopyUidCode:
    """Source and destination UIDs pair up in ascending order: copy in UID order."""

    uidvalidity: int
    source: UidSet
    destination: UidSet


@dataclass(frozen=True, slots=True)
class ModifiedCode:  # RFC 7162 §3.1.3: sequence numbers or UIDs that failed UNCHANGEDSINCE
    numbers: UidSet


@dataclass(frozen=True, slots=True)
class BadCharsetCode:
    charsets: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class BadEventCode:  # RFC 5465: the events the server supports
    events: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class MailboxIdCode:  # RFC 8474
    mailbox_id: str


# fmt: off
ResponseCode = (
    SimpleCode | CapabilityCode | PermanentFlagsCode | UidValidityCode | UidNextCode
    | UnseenCode | HighestModSeqCode | AppendUidCode | CopyUidCode | ModifiedCode
    | BadCharsetCode | BadEventCode | MailboxIdCode
)
# fmt: on


@dataclass(frozen=True, slots=True)
class Tagged:
    tag: str
    status: Status
    text: str
    code: ResponseCode | None = None


@dataclass(frozen=True, slots=True)
class UntaggedStatus:
    status: Status
    text: str
    code: ResponseCode | None = None


@dataclass(frozen=True, slots=True)
class Preauth:
    text: str
    code: ResponseCode | None = None


@dataclass(frozen=True, slots=True)
class Bye:
    text: str
    code: ResponseCode | None = None


@dataclass(frozen=True, slots=True)
class Untagged:
    """``* `` followed by the values separated by spaces: ``Untagged((3, Atom("EXISTS")))``."""

    values: tuple[Value, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class Continuation:
    """``+ text``, or ``+ base64`` of a SASL challenge when ``data`` is set."""

    text: str = ""
    data: bytes | None = None


Response = Tagged | UntaggedStatus | Preauth | Bye | Untagged | Continuation

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun",
           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")  # fmt: skip
_QUOTED_7BIT = frozenset(range(0x01, 0x80)) - frozenset(b"\r\n")


_TWO_DIGITS = tuple(f"{n:02d}" for n in range(100))


def format_datetime(moment: datetime) -> str:
    """``dd-Mon-yyyy hh:mm:ss +zzzz`` for INTERNALDATE (RFC 9051 §9 date-time), unquoted."""
    two = _TWO_DIGITS
    year = moment.year
    return (f"{two[moment.day]}-{_MONTHS[moment.month - 1]}-"
            f"{year if year >= 1000 else f'{year:04d}'} {two[moment.hour]}:{two[moment.minute]}:"
            f"{two[moment.second]} {_zone(moment)}")


_FIXED_ZONES: dict[tzinfo | None, str] = {}  # fixed-offset zones (what the store returns)


def _zone(moment: datetime) -> str:
    zone = moment.tzinfo
    text = _FIXED_ZONES.get(zone)
    if text is None:
        offset = moment.utcoffset()
        minutes = int(offset.total_seconds()) // 60 if offset is not None else 0
        sign = "-" if minutes < 0 else "+"
        minutes = abs(minutes)
        text = f"{sign}{minutes // 60:02d}{minutes % 60:02d}"
        if (zone is None or type(zone) is timezone) and len(_FIXED_ZONES) < 256:
            _FIXED_ZONES[zone] = text
    return text


def serialize(response: Response, *, utf8: bool = False) -> list[bytes]:
    """The response as chunks to write in order; literal payloads are not copied."""
    out = _Writer(utf8)
    match response:
        case Tagged(tag, status, text, code):
            out.text(f"{tag} {status}")
            out.status_text(code, text)
        case UntaggedStatus(status, text, code):
            out.text(f"* {status}")
            out.status_text(code, text)
        case Preauth(text, code):
            out.text("* PREAUTH")
            out.status_text(code, text)
        case Bye(text, code):
            out.text("* BYE")
            out.status_text(code, text)
        case Untagged(values):
            out.text("*")
            for value in values:
                out.text(" ")
                out.value(value)
        case Continuation(text, data):
            if data is not None:
                out.raw(b"+ " + binascii.b2a_base64(data, newline=False))
            else:
                out.text("+ ")
                out.human(text or "ready")
    return out.finish()


class _Writer:
    __slots__ = ("_buffer", "_chunks", "_utf8")

    def __init__(self, utf8: bool) -> None:
        self._utf8 = utf8
        self._chunks: list[bytes] = []
        self._buffer = bytearray()

    def finish(self) -> list[bytes]:
        self._buffer += b"\r\n"
        self._chunks.append(bytes(self._buffer))
        return self._chunks

    def raw(self, data: bytes) -> None:
        self._buffer += data

    def text(self, text: str) -> None:
        self._buffer += text.encode("ascii")

    def human(self, text: str) -> None:
        """resp-text: one line; UTF-8 only for IMAP4rev2/UTF8=ACCEPT clients."""
        text = text.replace("\r", " ").replace("\n", " ").replace("\x00", " ")
        if not self._utf8:
            text = text.encode("ascii", "replace").decode("ascii")
        self._buffer += text.encode("utf-8")

    def status_text(self, code: ResponseCode | None, text: str) -> None:
        if code is not None:
            self._buffer += b" ["
            self.code(code)
            self._buffer += b"]"
        # IMAP4rev1 requires text after the status (RFC 3501 §9 resp-text).
        self._buffer += b" "
        self.human(text or "done")

    def code(self, code: ResponseCode) -> None:
        match code:
            case SimpleCode():
                self.text(code.value)
            case CapabilityCode(capabilities):
                self.text(" ".join(("CAPABILITY", *capabilities)))
            case PermanentFlagsCode(flags):
                self.text("PERMANENTFLAGS (" + " ".join(flags) + ")")
            case UidValidityCode(number):
                self.text(f"UIDVALIDITY {number}")
            case UidNextCode(number):
                self.text(f"UIDNEXT {number}")
            case UnseenCode(number):
                self.text(f"UNSEEN {number}")
            case HighestModSeqCode(number):
                self.text(f"HIGHESTMODSEQ {number}")
            case AppendUidCode(uidvalidity, uids):
                self.text(f"APPENDUID {uidvalidity} {uids}")
            case CopyUidCode(uidvalidity, source, destination):
                self.text(f"COPYUID {uidvalidity} {source} {destination}")
            case ModifiedCode(numbers):
                self.text(f"MODIFIED {numbers}")
            case BadCharsetCode(charsets):
                self.text("BADCHARSET" + (" (" + " ".join(charsets) + ")" if charsets else ""))
            case BadEventCode(events):
                self.text("BADEVENT (" + " ".join(events) + ")")
            case MailboxIdCode(mailbox_id):
                self.text(f"MAILBOXID ({mailbox_id})")

    def value(self, value: Value) -> None:
        if value is None:
            self._buffer += b"NIL"
        elif isinstance(value, bool):
            raise TypeError("booleans have no IMAP form")
        elif isinstance(value, int):
            self._buffer += b"%d" % value
        elif isinstance(value, str):
            self.string(value.encode("utf-8"))
        elif isinstance(value, bytes):
            self.string(value)
        elif isinstance(value, Atom):
            if "\r" in value.text or "\n" in value.text:
                raise ValueError("atom text must be one line")
            self._buffer += value.text.encode("utf-8")
        elif isinstance(value, AString):
            self.astring(value.text)
        elif isinstance(value, Literal):
            self.literal(value.data, binary=value.binary)
        else:
            self._buffer += b"("
            for index, item in enumerate(value):
                if index:
                    self._buffer += b" "
                self.value(item)
            self._buffer += b")"

    def astring(self, text: str) -> None:
        data = text.encode("utf-8")
        if data and data.upper() != b"NIL" and all(b in ATOM_CHARS for b in data):
            self._buffer += data
        else:
            self.string(data)

    def string(self, data: bytes) -> None:
        if len(data) <= MAX_QUOTED and self._quotable(data):
            self._buffer += b'"' + data.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'
        else:
            self.literal(data, binary=False)

    def _quotable(self, data: bytes) -> bool:
        if data.isascii():
            return all(b in _QUOTED_7BIT for b in data)
        # 8-bit data: quoted only as UTF-8, for clients that accept it (RFC 9051 §4.3).
        if not self._utf8 or b"\r" in data or b"\n" in data or b"\x00" in data:
            return False
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return True

    def literal(self, data: bytes, *, binary: bool) -> None:
        has_nul = b"\x00" in data
        if has_nul and not binary:
            raise ValueError("NUL can only be sent in a literal8 (RFC 3516)")
        self._buffer += b"~{%d}\r\n" % len(data) if has_nul else b"{%d}\r\n" % len(data)
        if len(data) < 4096:
            self._buffer += data  # small: one more copy is cheaper than one more chunk
            return
        self._chunks.append(bytes(self._buffer))
        self._chunks.append(data)
        self._buffer = bytearray()
