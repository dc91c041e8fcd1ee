"""Cursor over one framed command: the lexical layer of the RFC 9051 §9 grammar.

How this works
--------------
A :class:`Reader` walks the line pieces of a :class:`~postier.imap.wire.FramedCommand`. Where a
piece ends and a literal follows, :meth:`Reader.peek` answers :data:`LITERAL`, and only the
string readers consume it, so a literal can never stand in for an atom or a parenthesis.
Every reader either returns a value and advances, or raises :class:`ParseError` with a message
the client will see after ``BAD``. Command grammars are built from these in the sibling modules.

The byte classes follow RFC 9051 §9: ``atom-specials`` are ``( ) { SP CTL % * " \\ ]``;
ASTRING-CHAR adds ``]``; list-mailbox adds ``%`` and ``*``. Quoted strings may hold UTF-8
(RFC 9051 §4.3; also accepted from IMAP4rev1 clients, which send it in SEARCH and LOGIN in
practice) but never CR, LF or NUL.
"""

from __future__ import annotations

import codecs
from datetime import date, datetime, timedelta, timezone

from postier.imap.commands import STAR, SequenceRange, SequenceSet, Star
from postier.imap.wire import ATOM_CHARS, TAG_CHARS, FramedCommand
from postier.types import normalize_flag

__all__ = ["ATOM_CHARS", "END", "LITERAL", "SEARCH_CHARSETS", "ParseError", "Reader"]

END = -1
LITERAL = -2

MAX_NUMBER = 2**32 - 1  # number, nz-number (RFC 9051 §9)
MAX_NUMBER64 = 2**63 - 1  # number64, mod-sequence-value
MAX_DEPTH = 64  # nesting of search keys, so hostile input cannot exhaust the stack

ASTRING_CHARS = ATOM_CHARS | {ord("]")}
LIST_CHARS = ASTRING_CHARS | {ord("%"), ord("*")}
_DIGITS = frozenset(b"0123456789")
_MONTHS = {m: i for i, m in enumerate(
    (b"JAN", b"FEB", b"MAR", b"APR", b"MAY", b"JUN",
     b"JUL", b"AUG", b"SEP", b"OCT", b"NOV", b"DEC"), start=1)}  # fmt: skip

# SEARCH CHARSET values we decode. RFC 9051 §6.4.4 requires US-ASCII and UTF-8; the others are
# the charsets old clients still name. A Python codec lookup alone would also accept
# bytes-to-bytes codecs such as "zlib", so the list is explicit. US-ASCII decodes as UTF-8, its
# superset, because clients that name it (or nothing) still send UTF-8 text.
_CHARSETS = {
    "US-ASCII": "utf-8", "UTF-8": "utf-8", "ISO-8859-1": "latin-1", "ISO-8859-2": "iso8859-2",
    "ISO-8859-15": "iso8859-15", "WINDOWS-1252": "cp1252", "KOI8-R": "koi8-r",
}  # fmt: skip
SEARCH_CHARSETS = tuple(_CHARSETS)


class ParseError(Exception):
    """The command does not follow the grammar; answered ``BAD message`` (or ``NO`` + code).

    ``code`` names a response code for the answer (``BADCHARSET``); ``no`` asks for a tagged
    NO instead of BAD where an RFC says so (unsupported charset, RFC 9051 §6.4.4).
    """

    def __init__(self, message: str, *, code: str | None = None, no: bool = False) -> None:
        message = message[:200]  # messages may quote client input; keep answers short
        super().__init__(message)
        self.message = message
        self.code = code
        self.no = no
        self.tag: str | None = None  # set by parse_command once the tag is known


def charset_codec(charset: str) -> str:
    codec = _CHARSETS.get(charset.upper())
    if codec is None:
        raise ParseError(f"unsupported charset {charset}", code="BADCHARSET", no=True)
    return codecs.lookup(codec).name


class Reader:
    __slots__ = ("_index", "_line", "_lines", "_literals", "_pos", "depth")

    def __init__(self, command: FramedCommand) -> None:
        self._lines = command.lines
        self._literals = command.literals
        self._index = 0
        self._line = command.lines[0]
        self._pos = 0
        self.depth = 0

    # -- positions ------------------------------------------------------------------------

    def peek(self) -> int:
        if self._pos < len(self._line):
            return self._line[self._pos]
        return LITERAL if self._index < len(self._literals) else END

    def peek_is(self, char: str) -> bool:
        return self.peek() == ord(char)

    def peek_digit(self) -> bool:
        return self.peek() in _DIGITS

    def at_end(self) -> bool:
        return self.peek() == END

    def mark(self) -> tuple[int, int]:
        return self._index, self._pos

    def reset(self, mark: tuple[int, int]) -> None:
        self._index, self._pos = mark
        self._line = self._lines[self._index]

    def end(self) -> None:
        if not self.at_end():
            raise ParseError("unexpected characters at end of command")

    # -- punctuation ----------------------------------------------------------------------

    def expect(self, char: str) -> None:
        if not self.peek_is(char):
            raise ParseError(f"expected {_describe(char)}")
        self._pos += 1

    def accept(self, char: str) -> bool:
        if self.peek_is(char):
            self._pos += 1
            return True
        return False

    def sp(self) -> None:
        self.expect(" ")

    def open(self) -> None:
        self.expect("(")

    def close(self) -> bool:
        """Consume ``)`` and return True, or consume a separating SP and return False."""
        if self.accept(")"):
            return True
        self.sp()
        return False

    # -- atoms and numbers ----------------------------------------------------------------

    def take(self, allowed: frozenset[int]) -> bytes:
        start = self._pos
        line = self._line
        while self._pos < len(line) and line[self._pos] in allowed:
            self._pos += 1
        return line[start : self._pos]

    def atom(self, what: str = "atom") -> str:
        text = self.take(ATOM_CHARS)
        if not text:
            raise ParseError(f"expected {what}")
        return text.decode("ascii")

    def keyword(self, what: str = "keyword") -> str:
        """An atom, upper-cased: command names and options are case-insensitive."""
        return self.atom(what).upper()

    def accept_keyword(self, word: str) -> bool:
        """Consume ``word SP`` (any case) if that is what follows, for optional clauses."""
        mark = self.mark()
        if self.take(ATOM_CHARS).upper() == word.encode() and self.accept(" "):
            return True
        self.reset(mark)
        return False

    def tag(self) -> str:
        text = self.take(TAG_CHARS)
        if not text:
            raise ParseError("missing or invalid tag")
        return text.decode("ascii")

    def number(self, *, nonzero: bool = False, maximum: int = MAX_NUMBER) -> int:
        digits = self.take(_DIGITS)
        if not digits:
            raise ParseError("expected number")
        if len(digits) > 19 or int(digits) > maximum:
            raise ParseError("number too large")
        value = int(digits)
        if nonzero and value == 0:
            raise ParseError("expected non-zero number")
        return value

    def number64(self, *, nonzero: bool = False) -> int:
        return self.number(nonzero=nonzero, maximum=MAX_NUMBER64)

    # -- strings --------------------------------------------------------------------------

    def quoted(self) -> bytes:
        self.expect('"')
        out = bytearray()
        line = self._line
        while self._pos < len(line):
            char = line[self._pos]
            self._pos += 1
            if char == 0x22:
                return bytes(out)
            if char == 0x5C:
                if self._pos >= len(line) or line[self._pos] not in b'"\\':
                    raise ParseError("invalid escape in quoted string")
                char = line[self._pos]
                self._pos += 1
            elif char in b"\r\n\x00":
                raise ParseError("invalid character in quoted string")
            out.append(char)
        raise ParseError("unterminated quoted string")

    def literal(self, *, binary: bool = False) -> tuple[bytes, bool]:
        """The literal that follows; ``binary`` allows literal8. Returns (data, was_literal8)."""
        if self.peek() != LITERAL:
            raise ParseError("expected literal")
        literal = self._literals[self._index]
        if literal.binary and not binary:
            raise ParseError("literal8 not allowed here")
        if not literal.binary and b"\x00" in literal.data:
            raise ParseError("NUL in literal")  # CHAR8 excludes NUL (RFC 9051 §9)
        self._index += 1
        self._line = self._lines[self._index]
        self._pos = 0
        return literal.data, literal.binary

    def string(self) -> bytes:
        if self.peek() == LITERAL:
            return self.literal()[0]
        if self.peek_is('"'):
            return self.quoted()
        raise ParseError("expected string")

    def astring(self, what: str = "string") -> str:
        if self.peek() in ASTRING_CHARS:
            return self.take(ASTRING_CHARS).decode("ascii")
        if self.peek() == LITERAL or self.peek_is('"'):
            return utf8(self.string())
        raise ParseError(f"expected {what}")

    def nstring(self) -> str | None:
        if self.peek() in ATOM_CHARS:
            mark = self.mark()
            if self.keyword() == "NIL":
                return None
            self.reset(mark)
        return utf8(self.string())

    def mailbox(self) -> str:
        return self.astring("mailbox name")

    def list_mailbox(self) -> str:
        if self.peek() in LIST_CHARS:
            return self.take(LIST_CHARS).decode("ascii")
        if self.peek() == LITERAL or self.peek_is('"'):
            return utf8(self.string())
        raise ParseError("expected mailbox pattern")

    def charset(self) -> str:
        name = utf8(self.quoted()) if self.peek_is('"') else self.atom("charset")
        return name.upper()

    # -- composite values -----------------------------------------------------------------

    def flag(self) -> str:
        """``\\Seen`` and other system flags (canonical case), or a keyword atom."""
        if self.accept("\\"):
            return normalize_flag("\\" + self.atom("flag"))
        return self.atom("flag")

    def flag_list(self) -> frozenset[str]:
        self.open()
        flags: list[str] = []
        if not self.accept(")"):
            flags.append(self.flag())
            while not self.close():
                flags.append(self.flag())
        return frozenset(flags)

    def sequence_set(self, *, star: bool = True, saved: bool = True) -> SequenceSet:
        """``star``: ``*`` allowed; ``saved``: ``$`` allowed (RFC 5182). Both are not in QRESYNC."""
        if saved and self.accept("$"):
            return SequenceSet(saved=True)
        ranges = [self._sequence_range(star)]
        while self.accept(","):
            ranges.append(self._sequence_range(star))
        return SequenceSet(tuple(ranges))

    def _sequence_range(self, star: bool) -> SequenceRange:
        first = self._sequence_number(star)
        last = self._sequence_number(star) if self.accept(":") else first
        return SequenceRange(first, last)

    def _sequence_number(self, star: bool) -> int | Star:
        if star and self.accept("*"):
            return STAR
        if not self.peek_digit():
            raise ParseError("invalid sequence set")
        return self.number(nonzero=True)

    def date(self) -> date:
        """``1-Feb-1994``, optionally quoted (RFC 9051 §9 date)."""
        quoted = self.accept('"')
        day = self._day()
        self.expect("-")
        month = self._month()
        self.expect("-")
        year = self._digits(4, "year")
        if quoted:
            self.expect('"')
        try:
            return date(year, month, day)
        except ValueError:
            raise ParseError("invalid date") from None

    def date_time(self) -> datetime:
        """``"05-Jan-2024 10:00:00 +0000"`` (RFC 9051 §9 date-time).

        Leniency: the day may be one digit without the leading space the grammar wants, as
        Dovecot's ``imap_parse_datetime`` also accepts: the meaning is unambiguous, and refusing
        it would fail the whole APPEND.
        """
        self.expect('"')
        self.accept(" ")
        day = self._day()
        self.expect("-")
        month = self._month()
        self.expect("-")
        year = self._digits(4, "year")
        self.sp()
        hour = self._digits(2, "hour")
        self.expect(":")
        minute = self._digits(2, "minute")
        self.expect(":")
        second = self._digits(2, "second")
        self.sp()
        sign = -1 if self.accept("-") else 1
        if sign == 1:
            self.expect("+")
        zone = self._digits(4, "zone")
        if zone % 100 >= 60:
            raise ParseError("invalid zone")
        self.expect('"')
        offset = timedelta(hours=zone // 100, minutes=zone % 100)
        try:
            return datetime(year, month, day, hour, minute, second,
                            tzinfo=timezone(sign * offset))  # fmt: skip
        except ValueError:
            raise ParseError("invalid date-time") from None

    def _day(self) -> int:
        digits = self.take(_DIGITS)
        if not 1 <= len(digits) <= 2:
            raise ParseError("invalid day")
        return int(digits)

    def _month(self) -> int:
        month = _MONTHS.get(self.take(ATOM_CHARS - {ord("-")}).upper())
        if month is None:
            raise ParseError("invalid month")
        return month

    def _digits(self, count: int, what: str) -> int:
        digits = self.take(_DIGITS)
        if len(digits) != count:
            raise ParseError(f"invalid {what}")
        return int(digits)

    def astring_list(self) -> list[str]:
        """``"(" astring *(SP astring) ")"``: header field lists, mailbox lists."""
        self.open()
        values = [self.astring()]
        while not self.close():
            values.append(self.astring())
        return values


def utf8(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ParseError("invalid UTF-8 in string") from None


def _describe(char: str) -> str:
    return {" ": "space", '"': "quote"}.get(char, repr(char))
