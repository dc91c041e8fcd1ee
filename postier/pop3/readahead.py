"""Message bodies for RETR and TOP, read ahead in groups while the client reads the current one.

How this works: clients download a maildrop in order (UIDL, then RETR 1, RETR 2, ... one at a
time, as fetchmail and most clients do), so reading each body on demand costs one trip to a
store reader per message, and the client waits for it every time. ``ReadAhead.body(number)``
instead reads a *group*: the asked-for message and those after it, up to ``GROUP_MESSAGES``
messages or ``GROUP_BYTES`` octets (always at least the one asked for), in one
``store.read_messages`` call. Once the client has taken half a group, the next group is read
in the background, so the bodies are usually there before the client asks.

Memory stays bounded per session: the bodies not yet taken (at most one group) plus the group
being read, each under ``GROUP_BYTES`` unless a single message is larger. A message larger
than ``GROUP_BYTES`` is never read in the background, only when asked for. A body is dropped
once taken: a client that asks for the same message twice (TOP, then RETR) reads it twice.
Asking out of order (a new group starts at the asked-for message) drops what was read ahead.

A body that the store no longer has (expunged by another client since login) comes back as
NotFound for that message alone, as ``read_message`` would raise it; one read ahead before
another client expunged it is still sent, as it would have been had the client asked a moment
earlier.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

from postier.errors import NotFound
from postier.store.interface import MailStore
from postier.types import AccountId, MessageRecord

__all__ = ["GROUP_BYTES", "GROUP_MESSAGES", "ReadAhead"]

GROUP_MESSAGES = 32
GROUP_BYTES = 1024 * 1024


class ReadAhead:
    def __init__(self, store: MailStore, account: AccountId,
                 records: Sequence[MessageRecord]) -> None:
        """``records``: the maildrop's messages in message-number order (number 1 first)."""
        self._store = store
        self._account = account
        self._records = records
        self._ready: dict[int, bytes | None] = {}  # number → body, for the current group
        self._next = 0  # the first number after the current group; 0 when there is none
        self._pending: asyncio.Task[dict[int, bytes | None]] | None = None
        self._pending_first = 0  # the first number of the group being read
        self._group_length = 0  # how many bodies the current group had when read

    async def body(self, number: int) -> bytes:
        """The stored body of message ``number`` (1-based); NotFound if it no longer exists."""
        pending = self._pending
        if number not in self._ready and pending is not None and number == self._pending_first:
            self._pending = None  # taken, whether it succeeds or raises
            self._take_pending(await pending)
        if number in self._ready:
            body = self._ready.pop(number)
        else:
            self._cancel_pending()
            self._ready.clear()
            group = self._group(number, background=False)
            self._ready.update(await self._read(group))
            self._next = group[-1] + 1
            self._group_length = len(group)
            body = self._ready.pop(number)
        self._drop_before(number)
        self._maybe_read_next()
        if body is None:
            raise NotFound("the message no longer exists")
        return body

    def close(self) -> None:
        self._cancel_pending()
        self._ready.clear()

    def _group(self, first: int, *, background: bool) -> list[int]:
        numbers: list[int] = []
        size = 0
        for number in range(first, len(self._records) + 1):
            record_size = self._records[number - 1].size
            full = len(numbers) >= GROUP_MESSAGES or size + record_size > GROUP_BYTES
            if full and (numbers or background):
                break
            numbers.append(number)
            size += record_size
        return numbers

    async def _read(self, numbers: list[int]) -> dict[int, bytes | None]:
        records = [self._records[n - 1] for n in numbers]
        bodies = await self._store.read_messages(self._account, records)
        return dict(zip(numbers, bodies, strict=True))

    def _maybe_read_next(self) -> None:
        """Start reading the next group once at most half of the current one is left."""
        if self._pending is not None or not self._next \
                or len(self._ready) > self._group_length // 2:
            return
        group = self._group(self._next, background=True)
        if not group:
            return  # the end of the maildrop, or a message too large to read unasked
        self._pending = asyncio.create_task(self._read(group))
        self._pending_first = group[0]
        self._next = 0

    def _take_pending(self, bodies: dict[int, bytes | None]) -> None:
        self._ready.update(bodies)
        self._next = max(bodies) + 1
        self._group_length = len(bodies)

    def _drop_before(self, number: int) -> None:
        for earlier in [n for n in self._ready if n < number]:
            del self._ready[earlier]

    def _cancel_pending(self) -> None:
        pending, self._pending = self._pending, None
        if pending is None:
            return
        if pending.done():
            with contextlib.suppress(asyncio.CancelledError, Exception):
                pending.result()  # retrieved, so asyncio does not log it as never retrieved
        else:
            pending.cancel()
