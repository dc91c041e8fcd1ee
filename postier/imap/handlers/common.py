"""Helpers shared by the command handlers: names, sequence sets, message records.

How this works
--------------
* :func:`mailbox_name` turns the client's spelling into the store's, answering ``BAD`` for a
  name that is not valid modified UTF-7 (IMAP4rev1) — a syntax error, not a missing mailbox.
* :func:`select_messages` resolves a sequence set against the selected view; a number past
  the end is ``BAD`` (RFC 9051 §7.5.1 and §6.4.8 notes).
* :func:`load_records` reads the records of many messages in as few store queries as the set
  allows: it asks for runs of consecutive *view positions* as UID spans, so ``1:*`` of a
  10,000-message mailbox is one query however sparse its UIDs are after expunges; a scattered
  set is read one span per (indexed) query, several concurrently. :func:`load_listing` does
  the same with the store's narrow listing read (FETCH of metadata items only).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from typing import TypeVar

from postier.imap.commands import SequenceSet
from postier.imap.context import Context
from postier.imap.errors import bad, no
from postier.imap.mailbox_names import InvalidMailboxName
from postier.imap.responses import SimpleCode
from postier.imap.selected import SequenceError
from postier.types import ListedMessage, MessageRecord, Uid, UidRange, UidSet

__all__ = ["load_listing", "load_records", "mailbox_name", "require_writable", "select_messages",
           "spans"]

_RANGES_PER_QUERY = 400  # two SQL parameters per range, far below SQLite's limit
_FEW_RANGES = 8  # up to this many ranges, one records query
_PARALLEL_QUERIES = 32

T = TypeVar("T")


def mailbox_name(ctx: Context, name: str) -> str:
    try:
        return ctx.names.decode(name)
    except InvalidMailboxName as error:
        raise bad(str(error)) from None


def select_messages(ctx: Context, sequence: SequenceSet, *, uid: bool) -> list[tuple[int, int]]:
    try:
        return ctx.view.messages(sequence, uid=uid)
    except SequenceError as error:
        raise bad(str(error)) from None


def require_writable(ctx: Context) -> None:
    if ctx.view.readonly:
        raise no("the mailbox is selected read-only (EXAMINE)", SimpleCode.READ_ONLY)


def _runs(messages: list[tuple[int, int]]) -> list[UidRange]:
    """UID ranges covering ``messages`` (seq, uid): consecutive positions become one range."""
    ranges: list[UidRange] = []
    if not messages:
        return ranges
    previous_seq, first_uid = messages[0]
    previous_uid = first_uid
    for seq, uid in itertools.islice(messages, 1, None):
        if seq != previous_seq + 1:
            ranges.append(UidRange(Uid(first_uid), Uid(previous_uid)))
            first_uid = uid
        previous_seq, previous_uid = seq, uid
    ranges.append(UidRange(Uid(first_uid), Uid(previous_uid)))
    return ranges


def spans(messages: list[tuple[int, int]]) -> list[UidSet]:
    """``messages`` as UID sets of at most ``_RANGES_PER_QUERY`` ranges each."""
    ranges = _runs(messages)
    return [UidSet(tuple(ranges[i : i + _RANGES_PER_QUERY]))
            for i in range(0, len(ranges), _RANGES_PER_QUERY)]


async def load_records(ctx: Context,
                       messages: list[tuple[int, int]]) -> dict[int, MessageRecord]:
    """uid → record for the messages that still exist in the store."""
    mailbox = ctx.selected.mailbox.id

    async def query(uids: UidSet) -> list[MessageRecord]:
        return await ctx.store.get_messages(ctx.account, mailbox, uids)

    wanted = {uid for _seq, uid in messages}
    return {record.uid: record for found in await _read_runs(messages, query)
            for record in found if record.uid in wanted}


async def load_listing(ctx: Context, messages: list[tuple[int, int]], *,
                       structure: bool = False) -> dict[int, ListedMessage]:
    """uid → ``ListedMessage`` (``store.list_messages``) for the messages that still exist."""
    mailbox = ctx.selected.mailbox.id

    async def query(uids: UidSet) -> list[ListedMessage]:
        return await ctx.store.list_messages(ctx.account, mailbox, uids, structure=structure)

    wanted = {uid for _seq, uid in messages}
    return {row[0]: row for found in await _read_runs(messages, query)
            for row in found if row[0] in wanted}


async def _read_runs(messages: list[tuple[int, int]],
                     query: Callable[[UidSet], Awaitable[list[T]]]) -> list[list[T]]:
    """``query`` over the UID runs of ``messages``, in as few queries as the set allows.

    A few ranges go in one query. A scattered set (SEARCH hits, a client's ``1,5,9,...``) is
    read one range per query, several at a time: each such query is an index lookup, while
    one query over hundreds of OR-ed ranges makes SQLite scan the whole mailbox.
    """
    if not messages:
        return []
    ranges = _runs(messages)
    if len(ranges) <= _FEW_RANGES:
        return [await query(UidSet(tuple(ranges)))]
    results: list[list[T]] = []
    for start in range(0, len(ranges), _PARALLEL_QUERIES):
        group = ranges[start : start + _PARALLEL_QUERIES]
        results += await asyncio.gather(*(query(UidSet((r,))) for r in group))
    return results
