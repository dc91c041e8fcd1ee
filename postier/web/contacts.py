"""Address autocomplete from past correspondents.

How this works: the people a user writes to (To/Cc of the newest ``_RECENT`` messages in Sent)
and hears from (From/Cc of the newest in INBOX) are counted from the stored summaries — a
bounded window, not the whole mailbox — and kept per account for ``_TTL`` seconds. Addresses
the user just sent to are added at once. A query matches names and addresses by substring;
the most frequent correspondents come first.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable

from postier.errors import NotFound
from postier.mime import EnvelopeAddress
from postier.store.interface import Store
from postier.types import INBOX, AccountId, SpecialUse
from postier.web.listing import scan_down, to_items

__all__ = ["ContactBook"]

_RECENT = 500
_TTL = 300.0
_MAX_ACCOUNTS = 1_000


class _Entry:
    def __init__(self, made: float) -> None:
        self.made = made
        self.counts: Counter[str] = Counter()  # lower-cased address → uses
        self.names: dict[str, tuple[str, str]] = {}  # lower-cased address → (name, address)

    def add(self, name: str, address: str, weight: int = 1) -> None:
        key = address.lower()
        if not key or "@" not in key:
            return
        self.counts[key] += weight
        known = self.names.get(key)
        if known is None or (name and not known[0]):
            self.names[key] = (name, address)


class ContactBook:
    def __init__(self) -> None:
        self._entries: dict[AccountId, _Entry] = {}

    async def suggest(self, store: Store, account: AccountId, own: Iterable[str], query: str,
                      limit: int = 8) -> list[tuple[str, str]]:
        entry = await self._entry(store, account)
        needle = query.strip().casefold()
        if not needle:
            return []
        mine = {a.lower() for a in own}
        hits = [(count, key) for key, count in entry.counts.items()
                if key not in mine and (needle in key or needle in entry.names[key][0].casefold())]
        hits.sort(key=lambda hit: (-hit[0], hit[1]))
        return [entry.names[key] for _, key in hits[:limit]]

    def remember(self, account: AccountId, addresses: Iterable[tuple[str, str]]) -> None:
        entry = self._entries.get(account)
        if entry is not None:
            for name, address in addresses:
                entry.add(name, address, weight=2)

    async def _entry(self, store: Store, account: AccountId) -> _Entry:
        now = time.monotonic()
        entry = self._entries.get(account)
        if entry is not None and now - entry.made < _TTL:
            return entry
        entry = _Entry(now)
        sent = await store.find_special_use(account, SpecialUse.SENT)
        sources = [(sent, ("to", "cc"), 2)] if sent is not None else []
        try:
            sources.append((await store.get_mailbox(account, INBOX), ("from_", "cc"), 1))
        except NotFound:  # an account without INBOX still gets suggestions from Sent
            pass
        for mailbox, fields, weight in sources:
            records = await scan_down(store, account, mailbox.id, mailbox.uidnext - 1, _RECENT)
            for item in to_items(records):
                for field in fields:
                    addresses: tuple[EnvelopeAddress, ...] = getattr(item.summary.envelope, field)
                    for raw in addresses:
                        found = raw.to_address()
                        if found is not None:
                            entry.add(found.name, str(found), weight)
        if len(self._entries) >= _MAX_ACCOUNTS:
            self._entries.clear()
        self._entries[account] = entry
        return entry
