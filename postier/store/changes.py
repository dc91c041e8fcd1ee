"""Committed changes and their fan-out to the sessions that watch an account.

How this works: a backend commits a mutation, then calls ``ChangeHub.publish(changes)`` from the
event loop thread, in commit order. Each IMAP session, IDLE waiter or webmail tab holds a
``Subscription`` for one account: a bounded deque plus one future, created only while someone
waits, that the next change completes (``ready``). Publishing is O(number
of subscribers of that account) and never blocks; a subscriber that stops draining overflows and is
told so (``overflowed``), at which point it must resynchronise from the store or disconnect — memory
never grows without bound.

Changes are plain data with ``to_json``/``from_json`` so a PostgreSQL backend can carry them
between nodes with LISTEN/NOTIFY and republish them on each node's hub (``publish`` is the only
entry point, local or remote).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from postier.types import AccountId, Flag, MailboxId, ModSeq, Uid

_RECENT_CLAIMS = 10_000  # mailboxes remembered by ChangeHub.recent_claimed

__all__ = [
    "Change",
    "ChangeHub",
    "FlagsChanged",
    "MailboxCreated",
    "MailboxDeleted",
    "MailboxRenamed",
    "MessageAdded",
    "MessagesExpunged",
    "Subscription",
    "SubscriptionChanged",
    "change_from_json",
]


@dataclass(frozen=True, slots=True)
class MessageAdded:
    account: AccountId
    mailbox: MailboxId
    uid: Uid
    modseq: ModSeq
    flags: frozenset[Flag]


@dataclass(frozen=True, slots=True)
class FlagsChanged:
    account: AccountId
    mailbox: MailboxId
    uid: Uid
    modseq: ModSeq
    flags: frozenset[Flag]


@dataclass(frozen=True, slots=True)
class MessagesExpunged:
    account: AccountId
    mailbox: MailboxId
    uids: tuple[Uid, ...]
    modseq: ModSeq


@dataclass(frozen=True, slots=True)
class MailboxCreated:
    account: AccountId
    mailbox: MailboxId
    name: str


@dataclass(frozen=True, slots=True)
class MailboxDeleted:
    account: AccountId
    mailbox: MailboxId
    name: str


@dataclass(frozen=True, slots=True)
class MailboxRenamed:
    account: AccountId
    mailbox: MailboxId
    old_name: str
    new_name: str


@dataclass(frozen=True, slots=True)
class SubscriptionChanged:
    account: AccountId
    name: str
    subscribed: bool


Change = (MessageAdded | FlagsChanged | MessagesExpunged | MailboxCreated | MailboxDeleted
          | MailboxRenamed | SubscriptionChanged)

_KINDS: dict[str, type[Any]] = {
    cls.__name__: cls
    for cls in (MessageAdded, FlagsChanged, MessagesExpunged, MailboxCreated, MailboxDeleted,
                MailboxRenamed, SubscriptionChanged)
}


def change_to_json(change: Change) -> dict[str, Any]:
    data: dict[str, Any] = {"kind": type(change).__name__}
    for name in change.__slots__:
        value = getattr(change, name)
        data[name] = sorted(value) if isinstance(value, frozenset) else (
            list(value) if isinstance(value, tuple) else value)
    return data


def change_from_json(data: dict[str, Any]) -> Change:
    cls = _KINDS[data["kind"]]
    values = {k: v for k, v in data.items() if k != "kind"}
    if "flags" in values:
        values["flags"] = frozenset(values["flags"])
    if "uids" in values:
        values["uids"] = tuple(values["uids"])
    change: Change = cls(**values)
    return change


class Subscription:
    """One watcher's view of an account's changes; drain it at safe points."""

    __slots__ = ("_hub", "_limit", "_pending", "_ready", "account", "closed", "overflowed")

    def __init__(self, hub: ChangeHub, account: AccountId, limit: int) -> None:
        self._hub = hub
        self.account = account
        self._limit = limit
        self._pending: deque[Change] = deque()
        self._ready: asyncio.Future[None] | None = None  # see ready()
        self.overflowed = False
        self.closed = False

    def _push(self, change: Change) -> None:
        if self.overflowed:
            return
        if len(self._pending) >= self._limit:
            # The watcher is not keeping up: drop everything and let it resynchronise.
            self._pending.clear()
            self.overflowed = True
        else:
            self._pending.append(change)
        self._wake()

    def _wake(self) -> None:
        ready, self._ready = self._ready, None
        if ready is not None and not ready.done():
            ready.set_result(None)

    def drain(self) -> list[Change]:
        changes = list(self._pending)
        self._pending.clear()
        return changes

    def has_pending(self) -> bool:
        return bool(self._pending) or self.overflowed

    async def wait(self) -> None:
        """Return once there is something to drain (or the subscription overflowed)."""
        if not self.has_pending() and not self.closed:
            # Shielded: cancelling this wait must not cancel the future others share.
            await asyncio.shield(self.ready())

    def ready(self) -> asyncio.Future[None]:
        """A future that is done once there is something to drain (or the subscription
        overflowed or closed): the cheap way to wait on it together with other things, by
        ``add_done_callback`` rather than a task per wait. The future is shared by everyone
        waiting until the next change: add and remove callbacks, never cancel it."""
        if self.has_pending() or self.closed:
            done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            done.set_result(None)
            return done
        if self._ready is None:
            self._ready = asyncio.get_running_loop().create_future()
        return self._ready

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._hub._remove(self)
            self._wake()

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ChangeHub:
    def __init__(self, subscription_limit: int = 10_000) -> None:
        self._by_account: dict[AccountId, set[Subscription]] = {}
        self._listeners: list[Callable[[list[Change]], None]] = []
        self._limit = subscription_limit
        self._recent_claims: dict[tuple[MailboxId, int], Uid] = {}

    def recent_claimed(self, mailbox: MailboxId, uidvalidity: int, through: Uid) -> bool:
        """IMAP4rev1 \\Recent (RFC 3501 §2.3.2): whether a session in this process has already
        claimed (or is claiming, ``store.claim_recent``) the mailbox's messages up to UID
        ``through``. If not, the caller is noted as claiming them and must claim in the store.

        A claim moves the store's first recent UID past every message that existed, so a second
        claim for the same messages is bound to find none of them recent: when many sessions of
        one mailbox are told about the same new messages at once, the first claims them in the
        store and the others skip a write that could only come back empty. The memo is a lower
        bound of the store's value, so forgetting it (as ``_RECENT_CLAIMS`` entries do) costs a
        write, never correctness; claims by other nodes need not be seen here."""
        key = (mailbox, uidvalidity)
        if self._recent_claims.get(key, 0) >= through:
            return True
        if len(self._recent_claims) >= _RECENT_CLAIMS:
            self._recent_claims.clear()
        self._recent_claims[key] = through
        return False

    def subscribe(self, account: AccountId) -> Subscription:
        subscription = Subscription(self, account, self._limit)
        self._by_account.setdefault(account, set()).add(subscription)
        return subscription

    def add_listener(self, listener: Callable[[list[Change]], None]) -> None:
        """Called with every published batch (e.g. to forward it to other nodes)."""
        self._listeners.append(listener)

    def publish(self, changes: Iterable[Change]) -> None:
        batch = list(changes)
        if not batch:
            return
        for change in batch:
            for subscription in self._by_account.get(change.account, ()):
                subscription._push(change)
        for listener in self._listeners:
            listener(batch)

    def resynchronise(self) -> None:
        """Tell every subscriber it may have missed changes (the link that carries other nodes'
        changes was down): each is marked overflowed and re-reads the store."""
        for subscribers in list(self._by_account.values()):
            for subscription in list(subscribers):
                subscription._pending.clear()
                subscription.overflowed = True
                subscription._wake()

    def subscriber_count(self, account: AccountId) -> int:
        return len(self._by_account.get(account, ()))

    def _remove(self, subscription: Subscription) -> None:
        subscribers = self._by_account.get(subscription.account)
        if subscribers is not None:
            subscribers.discard(subscription)
            if not subscribers:
                del self._by_account[subscription.account]
