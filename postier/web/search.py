"""The search box: from, to, subject (stored summaries) and body (the store's full-text index).

How this works: the body is searched with ``store.search_text`` (FTS over the decoded text of
every text part), which returns the matching UIDs of the whole mailbox at once. From, To/Cc and
Subject have no index in the store API, so they are matched in the stored summaries, scanning
newest first in windows of ``_CHUNK`` UIDs, until a page of results is found or ``_BUDGET``
messages were looked at; the result then says where the scan stopped (``resume_before``) so the
"older results" link continues from there. Case-insensitive substring matching; every word of
the query must match (in any of the selected fields).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

from postier.store.interface import Store
from postier.types import AccountId, Mailbox, Uid, UidSet
from postier.web.listing import PAGE_SIZE, MessageItem, to_items

__all__ = ["FIELDS", "Field", "SearchResult", "search"]

Field = Literal["all", "from", "to", "subject", "body"]
FIELDS: tuple[Field, ...] = ("all", "from", "to", "subject", "body")
_CHUNK = 2_000
_BUDGET = 20_000  # summaries looked at per request
_TIME_BUDGET = 1.5  # seconds


@dataclass(frozen=True, slots=True)
class SearchResult:
    items: list[MessageItem]
    resume_before: Uid | None  # scan further with ?before=<this>; None when done


def _header_text(item: MessageItem, field: Field) -> str:
    summary = item.summary
    if field == "from":
        return f"{summary.from_} {item.sender}"
    if field == "to":
        return f"{summary.to} {summary.cc} {item.recipients}"
    if field == "subject":
        return summary.subject
    return f"{summary.from_} {summary.to} {summary.cc} {summary.subject}"


def _matches(item: MessageItem, words: list[str], field: Field, body: UidSet | None) -> bool:
    if field != "body":
        text = _header_text(item, field).casefold()
        if all(word in text for word in words):
            return True
    return body is not None and item.uid in body


async def search(store: Store, account: AccountId, mailbox: Mailbox, query: str, field: Field,
                 before: int | None = None, size: int = PAGE_SIZE) -> SearchResult:
    words = [w.casefold() for w in query.split() if w]
    top = min(before - 1, mailbox.uidnext - 1) if before is not None else mailbox.uidnext - 1
    if not words:
        return SearchResult([], None)
    body: UidSet | None = None
    if field in ("all", "body"):
        body = await store.search_text(account, mailbox.id, query)
    if field == "body":
        assert body is not None
        uids = sorted((u for u in body if u <= top), reverse=True)
        page = uids[:size]
        records = await store.get_messages(account, mailbox.id, UidSet.of(page))
        items = sorted(to_items(records), key=lambda i: i.uid, reverse=True)
        return SearchResult(items, Uid(page[-1]) if len(uids) > size else None)
    found: list[MessageItem] = []
    scanned = 0
    deadline = time.monotonic() + _TIME_BUDGET
    while top >= 1 and len(found) < size:
        if scanned >= _BUDGET or time.monotonic() > deadline:
            return SearchResult(found, Uid(top + 1))
        low = max(1, top - _CHUNK + 1)
        records = await store.get_messages(account, mailbox.id, UidSet.span(low, top))
        scanned += len(records)
        for item in reversed(to_items(records)):
            if _matches(item, words, field, body):
                found.append(item)
                if len(found) == size:
                    return SearchResult(found, item.uid if item.uid > 1 else None)
        top = low - 1
    return SearchResult(found, None)
