"""Authentication failure throttling: a growing delay per client IP and per account.

How this works: two counters are kept, one per IP address and one per account (the name the
client typed, lower-cased). Each failure bumps both. Before checking credentials the
authenticator sleeps ``delay_for(ip, account, now)``, the larger of the two counters' delays::

    failures ≤ free_failures   → 0
    then                       → base_delay, doubling per failure, at most max_delay

A counter is forgotten ``window`` seconds after its last failure, and a success forgets
the account's counter (not the IP's: one good password must not launder an IP that is guessing
at other accounts). The delay only ever slows an attempt down, it never refuses one, so an
attacker failing on purpose can make a victim's login slower but cannot lock them out.

Memory is bounded: each table keeps at most ``max_entries`` counters, ordered by last failure;
expired ones are dropped from the old end as new failures arrive, and when the table is full
the least recently failing counter is evicted. A distributed attack therefore costs a fixed
amount of memory and at worst makes the oldest counters forget early.

``MemoryThrottle`` is pure: no clock (``now`` is passed in, any monotonic seconds), no I/O,
no asyncio. Its methods are nevertheless ``async``: they implement ``FailureThrottle``, the
protocol the authenticator depends on, and the counters of several server processes will later
live in PostgreSQL, which cannot answer synchronously. The delay policy itself is
``ThrottleLimits.delay_after``, shared by every backend.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class ThrottleLimits:
    free_failures: int = 3
    base_delay: float = 1.0  # seconds
    max_delay: float = 30.0
    window: float = 15 * 60.0  # seconds without a failure
    max_entries: int = 100_000  # per table (IPs, accounts)

    def delay_after(self, failures: int) -> float:
        excess = failures - self.free_failures
        if excess <= 0:
            return 0.0
        # min() on the exponent first: 2.0 ** 10_000 would overflow before the cap applies.
        return min(self.max_delay, self.base_delay * 2.0 ** min(excess - 1, 64))


class FailureThrottle(Protocol):
    """What the authenticator needs from a throttle; ``now`` comes from its clock."""

    async def delay_for(self, ip: str, account: str, now: float) -> float: ...

    async def record_failure(self, ip: str, account: str, now: float) -> None: ...

    async def record_success(self, ip: str, account: str, now: float) -> None: ...


@dataclass(slots=True)
class _Counter:
    failures: int
    last_failure: float


class _CounterTable:
    """Counters by key, oldest last failure first."""

    def __init__(self, limits: ThrottleLimits) -> None:
        self._limits = limits
        self._counters: OrderedDict[str, _Counter] = OrderedDict()

    def __len__(self) -> int:
        return len(self._counters)

    def failures(self, key: str, now: float) -> int:
        counter = self._counters.get(key)
        if counter is None or self._expired(counter, now):
            return 0
        return counter.failures

    def add_failure(self, key: str, now: float) -> None:
        failures = self.failures(key, now) + 1
        self._counters.pop(key, None)
        self._counters[key] = _Counter(failures, now)
        self._prune(now)

    def forget(self, key: str) -> None:
        self._counters.pop(key, None)

    def _prune(self, now: float) -> None:
        while self._counters:
            oldest = next(iter(self._counters.values()))
            if len(self._counters) <= self._limits.max_entries and not self._expired(oldest, now):
                return
            self._counters.popitem(last=False)

    def _expired(self, counter: _Counter, now: float) -> bool:
        return now - counter.last_failure >= self._limits.window


class MemoryThrottle:
    """In-memory counters for one process; a FailureThrottle. See the module docstring."""

    def __init__(self, limits: ThrottleLimits | None = None) -> None:
        self.limits = limits or ThrottleLimits()
        self._by_ip = _CounterTable(self.limits)
        self._by_account = _CounterTable(self.limits)

    @property
    def sizes(self) -> tuple[int, int]:
        """(IP counters, account counters) currently held."""
        return len(self._by_ip), len(self._by_account)

    async def delay_for(self, ip: str, account: str, now: float) -> float:
        failures = max(
            self._by_ip.failures(ip, now) if ip else 0,
            self._by_account.failures(account.lower(), now) if account else 0,
        )
        return self.limits.delay_after(failures)

    async def record_failure(self, ip: str, account: str, now: float) -> None:
        # An empty key means "not known yet" (a malformed exchange before any username).
        if ip:
            self._by_ip.add_failure(ip, now)
        if account:
            self._by_account.add_failure(account.lower(), now)

    async def record_success(self, ip: str, account: str, now: float) -> None:
        if account:
            self._by_account.forget(account.lower())
