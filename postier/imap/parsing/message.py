"""Grammar of the message commands: FETCH, STORE, COPY, MOVE, UID EXPUNGE, APPEND.

How this works
--------------
Each ``parse_*`` function starts after the command name (and after ``UID`` for the UID forms)
and returns the command; the caller checks that nothing follows. Fetch items follow
RFC 9051 §6.4.5 with BINARY (RFC 3516), MODSEQ and CHANGEDSINCE/VANISHED (RFC 7162),
PREVIEW (RFC 8970), EMAILID/THREADID (RFC 8474) and SAVEDATE (RFC 8514). APPEND accepts the
MULTIAPPEND form (RFC 3502) and literal8 messages (RFC 3516).
"""

from __future__ import annotations

from dataclasses import dataclass

from postier.imap.commands import (
    Append,
    AppendMessage,
    BinarySection,
    BinarySize,
    BodySection,
    Copy,
    Fetch,
    FetchAttribute,
    FetchItem,
    Move,
    Partial,
    Preview,
    Section,
    SectionText,
    Store,
    UidExpunge,
)
from postier.imap.parsing.reader import ParseError, Reader
from postier.types import FlagOp

__all__ = [
    "AppendPrefix",
    "append_prefix",
    "fetch_item",
    "parse_append",
    "parse_copy",
    "parse_fetch",
    "parse_move",
    "parse_store",
    "parse_uid_expunge",
]

_MACROS = {
    "ALL": (FetchAttribute.FLAGS, FetchAttribute.INTERNALDATE, FetchAttribute.RFC822_SIZE,
            FetchAttribute.ENVELOPE),
    "FAST": (FetchAttribute.FLAGS, FetchAttribute.INTERNALDATE, FetchAttribute.RFC822_SIZE),
    "FULL": (FetchAttribute.FLAGS, FetchAttribute.INTERNALDATE, FetchAttribute.RFC822_SIZE,
             FetchAttribute.ENVELOPE, FetchAttribute.BODY),
}  # fmt: skip
_ATTRIBUTES = {a.value: a for a in FetchAttribute}
_NAME_CHARS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-")
_SECTION_WORD = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz.")


def parse_fetch(r: Reader, uid: bool) -> Fetch:
    r.sp()
    sequence = r.sequence_set()
    r.sp()
    items = _fetch_items(r)
    changed_since: int | None = None
    vanished = False
    if r.accept(" "):
        r.open()
        while True:
            name = r.keyword("fetch modifier")
            if name == "CHANGEDSINCE" and changed_since is None:
                r.sp()
                changed_since = r.number64()
            elif name == "VANISHED" and uid and not vanished:
                vanished = True
            else:
                raise ParseError(f"unexpected fetch modifier {name}")
            if r.close():
                break
    if vanished and changed_since is None:
        raise ParseError("VANISHED requires CHANGEDSINCE")  # RFC 7162 §3.2.6
    return Fetch(sequence, items, uid, changed_since, vanished)


def _fetch_items(r: Reader) -> tuple[FetchItem, ...]:
    if r.accept("("):
        items = [fetch_item(r)]
        while not r.close():
            items.append(fetch_item(r))
        return tuple(items)
    mark = r.mark()
    macro = _MACROS.get(r.take(_NAME_CHARS).upper().decode("ascii"))
    if macro is not None:
        return macro
    r.reset(mark)
    return (fetch_item(r),)


def fetch_item(r: Reader) -> FetchItem:
    """One ``fetch-att`` (also used by NOTIFY's MessageNew)."""
    name = r.take(_NAME_CHARS).upper().decode("ascii")
    if name in ("BODY", "BODY.PEEK") and (r.peek_is("[") or name == "BODY.PEEK"):
        section = _section(r)
        return BodySection(section, _partial(r), peek=name == "BODY.PEEK")
    if name in ("BINARY", "BINARY.PEEK"):
        part = _binary_part(r)
        return BinarySection(part, _partial(r), peek=name == "BINARY.PEEK")
    if name == "BINARY.SIZE":
        return BinarySize(_binary_part(r))
    if name == "PREVIEW":
        return Preview(lazy=_preview_lazy(r))
    attribute = _ATTRIBUTES.get(name)
    if attribute is None:
        raise ParseError(f"unknown fetch item {name}" if name else "expected fetch item")
    return attribute


def _preview_lazy(r: Reader) -> bool:
    """``PREVIEW (LAZY)`` (RFC 8970); a following ``(`` may instead start fetch modifiers."""
    mark = r.mark()
    if r.accept(" ") and r.accept("("):
        while r.take(_NAME_CHARS).upper() == b"LAZY":
            if r.accept(")"):
                return True
            r.sp()
    r.reset(mark)  # not preview modifiers: "FETCH 1 PREVIEW (CHANGEDSINCE 5)"
    return False


def _section(r: Reader) -> Section:
    r.expect("[")
    part: list[int] = []
    text: SectionText | None = None
    if r.peek_digit():
        part.append(r.number(nonzero=True))
        while r.accept("."):
            if not r.peek_digit():
                text = _section_text(r, after_part=True)
                break
            part.append(r.number(nonzero=True))
    elif not r.peek_is("]"):
        text = _section_text(r, after_part=False)
    fields: tuple[str, ...] = ()
    if text in (SectionText.HEADER_FIELDS, SectionText.HEADER_FIELDS_NOT):
        r.sp()
        fields = tuple(r.astring_list())
    r.expect("]")
    return Section(tuple(part), text, fields)


def _section_text(r: Reader, *, after_part: bool) -> SectionText:
    word = r.take(_SECTION_WORD).upper().decode("ascii")
    try:
        text = SectionText(word)
    except ValueError:
        raise ParseError(f"invalid section {word}") from None
    if text is SectionText.MIME and not after_part:
        raise ParseError("MIME needs a part number")  # section-text only follows a part
    return text


def _binary_part(r: Reader) -> tuple[int, ...]:
    r.expect("[")
    part: list[int] = []
    if not r.accept("]"):
        part.append(r.number(nonzero=True))
        while r.accept("."):
            part.append(r.number(nonzero=True))
        r.expect("]")
    return tuple(part)


def _partial(r: Reader) -> Partial | None:
    if not r.accept("<"):
        return None
    offset = r.number64()
    r.expect(".")
    length = r.number64(nonzero=True)
    r.expect(">")
    return Partial(offset, length)


def parse_store(r: Reader, uid: bool) -> Store:
    r.sp()
    sequence = r.sequence_set()
    r.sp()
    unchanged_since: int | None = None
    if r.accept("("):
        if r.keyword("store modifier") != "UNCHANGEDSINCE":
            raise ParseError("unknown store modifier")
        r.sp()
        unchanged_since = r.number64()
        r.expect(")")
        r.sp()
    operation = FlagOp.ADD if r.accept("+") else FlagOp.REMOVE if r.accept("-") else None
    name = r.keyword("FLAGS")
    if name not in ("FLAGS", "FLAGS.SILENT"):
        raise ParseError("expected FLAGS or FLAGS.SILENT")
    r.sp()
    if r.peek_is("("):
        flags = r.flag_list()
    else:
        listed = [r.flag()]
        while r.accept(" "):
            listed.append(r.flag())
        flags = frozenset(listed)
    return Store(sequence, operation or FlagOp.REPLACE, flags, name == "FLAGS.SILENT",
                 unchanged_since, uid)  # fmt: skip


def parse_copy(r: Reader, uid: bool) -> Copy:
    r.sp()
    sequence = r.sequence_set()
    r.sp()
    return Copy(sequence, r.mailbox(), uid)


def parse_move(r: Reader, uid: bool) -> Move:
    r.sp()
    sequence = r.sequence_set()
    r.sp()
    return Move(sequence, r.mailbox(), uid)


def parse_uid_expunge(r: Reader) -> UidExpunge:
    r.sp()
    return UidExpunge(r.sequence_set())


@dataclass(frozen=True, slots=True)
class AppendPrefix:
    """An APPEND up to one of its message literals (see ``parse_append_prefix``)."""

    tag: str
    mailbox: str
    index: int  # of the message literal about to come: 0 for the first


def append_prefix(r: Reader, tag: str) -> AppendPrefix | None:
    """After ``tag APPEND``: the mailbox and how many messages precede the pending literal;
    None if the pending literal is not a message (the mailbox name sent as a literal)."""
    r.sp()
    if r.at_end():
        return None
    mailbox = r.mailbox()
    index = 0
    while True:
        r.sp()
        if r.peek_is("("):
            r.flag_list()
            r.sp()
        if r.peek_is('"'):
            r.date_time()
            r.sp()
        if r.at_end():
            return AppendPrefix(tag, mailbox, index)
        r.literal(binary=True)
        index += 1


def parse_append(r: Reader) -> Append:
    """``APPEND mailbox 1*([SP flag-list] [SP date-time] SP literal)`` (RFC 3502)."""
    r.sp()
    mailbox = r.mailbox()
    messages: list[AppendMessage] = []
    while True:
        r.sp()
        flags: frozenset[str] = frozenset()
        if r.peek_is("("):
            flags = r.flag_list()
            r.sp()
        date = None
        if r.peek_is('"'):
            date = r.date_time()
            r.sp()
        data, binary = r.literal(binary=True)
        messages.append(AppendMessage(data, flags, date, binary))
        if r.at_end():
            return Append(mailbox, tuple(messages))
