"""Protocol-neutral values shared by every layer.

Nothing here knows about IMAP, SMTP, POP3 or SQL. Ids are NewTypes over int so mypy keeps an
account id from being passed where a mailbox id is expected. Flags are plain strings in their IMAP
spelling (``\\Seen``), because that spelling is also what RFC 5322 tools and Sieve use; keywords
are any other atom.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import NewType

AccountId = NewType("AccountId", int)
DomainId = NewType("DomainId", int)
MailboxId = NewType("MailboxId", int)
MessageId = NewType("MessageId", int)  # store-wide row id of one message in one mailbox
Uid = NewType("Uid", int)
UidValidity = NewType("UidValidity", int)
ModSeq = NewType("ModSeq", int)
BlobId = NewType("BlobId", str)  # content address: hex sha256 of the stored bytes

Flag = str

SEEN: Flag = "\\Seen"
ANSWERED: Flag = "\\Answered"
FLAGGED: Flag = "\\Flagged"
DELETED: Flag = "\\Deleted"
DRAFT: Flag = "\\Draft"
SYSTEM_FLAGS: tuple[Flag, ...] = (SEEN, ANSWERED, FLAGGED, DELETED, DRAFT)
_SYSTEM_BY_LOWER = {f.lower(): f for f in SYSTEM_FLAGS}

HIERARCHY_SEPARATOR = "/"
INBOX = "INBOX"


def normalize_flag(flag: str) -> Flag:
    """System flags are case-insensitive (RFC 9051 §2.3.2); keep one canonical spelling."""
    if flag.startswith("\\"):
        return _SYSTEM_BY_LOWER.get(flag.lower(), flag)
    return flag


def normalize_flags(flags: Iterable[str]) -> frozenset[Flag]:
    return frozenset(normalize_flag(f) for f in flags)


def normalize_mailbox_name(name: str) -> str:
    """INBOX is case-insensitive, every other name is case-sensitive (RFC 9051 §5.1)."""
    head, sep, rest = name.partition(HIERARCHY_SEPARATOR)
    if head.upper() == INBOX:
        return INBOX + sep + rest
    return name


class SpecialUse(enum.StrEnum):
    """RFC 6154 special-use attributes (INBOX is not one, but every account has one)."""

    ALL = "\\All"
    ARCHIVE = "\\Archive"
    DRAFTS = "\\Drafts"
    FLAGGED = "\\Flagged"
    JUNK = "\\Junk"
    SENT = "\\Sent"
    TRASH = "\\Trash"


DEFAULT_MAILBOXES: tuple[tuple[str, SpecialUse | None], ...] = (
    (INBOX, None),
    ("Sent", SpecialUse.SENT),
    ("Drafts", SpecialUse.DRAFTS),
    ("Trash", SpecialUse.TRASH),
    ("Junk", SpecialUse.JUNK),
    ("Archive", SpecialUse.ARCHIVE),
)


class FlagOp(enum.Enum):
    ADD = "add"
    REMOVE = "remove"
    REPLACE = "replace"


class Pop3DeletePolicy(enum.StrEnum):
    EXPUNGE = "expunge"
    TRASH = "trash"
    KEEP = "keep"


@dataclass(frozen=True, slots=True)
class UidRange:
    first: Uid
    last: Uid  # inclusive


@dataclass(frozen=True, slots=True)
class UidSet:
    """A set of UIDs as sorted, non-overlapping, non-adjacent inclusive ranges."""

    ranges: tuple[UidRange, ...] = ()

    @classmethod
    def of(cls, uids: Iterable[int]) -> UidSet:
        ordered = sorted(set(uids))
        ranges: list[UidRange] = []
        for uid in ordered:
            if ranges and ranges[-1].last + 1 == uid:
                ranges[-1] = UidRange(ranges[-1].first, Uid(uid))
            else:
                ranges.append(UidRange(Uid(uid), Uid(uid)))
        return cls(tuple(ranges))

    @classmethod
    def span(cls, first: int, last: int) -> UidSet:
        if last < first:
            return cls()
        return cls((UidRange(Uid(first), Uid(last)),))

    def __contains__(self, uid: object) -> bool:
        return isinstance(uid, int) and any(r.first <= uid <= r.last for r in self.ranges)

    def __iter__(self) -> Iterator[Uid]:
        for r in self.ranges:
            yield from (Uid(u) for u in range(r.first, r.last + 1))

    def __bool__(self) -> bool:
        return bool(self.ranges)

    def __len__(self) -> int:
        return sum(r.last - r.first + 1 for r in self.ranges)

    def __str__(self) -> str:
        """IMAP sequence-set syntax, which is also a compact human form: ``1:3,7``."""
        return ",".join(str(r.first) if r.first == r.last else f"{r.first}:{r.last}"
                        for r in self.ranges)


@dataclass(frozen=True, slots=True)
class Address:
    """An email address split once, with its display name when it came from a header."""

    local: str
    domain: str
    name: str = ""

    def __str__(self) -> str:
        return f"{self.local}@{self.domain}" if self.domain else self.local


@dataclass(frozen=True, slots=True)
class Domain:
    id: DomainId
    name: str
    catch_all: str | None = None  # address that receives mail for unknown local parts


@dataclass(frozen=True, slots=True)
class Account:
    id: AccountId
    address: str  # canonical: local@domain, domain lower-cased
    quota_bytes: int | None  # None: unlimited
    used_bytes: int
    message_count: int
    pop3_delete_policy: Pop3DeletePolicy
    created_at: datetime
    disabled: bool = False


@dataclass(frozen=True, slots=True)
class Alias:
    address: str
    targets: tuple[str, ...]  # local or remote addresses


@dataclass(frozen=True, slots=True)
class Credentials:
    """What the authenticator needs of an account; never leaves the auth layer."""

    account_id: AccountId
    address: str
    password_hash: str
    scram_sha256: str | None  # "iterations$salt_b64$stored_key_b64$server_key_b64"
    disabled: bool


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated user."""

    account_id: AccountId
    address: str


@dataclass(frozen=True, slots=True)
class Mailbox:
    id: MailboxId
    account_id: AccountId
    name: str  # full hierarchical name, "/" separated, UTF-8
    special_use: SpecialUse | None
    uidvalidity: UidValidity
    uidnext: Uid
    highest_modseq: ModSeq
    subscribed: bool


@dataclass(frozen=True, slots=True)
class MailboxStatus:
    mailbox: Mailbox
    messages: int
    unseen: int
    deleted: int
    recent: int
    size: int  # sum of message sizes (RFC 8438 STATUS SIZE)


@dataclass(frozen=True, slots=True)
class MessageRecord:
    """One message in one mailbox, with the metadata parsed once at delivery."""

    id: MessageId
    mailbox_id: MailboxId
    uid: Uid
    modseq: ModSeq
    flags: frozenset[Flag]
    internal_date: datetime
    size: int
    blob_id: BlobId
    header_prefix: bytes  # per-recipient trace fields (Return-Path, Received) before the blob
    structure_json: str = field(default="{}", compare=False, repr=False)  # mime tree, offsets
    summary_json: str = field(default="{}", compare=False, repr=False)  # envelope, search fields


ListedMessage = tuple[Uid, ModSeq, frozenset[Flag], datetime, int, str, str]
"""One message as a listing reads it (``MailStore.list_messages``): uid, modseq, flags,
internal date, size, summary JSON and structure JSON ("" unless asked for). A plain tuple, not
a record: a mailbox-wide listing reads tens of thousands of them, and building a frozen
dataclass costs more than reading the row."""


@dataclass(frozen=True, slots=True)
class Quota:
    used_bytes: int
    limit_bytes: int | None
    messages: int
