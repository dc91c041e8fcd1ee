"""IMAP client commands as values: one frozen dataclass per command (RFC 9051 §6, RFC 3501 §6).

How this works
--------------
``parsing/`` turns a framed command into one of these; the session dispatches on the class.
They carry what the client said, checked against the grammar but not against any mailbox:

* Sequence sets keep ``*`` as :data:`STAR` and ``$`` (RFC 5182 SEARCHRES) as ``saved=True``;
  only the session knows the largest number in use or the saved result, so it resolves them,
  with :meth:`SequenceSet.resolve` once it knows the largest value.
* Mailbox names are the raw astring decoded as UTF-8. With IMAP4rev1 clients they are modified
  UTF-7 (RFC 3501 §5.1.3) and the session decodes them with ``utf7.py``; INBOX is not
  case-folded here either (``types.normalize_mailbox_name``).
* System flags are spelled canonically (``\\Seen``); keywords are kept as sent.
* Options, capability names, charsets and SASL mechanisms are upper-cased; NOTIFY filters and
  events keep their RFC spelling. The tag is not part of the command.
* Fetch macros ALL/FAST/FULL are expanded (RFC 9051 §6.4.5); the NEW and OLD search keys of
  IMAP4rev1 become their definitions (RFC 3501 §6.4.4). Nothing else is rewritten, so the
  session can echo items such as ``BODY[HEADER.FIELDS (From)]`` as the client wrote them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime

from postier.types import FlagOp, UidSet

# fmt: off
__all__ = [
    "STAR", "Age", "All", "And", "Append", "AppendMessage", "Authenticate", "BinarySection",
    "BinarySize", "BodySection", "Capability", "Check", "Close", "Compress", "Contains", "Copy",
    "Create", "DateCompare", "DateField", "Delete", "Enable", "Examine", "Expunge", "Fetch",
    "FetchAttribute", "FetchItem", "GetQuota", "GetQuotaRoot", "HasFlag", "HeaderContains", "Id",
    "Idle", "ImapCommand", "InSet", "List", "ListReturn", "ListSelection", "Login", "Logout",
    "Lsub", "ModSeqAtLeast", "Move", "Namespace", "Noop", "Not", "Notify", "NotifyEvent",
    "NotifyFilter", "NotifyGroup", "ObjectId", "Or", "Partial", "Preview", "QResync", "Rename",
    "Search", "SearchKey", "SearchReturn", "Section", "SectionText", "Select", "SequenceRange",
    "SequenceSet", "SetQuota", "SizeCompare", "Sort", "SortCriterion", "SortKey", "Star",
    "StartTls", "Status", "StatusItem", "Store", "Subscribe", "TextField", "Thread",
    "ThreadAlgorithm", "UidExpunge", "Unauthenticate", "Unselect", "Unsubscribe",
]
# fmt: on


class Star(enum.Enum):
    """``*``: the largest sequence number or UID in the mailbox (RFC 9051 §9 seq-number)."""

    STAR = "*"

    def __str__(self) -> str:
        return "*"


STAR = Star.STAR


@dataclass(frozen=True, slots=True)
class SequenceRange:
    first: int | Star
    last: int | Star  # equal to first for a single number; order as the client sent it


@dataclass(frozen=True, slots=True)
class SequenceSet:
    ranges: tuple[SequenceRange, ...] = ()
    saved: bool = False  # "$": the result saved by SEARCH RETURN (SAVE) (RFC 5182)

    @classmethod
    def of(cls, *items: int | Star | tuple[int | Star, int | Star]) -> SequenceSet:
        ranges = (i if isinstance(i, tuple) else (i, i) for i in items)
        return cls(tuple(SequenceRange(a, b) for a, b in ranges))

    def resolve(self, largest: int) -> UidSet:
        """The numbers meant, given the largest in use (0 for an empty mailbox).

        ``*`` is ``largest`` and a range is unordered, so ``5:*`` with largest 3 means 3:5
        (RFC 9051 §9 seq-range); numbers above ``largest`` are kept, the caller drops them.
        """
        if self.saved:
            raise ValueError("'$' is resolved from the saved search result")
        spans: list[int] = []
        for r in self.ranges:
            a = largest if r.first is STAR else r.first
            b = largest if r.last is STAR else r.last
            assert isinstance(a, int) and isinstance(b, int)
            spans.extend(range(max(min(a, b), 1), max(a, b) + 1))
        return UidSet.of(spans)

    def __str__(self) -> str:
        if self.saved:
            return "$"
        return ",".join(
            str(r.first) if r.first == r.last else f"{r.first}:{r.last}" for r in self.ranges
        )


# -- search keys (RFC 9051 §6.4.4, RFC 3501 §6.4.4, RFC 7162 §3.1.5, RFC 5032, RFC 8474) --------


class TextField(enum.StrEnum):
    BCC = "BCC"
    BODY = "BODY"
    CC = "CC"
    FROM = "FROM"
    SUBJECT = "SUBJECT"
    TEXT = "TEXT"
    TO = "TO"


class DateField(enum.StrEnum):
    INTERNAL = "INTERNAL"  # BEFORE / ON / SINCE: the internal date
    SENT = "SENT"  # SENTBEFORE / SENTON / SENTSINCE: the Date header


@dataclass(frozen=True, slots=True)
class All:
    pass


@dataclass(frozen=True, slots=True)
class HasFlag:
    flag: str  # system flag, keyword, or "\\Recent" for RECENT/UNRECENT (RFC 3501)
    present: bool = True  # False for UNSEEN, UNKEYWORD, ...


@dataclass(frozen=True, slots=True)
class Contains:
    field: TextField
    value: str


@dataclass(frozen=True, slots=True)
class HeaderContains:
    name: str
    value: str  # "" matches every message that has the field (RFC 9051 §6.4.4)


@dataclass(frozen=True, slots=True)
class DateCompare:
    field: DateField
    relation: str  # "BEFORE", "ON" or "SINCE"
    day: date


@dataclass(frozen=True, slots=True)
class SizeCompare:
    larger: bool  # LARGER n, else SMALLER n
    size: int


@dataclass(frozen=True, slots=True)
class Age:
    older: bool  # OLDER n, else YOUNGER n (RFC 5032); seconds against the internal date
    seconds: int


@dataclass(frozen=True, slots=True)
class InSet:
    sequence: SequenceSet
    uid: bool  # UID <set>, else a bare sequence set


@dataclass(frozen=True, slots=True)
class ModSeqAtLeast:
    modseq: int
    entry: str | None = None  # "/flags/\\Seen" (RFC 7162 §3.1.5), or None
    entry_type: str | None = None  # "priv", "shared" or "all"


@dataclass(frozen=True, slots=True)
class ObjectId:
    field: str  # "EMAILID" or "THREADID" (RFC 8474)
    value: str


@dataclass(frozen=True, slots=True)
class Not:
    key: SearchKey


@dataclass(frozen=True, slots=True)
class Or:
    left: SearchKey
    right: SearchKey


@dataclass(frozen=True, slots=True)
class And:
    keys: tuple[SearchKey, ...]  # a parenthesized list, or the top-level keys


# fmt: off
SearchKey = (
    All | HasFlag | Contains | HeaderContains | DateCompare | SizeCompare | Age | InSet
    | ModSeqAtLeast | ObjectId | Not | Or | And
)
# fmt: on


class SearchReturn(enum.StrEnum):  # RFC 4731 ESEARCH, RFC 5182 SAVE, RFC 5267 ESORT
    MIN = "MIN"
    MAX = "MAX"
    ALL = "ALL"
    COUNT = "COUNT"
    SAVE = "SAVE"


# -- fetch items (RFC 9051 §6.4.5, RFC 3516, RFC 7162, RFC 8970, RFC 8474) -----------------------


class FetchAttribute(enum.StrEnum):
    ENVELOPE = "ENVELOPE"
    FLAGS = "FLAGS"
    INTERNALDATE = "INTERNALDATE"
    RFC822 = "RFC822"
    RFC822_HEADER = "RFC822.HEADER"
    RFC822_SIZE = "RFC822.SIZE"
    RFC822_TEXT = "RFC822.TEXT"
    BODY = "BODY"  # the non-extensible BODYSTRUCTURE
    BODYSTRUCTURE = "BODYSTRUCTURE"
    UID = "UID"
    MODSEQ = "MODSEQ"
    EMAILID = "EMAILID"
    THREADID = "THREADID"
    SAVEDATE = "SAVEDATE"  # RFC 8514


class SectionText(enum.StrEnum):
    HEADER = "HEADER"
    HEADER_FIELDS = "HEADER.FIELDS"
    HEADER_FIELDS_NOT = "HEADER.FIELDS.NOT"
    TEXT = "TEXT"
    MIME = "MIME"  # only after a part number


@dataclass(frozen=True, slots=True)
class Section:
    part: tuple[int, ...] = ()  # 1.2.3 -> (1, 2, 3); () is the whole message
    text: SectionText | None = None
    fields: tuple[str, ...] = ()  # for HEADER.FIELDS[.NOT], as the client spelled them

    def __str__(self) -> str:
        spec = ".".join(str(n) for n in self.part)
        if self.text is not None:
            spec = f"{spec}.{self.text}" if spec else str(self.text)
        if self.fields:
            spec += " (" + " ".join(self.fields) + ")"
        return spec


@dataclass(frozen=True, slots=True)
class Partial:
    offset: int
    length: int


@dataclass(frozen=True, slots=True)
class BodySection:  # BODY[section]<partial> and BODY.PEEK[...]
    section: Section = Section()
    partial: Partial | None = None
    peek: bool = False


@dataclass(frozen=True, slots=True)
class BinarySection:  # BINARY[part]<partial> and BINARY.PEEK[...] (RFC 3516)
    part: tuple[int, ...] = ()
    partial: Partial | None = None
    peek: bool = False


@dataclass(frozen=True, slots=True)
class BinarySize:  # BINARY.SIZE[part]
    part: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Preview:  # RFC 8970
    lazy: bool = False


FetchItem = FetchAttribute | BodySection | BinarySection | BinarySize | Preview


# -- enumerations of options ---------------------------------------------------------------------


class StatusItem(enum.StrEnum):
    MESSAGES = "MESSAGES"
    UIDNEXT = "UIDNEXT"
    UIDVALIDITY = "UIDVALIDITY"
    UNSEEN = "UNSEEN"
    DELETED = "DELETED"
    SIZE = "SIZE"
    RECENT = "RECENT"  # IMAP4rev1 only
    HIGHESTMODSEQ = "HIGHESTMODSEQ"  # RFC 7162
    APPENDLIMIT = "APPENDLIMIT"  # RFC 7889
    MAILBOXID = "MAILBOXID"  # RFC 8474


class ListSelection(enum.StrEnum):  # RFC 5258 §3.1, RFC 6154
    SUBSCRIBED = "SUBSCRIBED"
    REMOTE = "REMOTE"
    RECURSIVEMATCH = "RECURSIVEMATCH"
    SPECIAL_USE = "SPECIAL-USE"


class ListReturn(enum.StrEnum):  # RFC 5258 §3.2, RFC 6154, RFC 8440; STATUS is separate
    SUBSCRIBED = "SUBSCRIBED"
    CHILDREN = "CHILDREN"
    SPECIAL_USE = "SPECIAL-USE"
    MYRIGHTS = "MYRIGHTS"


class SortKey(enum.StrEnum):  # RFC 5256 §3, RFC 5957 DISPLAYFROM/DISPLAYTO
    ARRIVAL = "ARRIVAL"
    CC = "CC"
    DATE = "DATE"
    FROM = "FROM"
    SIZE = "SIZE"
    SUBJECT = "SUBJECT"
    TO = "TO"
    DISPLAYFROM = "DISPLAYFROM"
    DISPLAYTO = "DISPLAYTO"


class ThreadAlgorithm(enum.StrEnum):  # RFC 5256 §3
    ORDEREDSUBJECT = "ORDEREDSUBJECT"
    REFERENCES = "REFERENCES"


class NotifyFilter(enum.StrEnum):  # RFC 5465 §6
    SELECTED = "selected"
    SELECTED_DELAYED = "selected-delayed"
    INBOXES = "inboxes"
    PERSONAL = "personal"
    SUBSCRIBED = "subscribed"
    SUBTREE = "subtree"
    MAILBOXES = "mailboxes"


# -- commands ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Capability:
    pass


@dataclass(frozen=True, slots=True)
class Noop:
    pass


@dataclass(frozen=True, slots=True)
class Logout:
    pass


@dataclass(frozen=True, slots=True)
class StartTls:
    pass


@dataclass(frozen=True, slots=True)
class Authenticate:
    mechanism: str  # upper-cased
    initial_response: bytes | None = None  # SASL-IR (RFC 4959); b"" for "="


@dataclass(frozen=True, slots=True)
class Login:
    user: str
    password: str


@dataclass(frozen=True, slots=True)
class Enable:
    capabilities: tuple[str, ...]  # upper-cased


@dataclass(frozen=True, slots=True)
class QResync:  # RFC 7162 §3.2.5
    uidvalidity: int
    modseq: int
    known_uids: SequenceSet | None = None
    known_sequence: SequenceSet | None = None  # seq-match-data: these sequence numbers ...
    known_sequence_uids: SequenceSet | None = None  # ... have these UIDs


@dataclass(frozen=True, slots=True)
class Select:
    mailbox: str
    condstore: bool = False
    qresync: QResync | None = None


@dataclass(frozen=True, slots=True)
class Examine:
    mailbox: str
    condstore: bool = False
    qresync: QResync | None = None


@dataclass(frozen=True, slots=True)
class Create:
    mailbox: str
    special_use: tuple[str, ...] = ()  # RFC 6154 CREATE-SPECIAL-USE: "\\Sent", ...


@dataclass(frozen=True, slots=True)
class Delete:
    mailbox: str


@dataclass(frozen=True, slots=True)
class Rename:
    mailbox: str
    new_name: str


@dataclass(frozen=True, slots=True)
class Subscribe:
    mailbox: str


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    mailbox: str


@dataclass(frozen=True, slots=True)
class List:
    reference: str
    patterns: tuple[str, ...]
    selection: frozenset[ListSelection] = frozenset()
    returns: frozenset[ListReturn] = frozenset()
    status_items: tuple[StatusItem, ...] | None = None  # RETURN (STATUS (...)), RFC 5819
    extended: bool = False  # LIST-EXTENDED syntax used (RFC 5258 §3): answers differ


@dataclass(frozen=True, slots=True)
class Lsub:
    reference: str
    pattern: str


@dataclass(frozen=True, slots=True)
class Namespace:
    pass


@dataclass(frozen=True, slots=True)
class Status:
    mailbox: str
    items: tuple[StatusItem, ...]


@dataclass(frozen=True, slots=True)
class AppendMessage:
    data: bytes
    flags: frozenset[str] = frozenset()
    internal_date: datetime | None = None
    binary: bool = False  # sent as literal8 (RFC 3516)


@dataclass(frozen=True, slots=True)
class Append:
    mailbox: str
    messages: tuple[AppendMessage, ...]  # more than one with MULTIAPPEND (RFC 3502)


@dataclass(frozen=True, slots=True)
class Check:
    pass


@dataclass(frozen=True, slots=True)
class Close:
    pass


@dataclass(frozen=True, slots=True)
class Unselect:
    pass


@dataclass(frozen=True, slots=True)
class Expunge:
    pass


@dataclass(frozen=True, slots=True)
class UidExpunge:
    uids: SequenceSet


@dataclass(frozen=True, slots=True)
class Search:
    criteria: SearchKey
    charset: str | None = None  # upper-cased; strings in criteria are already decoded
    returns: frozenset[SearchReturn] | None = None  # None: plain SEARCH; else ESEARCH
    uid: bool = False


@dataclass(frozen=True, slots=True)
class Fetch:
    sequence: SequenceSet
    items: tuple[FetchItem, ...]
    uid: bool = False
    changed_since: int | None = None  # RFC 7162 §3.1.4.1
    vanished: bool = False  # RFC 7162 §3.2.6, UID FETCH only


@dataclass(frozen=True, slots=True)
class Store:
    sequence: SequenceSet
    operation: FlagOp
    flags: frozenset[str]
    silent: bool = False
    unchanged_since: int | None = None  # RFC 7162 §3.1.3
    uid: bool = False


@dataclass(frozen=True, slots=True)
class Copy:
    sequence: SequenceSet
    mailbox: str
    uid: bool = False


@dataclass(frozen=True, slots=True)
class Move:
    sequence: SequenceSet
    mailbox: str
    uid: bool = False


@dataclass(frozen=True, slots=True)
class Idle:
    pass


@dataclass(frozen=True, slots=True)
class Id:  # RFC 2971
    parameters: tuple[tuple[str, str | None], ...] | None  # None for "ID NIL"


@dataclass(frozen=True, slots=True)
class GetQuota:  # RFC 9208
    root: str


@dataclass(frozen=True, slots=True)
class GetQuotaRoot:
    mailbox: str


@dataclass(frozen=True, slots=True)
class SetQuota:
    root: str
    limits: tuple[tuple[str, int], ...]  # (resource upper-cased, limit)


@dataclass(frozen=True, slots=True)
class Compress:  # RFC 4978
    mechanism: str


@dataclass(frozen=True, slots=True)
class Unauthenticate:  # RFC 8437
    pass


@dataclass(frozen=True, slots=True)
class SortCriterion:
    key: SortKey
    reverse: bool = False


@dataclass(frozen=True, slots=True)
class Sort:  # RFC 5256, RFC 5267 ESORT
    criteria: tuple[SortCriterion, ...]
    charset: str
    search: SearchKey
    uid: bool = False
    returns: frozenset[SearchReturn] | None = None


@dataclass(frozen=True, slots=True)
class Thread:  # RFC 5256
    algorithm: ThreadAlgorithm
    charset: str
    search: SearchKey
    uid: bool = False


@dataclass(frozen=True, slots=True)
class NotifyEvent:
    name: str  # RFC spelling for known events ("MessageNew"), else as sent (event-ext)
    fetch_items: tuple[FetchItem, ...] = ()  # MessageNew (...)


@dataclass(frozen=True, slots=True)
class NotifyGroup:
    filter: NotifyFilter
    mailboxes: tuple[str, ...] = ()  # for SUBTREE and MAILBOXES
    events: tuple[NotifyEvent, ...] = ()  # () for NONE


@dataclass(frozen=True, slots=True)
class Notify:  # RFC 5465
    groups: tuple[NotifyGroup, ...] | None  # None for NOTIFY NONE
    status: bool = False


# fmt: off
ImapCommand = (
    Capability | Noop | Logout | StartTls | Authenticate | Login | Enable | Select | Examine
    | Create | Delete | Rename | Subscribe | Unsubscribe | List | Lsub | Namespace | Status
    | Append | Check | Close | Unselect | Expunge | UidExpunge | Search | Fetch | Store | Copy
    | Move | Idle | Id | GetQuota | GetQuotaRoot | SetQuota | Compress | Unauthenticate | Sort
    | Thread | Notify
)
# fmt: on
