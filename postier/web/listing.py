"""Message lists: one page at a time, by UID keyset, without loading the mailbox.

How this works: UIDs grow with arrival, so "newest first" is "highest UID first". A page is
fetched with ``store.get_messages(uids=UidSet.span(low, high))`` over a window below (or above)
a cursor UID; when expunges left the window short, the next window is four times wider, so a
dense mailbox costs one indexed range query per page and a sparse one a handful, whatever its
size (100,000 messages list as fast as 100). Nothing reads ``message_states`` for the whole
mailbox. Links carry the cursor: ``before=UID`` (older) or ``after=UID`` (newer).

Each record becomes a ``MessageItem``: flags plus the summary parsed at delivery (subject, From,
To, preview, attachments, Message-ID, References).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from postier.mime import Envelope, MessageSummary
from postier.store.interface import Store
from postier.types import (
    ANSWERED,
    DRAFT,
    FLAGGED,
    SEEN,
    AccountId,
    Flag,
    Mailbox,
    MailboxId,
    MessageRecord,
    Uid,
    UidSet,
)

__all__ = ["PAGE_SIZE", "MessageItem", "Order", "Page", "load_page", "scan_down", "to_items"]

PAGE_SIZE = 50
MAX_UID = 2**32 - 1
_MAX_WINDOW = 65_536
Order = Literal["desc", "asc"]


@dataclass(frozen=True, slots=True)
class MessageItem:
    mailbox: MailboxId
    uid: Uid
    flags: frozenset[Flag]
    size: int
    received: datetime
    summary: MessageSummary

    @property
    def seen(self) -> bool:
        return SEEN in self.flags

    @property
    def flagged(self) -> bool:
        return FLAGGED in self.flags

    @property
    def answered(self) -> bool:
        return ANSWERED in self.flags

    @property
    def draft(self) -> bool:
        return DRAFT in self.flags

    @property
    def subject(self) -> str:
        return self.summary.subject.strip() or "(no subject)"

    @property
    def date(self) -> datetime:
        return self.summary.date or self.received

    @property
    def sender(self) -> str:
        return _names(self.summary.envelope.from_) or self.summary.from_ or "(unknown sender)"

    @property
    def recipients(self) -> str:
        envelope = self.summary.envelope
        return _names((*envelope.to, *envelope.cc)) or self.summary.to or "(no recipients)"

    @property
    def message_id(self) -> str:
        return self.summary.message_id

    @property
    def thread_key(self) -> str:
        """The conversation's root Message-ID as this message knows it."""
        summary = self.summary
        for ids in (summary.references, summary.in_reply_to):
            if ids:
                return ids[0]
        return summary.message_id or f"uid:{self.mailbox}:{self.uid}"

    def related_to(self, other: MessageItem) -> bool:
        mine = {self.message_id, *self.summary.references, *self.summary.in_reply_to}
        theirs = {other.message_id, *other.summary.references, *other.summary.in_reply_to}
        mine.discard("")
        return self.thread_key == other.thread_key or bool(mine & theirs)


def _names(addresses: Iterable[object]) -> str:
    names = []
    for entry in addresses:
        address = getattr(entry, "to_address", lambda: None)()
        if address is not None:
            names.append(address.name or str(address))
    return ", ".join(names)


def parse_summary(record: MessageRecord) -> MessageSummary:
    try:
        data = json.loads(record.summary_json)
        if isinstance(data, dict):
            return MessageSummary.from_json(data)
    except (ValueError, TypeError, RecursionError):
        pass
    return MessageSummary(envelope=Envelope())


def to_items(records: Iterable[MessageRecord]) -> list[MessageItem]:
    return [MessageItem(r.mailbox_id, r.uid, r.flags, r.size, r.internal_date, parse_summary(r))
            for r in records]


@dataclass(frozen=True, slots=True)
class Page:
    items: list[MessageItem]
    newer: Uid | None  # cursor for ?after= when newer messages exist
    older: Uid | None  # cursor for ?before= when older messages exist


async def scan_down(store: Store, account: AccountId, mailbox: MailboxId, top: int,
                    want: int) -> list[MessageRecord]:
    """Up to ``want`` messages with UID <= ``top``, highest first."""
    found: list[MessageRecord] = []
    window = max(want, 1)
    while top >= 1 and len(found) < want:
        low = max(1, top - window + 1)
        batch = await store.get_messages(account, mailbox, UidSet.span(low, top))
        found.extend(reversed(batch))
        top = low - 1
        window = min(window * 4, _MAX_WINDOW)
    return found[:want]


async def scan_up(store: Store, account: AccountId, mailbox: Mailbox, bottom: int,
                  want: int) -> list[MessageRecord]:
    """Up to ``want`` messages with UID >= ``bottom``, lowest first."""
    found: list[MessageRecord] = []
    window = max(want, 1)
    last = mailbox.uidnext - 1
    while bottom <= last and len(found) < want:
        high = min(last, bottom + window - 1)
        found.extend(await store.get_messages(account, mailbox.id, UidSet.span(bottom, high)))
        bottom = high + 1
        window = min(window * 4, _MAX_WINDOW)
    return found[:want]


async def load_page(store: Store, account: AccountId, mailbox: Mailbox, *, order: Order = "desc",
                    before: int | None = None, after: int | None = None,
                    size: int = PAGE_SIZE) -> Page:
    top = mailbox.uidnext - 1
    if before is not None or (after is None and order == "desc"):
        start = min(before - 1, top) if before is not None else top
        records = await scan_down(store, account, mailbox.id, start, size + 1)
        more_older = len(records) > size
        records = records[:size]
        more_newer = before is not None and bool(
            await scan_up(store, account, mailbox, before, 1))
    else:
        start = after + 1 if after is not None else 1
        records = await scan_up(store, account, mailbox, start, size + 1)
        more_newer = len(records) > size
        records = list(reversed(records[:size]))
        more_older = after is not None and bool(
            await scan_down(store, account, mailbox.id, after, 1))
    items = to_items(records)  # highest UID first
    if order == "asc":
        items.reverse()
    uids = [item.uid for item in items]
    return Page(items,
                newer=Uid(max(uids)) if uids and more_newer else None,
                older=Uid(min(uids)) if uids and more_older else None)
