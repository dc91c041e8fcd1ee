"""Hypothesis properties of the IMAP machine (STYLE.md §5).

(a) any bytes give events (ParseFailure at worst), never an exception;
(b) feeding byte by byte gives the same events as feeding one chunk;
(c) generated commands, written by the small client-side serializer below, parse back equal.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from postier.imap import commands as c
from postier.imap.protocol import (
    Command,
    ConnectionClosed,
    Event,
    ImapServerProtocol,
    Limits,
    NeedData,
    Paused,
    ProtocolViolation,
)
from postier.types import FlagOp
from tests.fuzz.budget import examples

# -- (a) and (b): arbitrary input ---------------------------------------------------------------

VOCABULARY = [
    b"a1 ", b"UID ", b"FETCH ", b"SEARCH ", b"STORE ", b"APPEND ", b"SELECT ", b"LIST ", b"LOGIN ",
    b"NOTIFY SET ", b"SORT ", b"THREAD ", b"STATUS ", b"IDLE", b"STARTTLS", b"COMPRESS DEFLATE",
    b"AUTHENTICATE PLAIN ", b"ID ", b"ENABLE ", b"RETURN ", b"CHARSET UTF-8 ", b"(", b")", b"[",
    b"]", b"<", b">", b".", b":", b",", b"*", b"$", b"+", b"-", b"\\", b'"', b" ", b"\r\n", b"\n",
    b"\r", b"{3}\r\n", b"{2+}\r\n", b"~{1+}\r\n", b"{0}\r\n", b"1", b"42", b"4294967296", b"NIL",
    b"BODY.PEEK[HEADER.FIELDS (From)]", b"BINARY[1]<0.10>", b"FLAGS", b"\\Seen", b"NOT ", b"OR ",
    b"SINCE 1-Feb-1994", b"INBOX", b"\x00", b"\xff", b"(QRESYNC (1 2 1:5 (1 2)))", b"PREVIEW",
]  # fmt: skip

imap_like = st.lists(
    st.one_of(st.sampled_from(VOCABULARY), st.binary(max_size=8)), max_size=60
).map(b"".join)
inputs = st.one_of(st.binary(max_size=2048), imap_like)
LIMITS = Limits(max_line_length=512, max_literal_size=64, max_discard_size=256)


def run(data: bytes, step: int) -> list[Event]:
    """Every event for ``data`` fed ``step`` bytes at a time, switches resumed, then EOF."""
    protocol = ImapServerProtocol(LIMITS)
    out: list[Event] = []
    pieces = [data[i : i + step] for i in range(0, len(data), step)] + [b""]
    for piece in pieces:
        protocol.receive_data(piece)
        while True:
            event = protocol.next_event()
            if isinstance(event, Paused):
                protocol.resume()
                continue
            if isinstance(event, NeedData):
                break
            out.append(event)
            if isinstance(event, ConnectionClosed | ProtocolViolation):
                return out
    return out


@settings(max_examples=examples(400))
@given(data=inputs)
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    events = run(data, len(data) or 1)
    assert isinstance(events[-1], ConnectionClosed | ProtocolViolation)


@settings(max_examples=examples(300))
@given(data=inputs, cut=st.integers(min_value=1, max_value=64))
def test_chunking_never_changes_events(data: bytes, cut: int) -> None:
    whole = run(data, len(data) or 1)
    assert run(data, 1) == whole
    assert run(data, cut) == whole


# -- (c): serialize → parse round trip ------------------------------------------------------------

ASTRING = frozenset(range(0x21, 0x7F)) - frozenset(b'(){%*"\\')
ATOM_TEXT = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789$-_.!#&'+,/;<=>?@^`|~"


def string(text: str) -> bytes:
    """astring as a client writes it: atom, quoted, or a non-synchronizing literal."""
    data = text.encode()
    if data and all(b in ASTRING for b in data):
        return data
    if b"\r" not in data and b"\n" not in data:
        return b'"' + data.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'
    return b"{%d+}\r\n" % len(data) + data


def sequence(value: c.SequenceSet) -> bytes:
    return str(value).encode()


def flags(values: frozenset[str]) -> bytes:
    return b"(" + " ".join(sorted(values)).encode() + b")"


def section(item: c.BodySection) -> bytes:
    spec = ".".join(str(n) for n in item.section.part)
    if item.section.text is not None:
        spec = f"{spec}.{item.section.text}" if spec else str(item.section.text)
    out = b"BODY.PEEK[" if item.peek else b"BODY["
    out += spec.encode()
    if item.section.fields:
        out += b" (" + b" ".join(string(f) for f in item.section.fields) + b")"
    out += b"]"
    if item.partial is not None:
        out += b"<%d.%d>" % (item.partial.offset, item.partial.length)
    return out


def fetch_item(item: c.FetchItem) -> bytes:
    if isinstance(item, c.BodySection):
        return section(item)
    if isinstance(item, c.Preview):
        return b"PREVIEW (LAZY)" if item.lazy else b"PREVIEW"
    assert isinstance(item, c.FetchAttribute)
    return str(item).encode()


def search_key(key: c.SearchKey) -> bytes:
    match key:
        case c.All():
            return b"ALL"
        case c.HasFlag(flag, present):
            word = {"\\Recent": "RECENT"}.get(flag, flag[1:].upper() if flag[0] == "\\" else "")
            if not word:
                return (b"KEYWORD " if present else b"UNKEYWORD ") + flag.encode()
            return (b"" if present else b"UN") + word.encode()
        case c.Contains(field, value):
            return str(field).encode() + b" " + string(value)
        case c.HeaderContains(name, value):
            return b"HEADER " + string(name) + b" " + string(value)
        case c.DateCompare(field, relation, day):
            prefix = "SENT" if field is c.DateField.SENT else ""
            return f"{prefix}{relation} {day.day}-{day:%b}-{day.year:04d}".encode()
        case c.SizeCompare(larger, size):
            return b"LARGER %d" % size if larger else b"SMALLER %d" % size
        case c.InSet(values, uid):
            return (b"UID " if uid else b"") + sequence(values)
        case c.Not(inner):
            return b"NOT " + search_key(inner)
        case c.Or(left, right):
            return b"OR " + search_key(left) + b" " + search_key(right)
        case c.And(keys):
            return b"(" + b" ".join(search_key(k) for k in keys) + b")"
    raise AssertionError(key)


def command_bytes(command: c.ImapCommand) -> bytes:
    uid = b"UID " if getattr(command, "uid", False) else b""
    match command:
        case c.Login(user, password):
            return b"LOGIN " + string(user) + b" " + string(password)
        case c.Select(mailbox, condstore, None) | c.Examine(mailbox, condstore, None):
            name = type(command).__name__.upper().encode()
            return name + b" " + string(mailbox) + (b" (CONDSTORE)" if condstore else b"")
        case c.Select(mailbox, _, c.QResync(validity, modseq, known, seqs, uids)):
            extra = (b" " + sequence(known) if known else b"") + (
                b" (" + sequence(seqs) + b" " + sequence(uids) + b")" if seqs and uids else b""
            )
            return (
                b"SELECT " + string(mailbox) + b" (QRESYNC (%d %d%s))" % (validity, modseq, extra)
            )
        case c.Status(mailbox, items):
            return b"STATUS " + string(mailbox) + b" (" + " ".join(items).encode() + b")"
        case c.Rename(old, new):
            return b"RENAME " + string(old) + b" " + string(new)
        case c.Fetch(values, items, _, changed, _):
            out = uid + b"FETCH " + sequence(values) + b" ("
            out += b" ".join(fetch_item(i) for i in items) + b")"
            return out + (b" (CHANGEDSINCE %d)" % changed if changed is not None else b"")
        case c.Store(values, operation, new_flags, silent, unchanged, _):
            sign = {FlagOp.ADD: b"+", FlagOp.REMOVE: b"-", FlagOp.REPLACE: b""}[operation]
            modifier = b" (UNCHANGEDSINCE %d)" % unchanged if unchanged is not None else b""
            name = b"FLAGS.SILENT" if silent else b"FLAGS"
            return (
                uid
                + b"STORE "
                + sequence(values)
                + modifier
                + b" "
                + sign
                + name
                + b" "
                + (flags(new_flags))
            )
        case c.Copy(values, mailbox, _) | c.Move(values, mailbox, _):
            name = type(command).__name__.upper().encode()
            return uid + name + b" " + sequence(values) + b" " + string(mailbox)
        case c.Search(criteria, charset, _, _):
            prefix = b"CHARSET %s " % charset.encode() if charset else b""
            return uid + b"SEARCH " + prefix + search_key(criteria)
        case c.Append(mailbox, messages):
            out = b"APPEND " + string(mailbox)
            for message in messages:
                out += b" " + flags(message.flags) if message.flags else b""
                if message.internal_date is not None:
                    out += message.internal_date.strftime(' "%d-%b-%Y %H:%M:%S %z"').encode()
                marker = b" ~{%d+}\r\n" if message.binary else b" {%d+}\r\n"
                out += marker % len(message.data) + message.data
            return out
        case c.Id(parameters):
            if parameters is None:
                return b"ID NIL"
            pairs = (b'"%s" ' % k.encode() + (string_or_nil(v)) for k, v in parameters)
            return b"ID (" + b" ".join(pairs) + b")"
    raise AssertionError(command)


def string_or_nil(value: str | None) -> bytes:
    return b"NIL" if value is None else b'"' + value.encode() + b'"'


texts = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12)
atoms = st.text(ATOM_TEXT, min_size=1, max_size=10)
numbers = st.integers(min_value=1, max_value=2**32 - 1)
seq_numbers = st.one_of(numbers, st.just(c.STAR))
sequence_sets = st.one_of(
    st.lists(st.tuples(seq_numbers, seq_numbers), min_size=1, max_size=4).map(
        lambda pairs: c.SequenceSet(tuple(c.SequenceRange(a, b) for a, b in pairs))
    ),
    st.just(c.SequenceSet(saved=True)),
)
uid_sets = st.lists(numbers, min_size=1, max_size=4).map(lambda ns: c.SequenceSet.of(*ns))
flag_names = st.one_of(
    st.sampled_from(["\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft"]),
    atoms.filter(lambda a: not a.startswith("\\")),
)
flag_sets = st.frozensets(flag_names, max_size=4)
days = st.dates(min_value=date(1900, 1, 1), max_value=date(2999, 12, 31))
leaf_keys = st.one_of(
    st.just(c.All()),
    st.builds(c.HasFlag, flag_names, st.booleans()),
    st.builds(c.Contains, st.sampled_from(c.TextField), texts),
    st.builds(c.HeaderContains, atoms, texts),
    st.builds(c.DateCompare, st.sampled_from(c.DateField),
              st.sampled_from(["BEFORE", "ON", "SINCE"]), days),
    st.builds(c.SizeCompare, st.booleans(), st.integers(0, 2**63 - 1)),
    st.builds(c.InSet, sequence_sets, st.booleans()),
)  # fmt: skip
search_keys = st.recursive(
    leaf_keys,
    lambda inner: st.one_of(
        st.builds(c.Not, inner),
        st.builds(c.Or, inner, inner),
        st.lists(inner, min_size=1, max_size=3).map(lambda keys: c.And(tuple(keys))),
    ),
    max_leaves=8,
)
fields = st.lists(atoms, min_size=1, max_size=3).map(tuple)
sections = st.one_of(
    st.just(c.Section()),
    st.builds(c.Section, st.lists(st.integers(1, 99), min_size=1, max_size=3).map(tuple)),
    st.builds(c.Section, st.just(()), st.sampled_from([c.SectionText.HEADER, c.SectionText.TEXT])),
    st.builds(c.Section, st.just(()), st.just(c.SectionText.HEADER_FIELDS), fields),
    st.builds(c.Section, st.just((1, 2)), st.just(c.SectionText.MIME)),
)
fetch_items = st.one_of(
    st.sampled_from(c.FetchAttribute),
    st.builds(c.BodySection, sections,
              st.none() | st.builds(c.Partial, st.integers(0, 10**6), st.integers(1, 10**6)),
              st.booleans()),
    st.builds(c.Preview, st.booleans()),
)  # fmt: skip
moments = st.builds(
    lambda d, s, z: (
        datetime(d.year, d.month, d.day, tzinfo=timezone(timedelta(minutes=z)))
        + timedelta(seconds=s)
    ),
    st.dates(min_value=date(1970, 1, 1), max_value=date(2999, 1, 1)),
    st.integers(0, 86399),
    st.integers(-23 * 60, 23 * 60).map(lambda m: m - m % 15),
)
append_messages = st.builds(
    c.AppendMessage,
    st.binary(min_size=1, max_size=64).filter(lambda b: b"\x00" not in b),
    flag_sets,
    st.none() | moments,
    st.just(False),
) | st.builds(c.AppendMessage, st.binary(min_size=1, max_size=16), st.just(frozenset()),
              st.none(), st.just(True))  # fmt: skip

generated_commands = st.one_of(
    st.builds(c.Login, texts, texts),
    st.builds(c.Select, texts, st.booleans()),
    st.builds(c.Examine, texts, st.booleans()),
    st.builds(c.Select, texts, st.just(False), st.builds(
        c.QResync, numbers, st.integers(1, 2**63 - 1), st.none() | uid_sets,
        st.none(), st.none())),
    st.builds(c.Status, texts, st.lists(st.sampled_from(c.StatusItem), min_size=1).map(tuple)),
    st.builds(c.Rename, texts, texts),
    st.builds(c.Fetch, sequence_sets, st.lists(fetch_items, min_size=1, max_size=5).map(tuple),
              st.booleans(), st.none() | st.integers(0, 2**63 - 1)),
    st.builds(c.Store, sequence_sets, st.sampled_from(FlagOp), flag_sets, st.booleans(),
              st.none() | st.integers(0, 2**63 - 1), st.booleans()),
    st.builds(c.Copy, sequence_sets, texts, st.booleans()),
    st.builds(c.Move, sequence_sets, texts, st.booleans()),
    st.builds(c.Search, search_keys, st.sampled_from([None, "UTF-8"]), st.none(), st.booleans()),
    st.builds(c.Append, texts, st.lists(append_messages, min_size=1, max_size=3).map(tuple)),
    st.builds(c.Id, st.none() | st.lists(st.tuples(atoms, st.none() | atoms), max_size=3)
              .map(tuple)),
)  # fmt: skip


@settings(max_examples=examples(400))
@given(command=generated_commands)
def test_generated_commands_round_trip(command: c.ImapCommand) -> None:
    protocol = ImapServerProtocol()
    protocol.receive_data(b"t1 " + command_bytes(command) + b"\r\n")
    event = protocol.next_event()
    assert event == Command("t1", command), command_bytes(command)
