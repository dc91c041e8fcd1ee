"""FETCH data items (RFC 9051 §6.4.5, §7.5.2) computed from a MessageRecord and the message bytes.

How this works
--------------
The session asks :func:`needs_body` whether the blob must be read at all; ENVELOPE, BODY,
BODYSTRUCTURE, PREVIEW, FLAGS and the other metadata come from the record and its stored JSON
(``structure_json``: the part tree with byte offsets; ``summary_json``: envelope and preview),
so a client listing a mailbox never causes a blob read. :func:`render_fetch` then returns the
parenthesized list of ``* n FETCH (...)`` as response values, in the order the client asked,
each item once.

Message data goes out as literals, never quoted strings. Sections are located by offsets in the
stored tree and sliced from ``FetchContext.body`` once, partial range included, so BODY[] of a
30 MB message passes the caller's own bytes object through without a copy. The rest:

- BODY[section]<o.l> answers ``BODY[section]<o>`` with at most l octets from o, an empty string
  when o is past the end (RFC 9051 §6.4.5). A part that does not exist answers NIL (as
  Dovecot does; BINARY.SIZE, which cannot be NIL, says 0). NUL cannot appear in a literal,
  so BODY data holding NUL has it replaced by 0x80, as Dovecot does; BINARY is the way to get
  such content exactly.
- BINARY[part] undoes the part's Content-Transfer-Encoding and is sent as a literal8 only when
  the result holds NUL (RFC 3516 §4.2); an encoding we cannot undo raises
  ``FetchError("UNKNOWN-CTE", ...)`` for a tagged NO (RFC 3516 §4.3). BINARY[] is the whole
  message, undecoded.
- RFC822, RFC822.HEADER and RFC822.TEXT are BODY[], BODY.PEEK[HEADER] and BODY[TEXT] under
  their IMAP4rev1 names (RFC 3501 §6.4.5). Which items set \\Seen is :func:`sets_seen`'s
  answer; applying it (and sending FLAGS) is the session's job.
- PREVIEW (RFC 8970 §3.1) is the preview computed at delivery, so LAZY changes nothing; a
  message without text gets the zero-length string RFC 8970 requires.

Reading the stored JSON, and what happens when it cannot be read, is stored_message.py's
business; a session may pass its :class:`StructureCache` along.

A listing (the first sync of a client: FLAGS, INTERNALDATE, RFC822.SIZE, ENVELOPE, maybe UID,
MODSEQ, BODYSTRUCTURE) has its own path, :class:`LinePlan`: decided once per command, it writes
each ``* n FETCH (...)`` line with one string format from the record and the text delivery
pre-encoded, without building response values. It sends exactly the bytes the general path
does (a test compares the two); items it does not cover go the general way.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from postier.imap.commands import (
    BinarySection,
    BinarySize,
    BodySection,
    FetchAttribute,
    FetchItem,
    Preview,
    Section,
    SectionText,
)
from postier.imap.responses import Atom, Literal, Untagged, Value, format_datetime
from postier.imap.stored_message import StoredMessage, StructureCache, pre_encoded
from postier.imap.wire import ATOM_CHARS
from postier.mime import Part, decode_body, extract, resolve
from postier.mime.transfer import IDENTITY_ENCODINGS
from postier.types import (
    SYSTEM_FLAGS,
    BlobId,
    ListedMessage,
    MailboxId,
    MessageId,
    MessageRecord,
)

__all__ = ["FetchContext", "FetchError", "LinePlan", "StructureCache", "fetch_response",
           "line_plan", "needs_body", "render_fetch", "sets_seen"]


@dataclass(frozen=True, slots=True)
class FetchContext:
    seq: int
    record: MessageRecord
    body: bytes | None  # the whole message (header prefix + stored body); None when not needed
    utf8: bool  # IMAP4rev2 or UTF8=ACCEPT enabled: 8-bit text may be quoted
    rev2: bool  # IMAP4rev2 enabled
    email_id: str | None = None  # RFC 8474 EMAILID; derived from the blob id when None
    thread_id: str | None = None  # RFC 8474 THREADID; NIL when None
    save_date: datetime | None = None  # RFC 8514 SAVEDATE; NIL when None


class FetchError(Exception):
    """A FETCH item that cannot be answered: a tagged NO with this response code."""

    def __init__(self, code: str, text: str) -> None:
        super().__init__(text)
        self.code = code
        self.text = text


_BODY_ATTRIBUTES = frozenset({FetchAttribute.RFC822, FetchAttribute.RFC822_HEADER,
                              FetchAttribute.RFC822_TEXT})
_SEEN_ATTRIBUTES = frozenset({FetchAttribute.RFC822, FetchAttribute.RFC822_TEXT})
_OBJECT_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_SYSTEM_ORDER = {flag: index for index, flag in enumerate(SYSTEM_FLAGS)}


def needs_body(items: Sequence[FetchItem]) -> bool:
    """True when an item needs the message bytes (sections, BINARY, RFC822*)."""
    return any(isinstance(item, BodySection | BinarySection | BinarySize)
               or item in _BODY_ATTRIBUTES for item in items)


def sets_seen(items: Sequence[FetchItem]) -> bool:
    """True when fetching ``items`` sets \\Seen (RFC 9051 §6.4.5, RFC 3516 §4.2)."""
    return any((isinstance(item, BodySection | BinarySection) and not item.peek)
               or item in _SEEN_ATTRIBUTES for item in items)


@functools.lru_cache(maxsize=512)
def _flag_atoms(flags: frozenset[str]) -> tuple[Atom, ...]:
    """System flags first in their usual order, then keywords sorted; few distinct sets."""
    ordered = sorted(flags, key=lambda f: (_SYSTEM_ORDER.get(f, len(_SYSTEM_ORDER)), f))
    return tuple(Atom(flag) for flag in ordered)


def _object_id(text: str) -> str:
    """An RFC 8474 objectid: 1*255(ALPHA / DIGIT / "_" / "-"), anything else dropped."""
    return "".join(c for c in text if c in _OBJECT_ID_CHARS)[:255]


def _header_name(name: str) -> str:
    """A header-fld-name as the client sent it: an atom when it is one, else quoted."""
    raw = name.replace("\r", "").replace("\n", "").replace("\x00", "")
    if raw and all(ord(c) in ATOM_CHARS for c in raw):
        return raw
    return '"' + raw.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _section_name(section: Section) -> str:
    spec = ".".join(str(n) for n in section.part)
    if section.text is not None:
        spec = f"{spec}.{section.text}" if spec else str(section.text)
    if section.text in (SectionText.HEADER_FIELDS, SectionText.HEADER_FIELDS_NOT):
        spec += " (" + " ".join(_header_name(f) for f in section.fields) + ")"
    return spec


def _section_span(message: StoredMessage, section: Section) -> tuple[int, int] | bytes | None:
    """Where BODY[section] lies in the data: (start, end), computed bytes, or None (absent)."""
    text = section.text
    if not section.part and text is None:
        return 0, len(message.data())  # the whole message: no parsing needed
    if not section.part and text in (SectionText.HEADER, SectionText.TEXT):
        start, body_start, end = message.root_span()  # no part tree needed either
        return (start, body_start) if text is SectionText.HEADER else (body_start, end)
    tree = message.tree()
    if text in (SectionText.HEADER_FIELDS, SectionText.HEADER_FIELDS_NOT):
        if section.part and (resolve(tree, section.part) is None):
            return None
        return extract(message.data(), tree, section.part, str(text), section.fields)
    if not section.part:
        entity: Part | None = tree.root
    else:
        part = resolve(tree, section.part)
        if part is None:
            return None
        if text is None:
            return part.body_start, part.end
        if text is SectionText.MIME:
            return part.start, part.body_start
        entity = part.message  # HEADER/TEXT after a part number: an embedded message only
    if entity is None:
        return b""
    if text is SectionText.HEADER:
        return entity.start, entity.body_start
    if text is SectionText.TEXT:
        return entity.body_start, entity.end
    return b""


def _body_section(message: StoredMessage, item: BodySection) -> tuple[str, Value]:
    name = f"BODY[{_section_name(item.section)}]"
    span = _section_span(message, item.section)
    if span is None:
        return name, None
    partial = item.partial
    if isinstance(span, bytes):
        chunk = span[partial.offset:partial.offset + partial.length] if partial else span
    else:
        start, end = span
        if partial is not None:
            start = min(start + partial.offset, end)
            end = min(start + partial.length, end)
        chunk = message.data()[start:end]  # the whole-message slice is the same object
    if partial is not None:
        name += f"<{partial.offset}>"
    if b"\x00" in chunk:
        chunk = chunk.replace(b"\x00", b"\x80")
    return name, Literal(chunk)


def _decoded(message: StoredMessage, part_path: tuple[int, ...]) -> bytes | None:
    """The BINARY content of a part (None when there is no such part)."""
    if not part_path:
        return message.data()
    part = resolve(message.tree(), part_path)
    if part is None:
        return None
    decoded = decode_body(message.data(), part)
    if decoded is None:
        raise FetchError("UNKNOWN-CTE",
                         f"cannot decode Content-Transfer-Encoding {part.encoding[:40]!r}")
    return decoded


def _binary_section(message: StoredMessage, item: BinarySection) -> tuple[str, Value]:
    name = "BINARY[" + ".".join(str(n) for n in item.part) + "]"
    decoded = _decoded(message, item.part)
    if item.partial is not None:
        name += f"<{item.partial.offset}>"
    if decoded is None:
        return name, None
    if item.partial is not None:
        decoded = decoded[item.partial.offset:item.partial.offset + item.partial.length]
    return name, Literal(decoded, binary=True)


def _binary_size(message: StoredMessage, item: BinarySize) -> tuple[str, Value]:
    name = "BINARY.SIZE[" + ".".join(str(n) for n in item.part) + "]"
    if item.part:
        part = resolve(message.tree(), item.part)
        if part is not None and part.encoding in IDENTITY_ENCODINGS:
            return name, part.size  # nothing to decode, nothing to read
    decoded = _decoded(message, item.part)
    return name, 0 if decoded is None else len(decoded)  # the grammar has no NIL here


def _attribute(message: StoredMessage, ctx: FetchContext, attribute: FetchAttribute,
               flags: frozenset[str], modseq: int) -> tuple[str, Value]:
    record = ctx.record
    match attribute:
        case FetchAttribute.UID:
            return "UID", record.uid
        case FetchAttribute.FLAGS:
            return "FLAGS", _flag_atoms(flags)
        case FetchAttribute.INTERNALDATE:
            return "INTERNALDATE", format_datetime(record.internal_date)
        case FetchAttribute.RFC822_SIZE:
            return "RFC822.SIZE", record.size
        case FetchAttribute.ENVELOPE:
            return "ENVELOPE", message.envelope_value(ctx.utf8)
        case FetchAttribute.BODYSTRUCTURE | FetchAttribute.BODY:
            extensible = attribute is FetchAttribute.BODYSTRUCTURE
            return attribute.value, message.body_structure_value(extensible, ctx.utf8)
        case FetchAttribute.MODSEQ:
            return "MODSEQ", (modseq,)
        case FetchAttribute.RFC822:
            return "RFC822", _body_section(message, BodySection(Section()))[1]
        case FetchAttribute.RFC822_HEADER:
            section = Section(text=SectionText.HEADER)
            return "RFC822.HEADER", _body_section(message, BodySection(section))[1]
        case FetchAttribute.RFC822_TEXT:
            section = Section(text=SectionText.TEXT)
            return "RFC822.TEXT", _body_section(message, BodySection(section))[1]
        case FetchAttribute.EMAILID:
            email_id = _object_id(ctx.email_id or "") or _object_id("M" + record.blob_id[:32])
            return "EMAILID", (Atom(email_id),)
        case FetchAttribute.THREADID:
            thread_id = _object_id(ctx.thread_id or "")
            return "THREADID", (Atom(thread_id),) if thread_id else None
        case FetchAttribute.SAVEDATE:
            saved = ctx.save_date
            return "SAVEDATE", None if saved is None else format_datetime(saved)
    raise AssertionError(attribute)  # pragma: no cover - the match is exhaustive


def _item(message: StoredMessage, ctx: FetchContext, item: FetchItem, flags: frozenset[str],
          modseq: int) -> tuple[str, Value]:
    if isinstance(item, BodySection):
        return _body_section(message, item)
    if isinstance(item, BinarySection):
        return _binary_section(message, item)
    if isinstance(item, BinarySize):
        return _binary_size(message, item)
    if isinstance(item, Preview):
        return "PREVIEW", message.preview()
    return _attribute(message, ctx, item, flags, modseq)


def _wanted(items: Sequence[FetchItem], *, include_uid: bool, include_flags: bool,
            include_modseq: bool) -> list[FetchItem]:
    """The items in answer order: UID first, then those asked for, then FLAGS and MODSEQ,
    each added only when asked to and not already there."""
    wanted: list[FetchItem] = []
    if include_uid and FetchAttribute.UID not in items:
        wanted.append(FetchAttribute.UID)
    wanted.extend(items)
    if include_flags and FetchAttribute.FLAGS not in items:
        wanted.append(FetchAttribute.FLAGS)
    if include_modseq and FetchAttribute.MODSEQ not in items:
        wanted.append(FetchAttribute.MODSEQ)
    return wanted


def render_fetch(items: Sequence[FetchItem], ctx: FetchContext, *,
                 flags: frozenset[str] | None = None, modseq: int | None = None,
                 include_uid: bool = False, include_modseq: bool = False,
                 include_flags: bool = False,
                 cache: StructureCache | None = None) -> tuple[Value, ...]:
    """The list of ``* seq FETCH (...)``: item names (atoms) and values, alternating.

    ``flags``/``modseq`` override the record's (the session's current view). UID comes first
    when ``include_uid`` (UID FETCH, RFC 9051 §6.4.9) and not asked for; FLAGS
    (``include_flags``: \\Seen was just set) and MODSEQ (``include_modseq``: CONDSTORE,
    RFC 7162 §3.1.4.1) come last when not asked for. Raises FetchError only.
    """
    record = ctx.record
    current_flags = record.flags if flags is None else flags
    current_modseq = record.modseq if modseq is None else modseq
    message = StoredMessage(record, ctx.body, cache)
    wanted = _wanted(items, include_uid=include_uid, include_flags=include_flags,
                     include_modseq=include_modseq)
    out: list[Value] = []
    seen: set[str] = set()
    for item in wanted:
        name, value = _item(message, ctx, item, current_flags, current_modseq)
        if name not in seen:  # BODY[] and BODY.PEEK[] answer under one name: send it once
            seen.add(name)
            out += (Atom(name), value)
    return tuple(out)


def fetch_response(items: Sequence[FetchItem], ctx: FetchContext, *,
                   flags: frozenset[str] | None = None, modseq: int | None = None,
                   include_uid: bool = False, include_modseq: bool = False,
                   include_flags: bool = False,
                   cache: StructureCache | None = None) -> Untagged:
    """``* seq FETCH (...)`` as one response."""
    values = render_fetch(items, ctx, flags=flags, modseq=modseq, include_uid=include_uid,
                          include_modseq=include_modseq, include_flags=include_flags,
                          cache=cache)
    return Untagged((ctx.seq, Atom("FETCH"), values))


# -- listings: one string format per message -----------------------------------------------------

_LineItem = Callable[[ListedMessage, frozenset[str], int, bool], str]


def _stand_in(row: ListedMessage) -> MessageRecord:
    """A record for the general renderers, for a message whose summary lacks the pre-encoded
    texts (stored by an older version, or unreadable): they render from its JSON only."""
    uid, modseq, flags, internal_date, size, summary, structure = row
    return MessageRecord(MessageId(0), MailboxId(0), uid, modseq, flags, internal_date, size,
                         BlobId(""), b"", structure_json=structure or "{}", summary_json=summary)


@functools.lru_cache(maxsize=512)
def _flags_text(flags: frozenset[str]) -> str:
    return "(" + " ".join(atom.text for atom in _flag_atoms(flags)) + ")"


def _uid_text(row: ListedMessage, flags: frozenset[str], modseq: int, utf8: bool) -> str:
    return str(row[0])


def _flags_item(row: ListedMessage, flags: frozenset[str], modseq: int, utf8: bool) -> str:
    return _flags_text(flags)


def _date_text(row: ListedMessage, flags: frozenset[str], modseq: int, utf8: bool) -> str:
    return '"' + format_datetime(row[3]) + '"'  # a quoted string: ASCII, no '"'


def _size_text(row: ListedMessage, flags: frozenset[str], modseq: int, utf8: bool) -> str:
    return str(row[4])


def _envelope_text(row: ListedMessage, flags: frozenset[str], modseq: int, utf8: bool) -> str:
    text = pre_encoded(row[5], "imap_envelope", utf8)
    if text is None:
        text = StoredMessage(_stand_in(row), None).envelope_value(utf8).text
    return text


def _structure_text(row: ListedMessage, flags: frozenset[str], modseq: int, utf8: bool) -> str:
    text = pre_encoded(row[5], "imap_bodystructure", utf8)
    if text is None:
        text = StoredMessage(_stand_in(row), None).body_structure_value(True, utf8).text
    return text


def _body_text(row: ListedMessage, flags: frozenset[str], modseq: int, utf8: bool) -> str:
    return StoredMessage(_stand_in(row), None).body_structure_value(False, utf8).text


def _modseq_text(row: ListedMessage, flags: frozenset[str], modseq: int, utf8: bool) -> str:
    return f"({modseq})"


_LINE_ITEMS: dict[FetchItem, _LineItem] = {
    FetchAttribute.UID: _uid_text,
    FetchAttribute.FLAGS: _flags_item,
    FetchAttribute.INTERNALDATE: _date_text,
    FetchAttribute.RFC822_SIZE: _size_text,
    FetchAttribute.ENVELOPE: _envelope_text,
    FetchAttribute.BODYSTRUCTURE: _structure_text,
    FetchAttribute.BODY: _body_text,
    FetchAttribute.MODSEQ: _modseq_text,
}
_NEED_STRUCTURE = frozenset({FetchAttribute.BODYSTRUCTURE, FetchAttribute.BODY})


class LinePlan:
    """The FETCH lines of one command whose items are all metadata (see :func:`line_plan`),
    written from the store's narrow listing rows (``ListedMessage``)."""

    __slots__ = ("_items", "_template", "_utf8", "needs_structure")

    def __init__(self, names: Sequence[str], items: Sequence[_LineItem], utf8: bool,
                 needs_structure: bool) -> None:
        # Item names are atoms without "%"; each value is one %s.
        self._template = "* %d FETCH (" + " ".join(f"{name} %s" for name in names) + ")\r\n"
        self._items = tuple(items)
        self._utf8 = utf8
        # BODY, and BODYSTRUCTURE of messages stored without its pre-encoded text, are
        # rendered from the part tree: the listing read must include the structure JSON.
        self.needs_structure = needs_structure

    def line(self, seq: int, row: ListedMessage, flags: frozenset[str], modseq: int) -> bytes:
        """``* seq FETCH (...)`` CRLF, as ``serialize(fetch_response(...))`` would write it."""
        utf8 = self._utf8
        return (self._template % (seq, *[item(row, flags, modseq, utf8)
                                          for item in self._items])).encode("utf-8")


def line_plan(items: Sequence[FetchItem], *, utf8: bool, include_uid: bool = False,
              include_modseq: bool = False) -> LinePlan | None:
    """A :class:`LinePlan` for ``items`` (with ``render_fetch``'s ``include_*`` meaning), or
    None when an item needs the general path (message bytes, PREVIEW, object ids, ...)."""
    wanted = _wanted(items, include_uid=include_uid, include_flags=False,
                     include_modseq=include_modseq)
    names: list[str] = []
    renderers: list[_LineItem] = []
    for item in wanted:
        renderer = _LINE_ITEMS.get(item) if isinstance(item, FetchAttribute) else None
        if renderer is None:
            return None
        name = str(item)
        if name not in names:
            names.append(name)
            renderers.append(renderer)
    return LinePlan(names, renderers, utf8, any(item in _NEED_STRUCTURE for item in wanted))
