"""Backend-neutral rules every store applies the same way: mailbox names, flag encoding, and
turning a mailbox row into a record. Both backends store the same columns, so they share these.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from postier.errors import InvalidArgument
from postier.types import (
    HIERARCHY_SEPARATOR,
    AccountId,
    Flag,
    Mailbox,
    MailboxId,
    ModSeq,
    SpecialUse,
    Uid,
    UidValidity,
    normalize_flags,
    normalize_mailbox_name,
)

__all__ = ["DELETED_BIT", "MAILBOX_COLUMNS", "MAX_DEPTH", "MAX_KEYWORD_LENGTH",
           "MAX_NAME_LENGTH", "SEEN_BIT", "decode_flags", "encode_flags", "row_to_mailbox",
           "validate_name"]

MAILBOX_COLUMNS = ("b.id, b.account_id, b.name, b.special_use, b.uidvalidity, b.uidnext,"
                   " b.highest_modseq, EXISTS (SELECT 1 FROM subscriptions s"
                   " WHERE s.account_id = b.account_id AND s.name = b.name)")
MAX_NAME_LENGTH = 1000
MAX_DEPTH = 32
MAX_KEYWORD_LENGTH = 200

# System flags are stored as bits (fast unseen/deleted counts); keywords as sorted text.
_BITS: dict[Flag, int] = {"\\Seen": 1, "\\Answered": 2, "\\Flagged": 4, "\\Deleted": 8,
                          "\\Draft": 16}
SEEN_BIT = 1
DELETED_BIT = 8


def row_to_mailbox(row: Any) -> Mailbox:
    """A row selected with MAILBOX_COLUMNS."""
    return Mailbox(
        id=MailboxId(int(row[0])),
        account_id=AccountId(int(row[1])),
        name=str(row[2]),
        special_use=None if row[3] is None else SpecialUse(str(row[3])),
        uidvalidity=UidValidity(int(row[4])),
        uidnext=Uid(int(row[5])),
        highest_modseq=ModSeq(int(row[6])),
        subscribed=bool(row[7]),
    )


def validate_name(name: str) -> str:
    name = normalize_mailbox_name(name)
    parts = name.split(HIERARCHY_SEPARATOR)
    if (not name or len(name) > MAX_NAME_LENGTH or len(parts) > MAX_DEPTH
            or any(not p for p in parts)):
        raise InvalidArgument(f"invalid mailbox name {name!r}")
    # Control characters include NUL, which PostgreSQL text cannot hold.
    if any(ord(c) < 0x20 or c == "\x7f" for c in name) or "*" in name or "%" in name:
        raise InvalidArgument("mailbox names cannot contain control characters, '*' or '%'")
    return name


def encode_flags(flags: Iterable[Flag]) -> tuple[int, str]:
    bits = 0
    keywords: list[str] = []
    for flag in normalize_flags(flags):
        bit = _BITS.get(flag)
        if bit is not None:
            bits |= bit
        elif flag.startswith("\\"):
            continue  # \Recent and unknown system flags are never stored
        else:
            # isprintable() is False for NUL and every other control character.
            if len(flag) > MAX_KEYWORD_LENGTH or not flag.isprintable() or " " in flag:
                raise InvalidArgument(f"invalid keyword {flag[:40]!r}")
            keywords.append(flag)
    return bits, " ".join(sorted(keywords))


@functools.lru_cache(maxsize=1024)  # a mailbox has few distinct flag sets; every row read decodes
def decode_flags(bits: int, keywords: str) -> frozenset[Flag]:
    flags = {flag for flag, bit in _BITS.items() if bits & bit}
    if keywords:
        flags.update(keywords.split(" "))
    return frozenset(flags)
