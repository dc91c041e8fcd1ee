"""Serialization of responses: status lines, codes, and the string encoding rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from postier.imap.responses import (
    AppendUidCode,
    AString,
    Atom,
    BadCharsetCode,
    BadEventCode,
    Bye,
    CapabilityCode,
    Continuation,
    CopyUidCode,
    HighestModSeqCode,
    Literal,
    MailboxIdCode,
    ModifiedCode,
    PermanentFlagsCode,
    Preauth,
    Response,
    SimpleCode,
    Status,
    Tagged,
    UidNextCode,
    UidValidityCode,
    UnseenCode,
    Untagged,
    UntaggedStatus,
    Value,
    format_datetime,
    serialize,
)
from postier.types import UidSet


def wire(response: Response, *, utf8: bool = False) -> bytes:
    return b"".join(serialize(response, utf8=utf8))


def value(item: Value, *, utf8: bool = False) -> bytes:
    return wire(Untagged((item,)), utf8=utf8)[2:-2]


def test_status_responses() -> None:
    assert wire(Tagged("a1", Status.OK, "LOGIN completed")) == b"a1 OK LOGIN completed\r\n"
    assert wire(Tagged("a2", Status.NO, "no such mailbox", SimpleCode.NONEXISTENT)) == (
        b"a2 NO [NONEXISTENT] no such mailbox\r\n"
    )
    assert wire(UntaggedStatus(Status.BAD, "bad command")) == b"* BAD bad command\r\n"
    assert wire(Preauth("welcome back")) == b"* PREAUTH welcome back\r\n"
    assert wire(Bye("server shutting down", SimpleCode.UNAVAILABLE)) == (
        b"* BYE [UNAVAILABLE] server shutting down\r\n"
    )


def test_text_is_never_empty_and_never_breaks_the_line() -> None:
    assert wire(Tagged("a", Status.OK, "")) == b"a OK done\r\n"
    assert wire(Tagged("a", Status.BAD, "x\r\n* OK injected")) == b"a BAD x  * OK injected\r\n"
    assert wire(Tagged("a", Status.OK, "grüß")) == b"a OK gr??\r\n"
    assert wire(Tagged("a", Status.OK, "grüß"), utf8=True) == "a OK grüß\r\n".encode()


@pytest.mark.parametrize(
    ("code", "text"),
    [
        (SimpleCode.READ_WRITE, b"READ-WRITE"),
        (SimpleCode.UNKNOWN_CTE, b"UNKNOWN-CTE"),
        (CapabilityCode(("IMAP4rev2", "IMAP4rev1", "AUTH=PLAIN")),
         b"CAPABILITY IMAP4rev2 IMAP4rev1 AUTH=PLAIN"),
        (PermanentFlagsCode(("\\Seen", "\\Deleted", "\\*")),
         b"PERMANENTFLAGS (\\Seen \\Deleted \\*)"),
        (PermanentFlagsCode(()), b"PERMANENTFLAGS ()"),
        (UidValidityCode(3857529045), b"UIDVALIDITY 3857529045"),
        (UidNextCode(4392), b"UIDNEXT 4392"),
        (UnseenCode(12), b"UNSEEN 12"),
        (HighestModSeqCode(715194045007), b"HIGHESTMODSEQ 715194045007"),
        (AppendUidCode(38505, UidSet.of([3955])), b"APPENDUID 38505 3955"),
        (CopyUidCode(38505, UidSet.of([304, 319, 320, 321]), UidSet.span(3956, 3959)),
         b"COPYUID 38505 304,319:321 3956:3959"),
        (ModifiedCode(UidSet.of([7, 9])), b"MODIFIED 7,9"),
        (BadCharsetCode(("UTF-8", "US-ASCII")), b"BADCHARSET (UTF-8 US-ASCII)"),
        (BadCharsetCode(), b"BADCHARSET"),
        (BadEventCode(("MessageNew", "MessageExpunge")), b"BADEVENT (MessageNew MessageExpunge)"),
        (MailboxIdCode("F2212ea87-6097-4256-9d51-71338625"),
         b"MAILBOXID (F2212ea87-6097-4256-9d51-71338625)"),
    ],
)  # fmt: skip
def test_response_codes(code: object, text: bytes) -> None:
    assert wire(Tagged("t", Status.OK, "x", code)) == b"t OK [" + text + b"] x\r\n"  # type: ignore[arg-type]


def test_untagged_values() -> None:
    assert wire(Untagged((172, Atom("EXISTS")))) == b"* 172 EXISTS\r\n"
    flags = (Atom("\\Answered"), Atom("\\Seen"), Atom("$Forwarded"))
    assert wire(Untagged((Atom("FLAGS"), flags))) == b"* FLAGS (\\Answered \\Seen $Forwarded)\r\n"
    listing = Untagged((Atom("LIST"), (Atom("\\HasNoChildren"),), "/", AString("INBOX")))
    assert wire(listing) == b'* LIST (\\HasNoChildren) "/" INBOX\r\n'
    fetch = Untagged((12, Atom("FETCH"), (Atom("UID"), 4827313, Atom("BODY[]"), None)))
    assert wire(fetch) == b"* 12 FETCH (UID 4827313 BODY[] NIL)\r\n"
    assert wire(Untagged((Atom("SEARCH"),))) == b"* SEARCH\r\n"
    assert value([]) == b"()"


@pytest.mark.parametrize(
    ("text", "rev1", "rev2"),
    [
        ("plain", b'"plain"', b'"plain"'),
        ("", b'""', b'""'),
        ('say "hi" \\o/', b'"say \\"hi\\" \\\\o/"', b'"say \\"hi\\" \\\\o/"'),
        ("NIL", b'"NIL"', b'"NIL"'),
        ("Grüße", b"{7}\r\nGr\xc3\xbc\xc3\x9fe", '"Grüße"'.encode()),
        ("two\r\nlines", b"{10}\r\ntwo\r\nlines", b"{10}\r\ntwo\r\nlines"),
        ("x" * 1025, b"{1025}\r\n" + b"x" * 1025, b"{1025}\r\n" + b"x" * 1025),
    ],
)
def test_string_encoding(text: str, rev1: bytes, rev2: bytes) -> None:
    assert value(text) == rev1
    assert value(text, utf8=True) == rev2


def test_bytes_strings() -> None:
    assert value(b"ascii") == b'"ascii"'
    assert value(b"\xff\xfe", utf8=True) == b"{2}\r\n\xff\xfe"  # not UTF-8: literal
    assert value(b"tab\there") == b'"tab\there"'


def test_astring_prefers_atoms() -> None:
    assert value(AString("INBOX")) == b"INBOX"
    assert value(AString("Sent Items")) == b'"Sent Items"'
    assert value(AString("a]b")) == b'"a]b"'
    assert value(AString("nil")) == b'"nil"'
    assert value(AString("")) == b'""'
    assert value(AString("&ZeVnLIqe-")) == b"&ZeVnLIqe-"
    assert value(AString("*")) == b'"*"'


def test_literals_and_literal8() -> None:
    assert value(Literal(b"hi")) == b"{2}\r\nhi"
    assert value(Literal(b"a\x00b", binary=True)) == b"~{3}\r\na\x00b"
    assert value(Literal(b"ab", binary=True)) == b"{2}\r\nab"  # literal8 only when needed
    with pytest.raises(ValueError, match="literal8"):
        value(b"a\x00b")
    with pytest.raises(ValueError, match="literal8"):
        value(Literal(b"a\x00b"))


def test_large_literals_are_not_copied() -> None:
    body = b"x" * 100_000
    chunks = serialize(Untagged((1, Atom("FETCH"), (Atom("BODY[]"), Literal(body)))))
    assert any(chunk is body for chunk in chunks)
    assert b"".join(chunks) == b"* 1 FETCH (BODY[] {100000}\r\n" + body + b")\r\n"


def test_continuations() -> None:
    assert wire(Continuation()) == b"+ ready\r\n"
    assert wire(Continuation("go ahead")) == b"+ go ahead\r\n"
    assert wire(Continuation(data=b"\x00challenge")) == b"+ AGNoYWxsZW5nZQ==\r\n"
    assert wire(Continuation(data=b"")) == b"+ \r\n"


def test_atoms_cannot_smuggle_lines() -> None:
    with pytest.raises(ValueError):
        value(Atom("X\r\n* BYE"))
    with pytest.raises(TypeError):
        value(True)


def test_format_datetime() -> None:
    moment = datetime(2024, 1, 5, 9, 3, 7, tzinfo=timezone(timedelta(hours=-7, minutes=-30)))
    assert format_datetime(moment) == "05-Jan-2024 09:03:07 -0730"
    assert format_datetime(datetime(1994, 2, 1, tzinfo=UTC)) == "01-Feb-1994 00:00:00 +0000"


def test_format_datetime_zones() -> None:
    from zoneinfo import ZoneInfo

    paris = ZoneInfo("Europe/Paris")  # not a fixed offset: summer and winter differ
    assert format_datetime(datetime(2024, 7, 1, 12, tzinfo=paris)) == "01-Jul-2024 12:00:00 +0200"
    assert format_datetime(datetime(2024, 1, 1, 12, tzinfo=paris)) == "01-Jan-2024 12:00:00 +0100"
    assert format_datetime(datetime(999, 2, 3)) == "03-Feb-0999 00:00:00 +0000"
    east = timezone(timedelta(hours=13, minutes=45))
    assert format_datetime(datetime(2024, 12, 31, 23, 59, 59, tzinfo=east)) == \
        "31-Dec-2024 23:59:59 +1345"
