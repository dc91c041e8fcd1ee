"""Parsing of FETCH, STORE, COPY, MOVE, UID EXPUNGE and APPEND."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from postier.imap.commands import (
    STAR,
    Append,
    AppendMessage,
    BinarySection,
    BinarySize,
    BodySection,
    Copy,
    Fetch,
    FetchAttribute,
    Move,
    Partial,
    Preview,
    Section,
    SectionText,
    SequenceRange,
    SequenceSet,
    Store,
    UidExpunge,
)
from postier.types import FlagOp

from ._support import parse, parse_error

A = FetchAttribute

THUNDERBIRD_FIELDS = (
    "From", "To", "Cc", "Bcc", "Subject", "Date", "Message-ID", "Priority", "X-Priority",
    "References", "Newsgroups", "In-Reply-To", "Content-Type", "Reply-To",
)  # fmt: skip


def test_thunderbird_header_fetch() -> None:
    line = (
        "a UID FETCH 1:* (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (From To Cc Bcc Subject "
        "Date Message-ID Priority X-Priority References Newsgroups In-Reply-To Content-Type "
        "Reply-To)])"
    )
    assert parse(line) == Fetch(
        SequenceSet.of((1, STAR)),
        (A.UID, A.RFC822_SIZE, A.FLAGS,
         BodySection(Section((), SectionText.HEADER_FIELDS, THUNDERBIRD_FIELDS), peek=True)),
        uid=True,
    )  # fmt: skip


def test_mutt_header_fetch_with_lower_case_keywords() -> None:
    line = (
        "a0006 uid fetch 1:30 (UID FLAGS INTERNALDATE RFC822.SIZE "
        "body.peek[header.fields (DATE FROM SENDER SUBJECT TO CC MESSAGE-ID REFERENCES)])"
    )
    command = parse(line)
    assert isinstance(command, Fetch)
    section = command.items[-1]
    assert isinstance(section, BodySection) and section.peek
    assert section.section.fields[0] == "DATE"


def test_fetch_macros_are_expanded() -> None:
    assert parse("a FETCH 1 ALL") == Fetch(
        SequenceSet.of(1), (A.FLAGS, A.INTERNALDATE, A.RFC822_SIZE, A.ENVELOPE)
    )
    assert parse("a FETCH 1 fast") == Fetch(
        SequenceSet.of(1), (A.FLAGS, A.INTERNALDATE, A.RFC822_SIZE)
    )
    full = parse("a FETCH 2:4 FULL")
    assert isinstance(full, Fetch) and full.items[-1] is A.BODY
    assert parse_error("a FETCH 1 (ALL)").message == "unknown fetch item ALL"


def test_single_fetch_items_without_parentheses() -> None:
    assert parse("a FETCH 1 (RFC822)") == Fetch(SequenceSet.of(1), (A.RFC822,))  # imaplib
    assert parse("a UID FETCH 5 BODYSTRUCTURE") == Fetch(
        SequenceSet.of(5), (A.BODYSTRUCTURE,), uid=True
    )


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ("BODY[]", BodySection()),
        ("BODY.PEEK[]<0.10240>", BodySection(partial=Partial(0, 10240), peek=True)),
        ("BODY[TEXT]", BodySection(Section(text=SectionText.TEXT))),
        ("BODY[HEADER]", BodySection(Section(text=SectionText.HEADER))),
        ("BODY[1.2.MIME]", BodySection(Section((1, 2), SectionText.MIME))),
        ("BODY[1.2]<100.200>", BodySection(Section((1, 2)), Partial(100, 200))),
        ("BODY[3.HEADER.FIELDS.NOT (X-Spam \"Received\")]",
         BodySection(Section((3,), SectionText.HEADER_FIELDS_NOT, ("X-Spam", "Received")))),
        ("BINARY[1]", BinarySection((1,))),
        ("BINARY.PEEK[1.1]<0.4096>", BinarySection((1, 1), Partial(0, 4096), peek=True)),
        ("BINARY[]", BinarySection(())),
        ("BINARY.SIZE[2]", BinarySize((2,))),
        ("PREVIEW", Preview()),
        ("PREVIEW (LAZY)", Preview(lazy=True)),
        ("ENVELOPE", A.ENVELOPE),
        ("INTERNALDATE", A.INTERNALDATE),
        ("RFC822.HEADER", A.RFC822_HEADER),
        ("RFC822.TEXT", A.RFC822_TEXT),
        ("BODY", A.BODY),
        ("MODSEQ", A.MODSEQ),
        ("EMAILID", A.EMAILID),
        ("THREADID", A.THREADID),
        ("SAVEDATE", A.SAVEDATE),
    ],
)  # fmt: skip
def test_fetch_items(item: str, expected: object) -> None:
    assert parse(f"a FETCH 1 ({item})") == Fetch(SequenceSet.of(1), (expected,))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("BODY.PEEK", "expected '['"),
        ("BODY[MIME]", "MIME needs a part number"),
        ("BODY[0]", "expected non-zero number"),
        ("BODY[1.]", "invalid section "),
        ("BODY[HEADER.FIELDS ()]", "expected string"),
        ("BODY[HEADER.FIELDS]", "expected space"),
        ("BODY[FOO]", "invalid section FOO"),
        ("BODY[]<5>", "expected '.'"),
        ("BODY[]<0.0>", "expected non-zero number"),
        ("BINARY[TEXT]", "expected number"),
        ("BINARY", "expected '['"),
        ("RFC822.SIZES", "unknown fetch item RFC822.SIZES"),
        ("", "expected fetch item"),
    ],
)
def test_fetch_item_errors(item: str, message: str) -> None:
    assert parse_error(f"a FETCH 1 ({item})").message == message


def test_fetch_modifiers() -> None:
    # Apple Mail and Thunderbird resynchronise flags with CONDSTORE/QRESYNC.
    assert parse("a UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345)") == Fetch(
        SequenceSet.of((1, STAR)), (A.FLAGS,), uid=True, changed_since=12345
    )
    assert parse("a UID FETCH 300:500 (FLAGS) (CHANGEDSINCE 12345 VANISHED)") == Fetch(
        SequenceSet.of((300, 500)), (A.FLAGS,), uid=True, changed_since=12345, vanished=True
    )
    assert parse("a FETCH 1 PREVIEW (CHANGEDSINCE 5)") == Fetch(
        SequenceSet.of(1), (Preview(),), changed_since=5
    )
    assert (
        parse_error("a FETCH 1 (FLAGS) (VANISHED)").message == "unexpected fetch modifier VANISHED"
    )
    assert (
        parse_error("a UID FETCH 1 (FLAGS) (VANISHED)").message == "VANISHED requires CHANGEDSINCE"
    )
    assert parse_error("a FETCH 1 FLAGS (FOO 1)").message == "unexpected fetch modifier FOO"


def test_sequence_sets() -> None:
    command = parse("a FETCH 1,3:5,7:*,*:9,* FLAGS")
    assert isinstance(command, Fetch)
    assert command.sequence == SequenceSet((
        SequenceRange(1, 1), SequenceRange(3, 5), SequenceRange(7, STAR),
        SequenceRange(STAR, 9), SequenceRange(STAR, STAR),
    ))  # fmt: skip
    assert str(command.sequence) == "1,3:5,7:*,*:9,*"
    saved = parse("a UID FETCH $ (UID)")
    assert isinstance(saved, Fetch) and saved.sequence == SequenceSet(saved=True)


@pytest.mark.parametrize(
    ("sequence", "message"),
    [
        ("0", "expected non-zero number"),
        ("4294967296", "number too large"),
        ("1:", "invalid sequence set"),
        ("1,,2", "invalid sequence set"),
        ("$,1", "expected space"),
        ("a", "invalid sequence set"),
    ],
)
def test_sequence_set_errors(sequence: str, message: str) -> None:
    assert parse_error(f"a FETCH {sequence} FLAGS").message == message


def test_sequence_set_resolution() -> None:
    assert str(SequenceSet.of((1, STAR)).resolve(3)) == "1:3"
    assert str(SequenceSet.of((5, STAR)).resolve(3)) == "3:5"
    assert str(SequenceSet.of(STAR, 2).resolve(9)) == "2,9"
    assert not SequenceSet.of(STAR).resolve(0)
    with pytest.raises(ValueError):
        SequenceSet(saved=True).resolve(3)


def test_store_forms() -> None:
    assert parse("a UID STORE 42 +FLAGS (\\Seen)") == Store(
        SequenceSet.of(42), FlagOp.ADD, frozenset({"\\Seen"}), uid=True
    )
    assert parse("a0007 UID STORE 3 +FLAGS.SILENT (\\SEEN)") == Store(  # mutt
        SequenceSet.of(3), FlagOp.ADD, frozenset({"\\Seen"}), silent=True, uid=True
    )
    assert parse("a STORE 1:* -FLAGS \\Deleted $Junk") == Store(
        SequenceSet.of((1, STAR)), FlagOp.REMOVE, frozenset({"\\Deleted", "$Junk"})
    )
    assert parse("a STORE 2 FLAGS ()") == Store(SequenceSet.of(2), FlagOp.REPLACE, frozenset())
    assert parse("a STORE 2 (UNCHANGEDSINCE 320162338) +FLAGS.SILENT (\\Deleted)") == Store(
        SequenceSet.of(2), FlagOp.ADD, frozenset({"\\Deleted"}), True, 320162338
    )


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("a STORE 1 FLAG (\\Seen)", "expected FLAGS or FLAGS.SILENT"),
        ("a STORE 1 +FLAGS", "expected space"),
        ("a STORE 1 +FLAGS (\\Seen", "expected space"),
        ("a STORE 1 (UNCHANGEDSINCE) FLAGS ()", "expected space"),
        ("a STORE 1 (FOO 1) FLAGS ()", "unknown store modifier"),
        ("a STORE 1 FLAGS (\\)", "expected flag"),
    ],
)
def test_store_errors(line: str, message: str) -> None:
    assert parse_error(line).message == message


def test_copy_move_expunge() -> None:
    assert parse('a UID COPY 1:3 "Sent Items"') == Copy(SequenceSet.of((1, 3)), "Sent Items", True)
    assert parse("a MOVE 2 Trash") == Move(SequenceSet.of(2), "Trash")
    assert parse("a UID MOVE 5,7 Archive") == Move(SequenceSet.of(5, 7), "Archive", uid=True)
    assert parse("a UID EXPUNGE 3000:3002") == UidExpunge(SequenceSet.of((3000, 3002)))
    assert parse_error("a UID EXPUNGE").message == "expected space"
    assert parse_error("a UID FOO 1").message == "unknown UID command FOO"


MESSAGE = b"From: a@example.org\r\nSubject: hi\r\n\r\nbody\r\n"


def test_append_as_offlineimap_and_imaplib_send_it() -> None:
    line = b'a APPEND INBOX (\\Seen) "05-Jan-2024 10:00:00 +0000" {%d}\r\n' % len(MESSAGE)
    date = datetime(2024, 1, 5, 10, 0, 0, tzinfo=UTC)
    assert parse(line + MESSAGE) == Append(
        "INBOX", (AppendMessage(MESSAGE, frozenset({"\\Seen"}), date),)
    )


def test_append_forms() -> None:
    literal = b"{%d+}\r\n" % len(MESSAGE) + MESSAGE
    assert parse(b"a APPEND Drafts " + literal) == Append("Drafts", (AppendMessage(MESSAGE),))
    assert parse(b'a APPEND "Sent" () ' + literal) == Append("Sent", (AppendMessage(MESSAGE),))
    command = parse(b'a APPEND X " 5-Jan-2024 23:59:59 -0130" ' + literal)
    assert isinstance(command, Append)
    moment = command.messages[0].internal_date
    assert moment == datetime(2024, 1, 5, 23, 59, 59,
                              tzinfo=timezone(-timedelta(hours=1, minutes=30)))  # fmt: skip


def test_append_accepts_single_digit_day() -> None:
    literal = b"{%d+}\r\n" % len(MESSAGE) + MESSAGE
    command = parse(b'a APPEND X "5-Jan-2024 10:00:00 +0000" ' + literal)
    assert isinstance(command, Append) and command.messages[0].internal_date is not None


def test_multiappend_and_literal8() -> None:
    binary = b"Content-Type: application/octet-stream\r\n\r\n\x00\x01"
    data = (
        b"a APPEND INBOX (\\Seen) {%d+}\r\n" % len(MESSAGE) + MESSAGE
        + b' (\\Draft $Label1) "01-Feb-1994 00:00:00 +0000" ~{%d+}\r\n' % len(binary) + binary
        + b" {0+}\r\n"
    )  # fmt: skip
    command = parse(data)
    assert isinstance(command, Append)
    first, second, third = command.messages
    assert first == AppendMessage(MESSAGE, frozenset({"\\Seen"}))
    assert second.binary and second.data == binary
    assert second.flags == frozenset({"\\Draft", "$Label1"})
    assert third == AppendMessage(b"")  # RFC 3502: an empty message; the session refuses it


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b'a APPEND INBOX "message"', "invalid day"),
        (b'a APPEND INBOX "05-Jan-2024 10:00:00 +0075" {1+}\r\nx', "invalid zone"),
        (b"a APPEND INBOX", "expected space"),
        (b'a APPEND INBOX "31-Feb-2024 10:00:00 +0000" {1+}\r\nx', "invalid date-time"),
        (b'a APPEND INBOX "05-Foo-2024 10:00:00 +0000" {1+}\r\nx', "invalid month"),
        (b'a APPEND INBOX "05-Jan-2024 10:00 +0000" {1+}\r\nx', "expected ':'"),
        (b'a APPEND INBOX "05-Jan-2024 10:00:00 0000" {1+}\r\nx', "expected '+'"),
        (b"a APPEND INBOX {1+}\r\n\x00", "NUL in literal"),
        (b"a LOGIN ~{1+}\r\nx y", "literal8 not allowed here"),
        (b"a APPEND INBOX {1+}\r\nx (\\Seen)", "expected space"),
    ],
)
def test_append_errors(line: bytes, message: str) -> None:
    assert parse_error(line).message == message
