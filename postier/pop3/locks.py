"""Per-account coordination between POP3 sessions: the maildrop lock and the login history.

How this works: RFC 1939 §4 gives a session exclusive access to its maildrop from login to the
end of the UPDATE state, so two POP3 clients never delete each other's message numbers. IMAP
sessions are not affected: they see POP3's deletions as ordinary expunges.

``MaildropLocks`` is the interface: ``try_acquire`` returns a lease or None when another
session holds the account; ``release`` is idempotent and must run on every way out of a session
(QUIT, dropped connection, timeout, error, cancellation). ``InProcessLocks`` keeps a dict of
account id → lease, enough for one process. Several nodes on PostgreSQL would implement the same
interface with a session-level advisory lock (``pg_try_advisory_lock(account_id)`` on a
connection held by the lease, ``pg_advisory_unlock`` on release); a node that dies releases its
locks when its connections drop.

``LoginHistory`` backs LOGIN-DELAY (RFC 2449 §6.5): the time of each account's last login, with
the clock passed in. It is in-process too; a restart forgets it, which only ever lets a login
through early.
"""

from __future__ import annotations

from typing import Protocol

from postier.types import AccountId

__all__ = ["InProcessLocks", "LoginHistory", "MaildropLease", "MaildropLocks"]


class MaildropLease(Protocol):
    @property
    def account(self) -> AccountId: ...
    async def release(self) -> None: ...


class MaildropLocks(Protocol):
    async def try_acquire(self, account: AccountId) -> MaildropLease | None: ...


class _Lease:
    __slots__ = ("_account", "_locks")

    def __init__(self, locks: InProcessLocks, account: AccountId) -> None:
        self._locks: InProcessLocks | None = locks
        self._account = account

    @property
    def account(self) -> AccountId:
        return self._account

    async def release(self) -> None:
        # Synchronous underneath, so a release in a ``finally`` of a cancelled task completes.
        if self._locks is not None:
            self._locks._release(self)
            self._locks = None


class InProcessLocks:
    def __init__(self) -> None:
        self._owners: dict[AccountId, _Lease] = {}

    async def try_acquire(self, account: AccountId) -> MaildropLease | None:
        if account in self._owners:
            return None
        lease = self._owners[account] = _Lease(self, account)
        return lease

    def is_locked(self, account: AccountId) -> bool:
        return account in self._owners

    def _release(self, lease: _Lease) -> None:
        if self._owners.get(lease.account) is lease:
            del self._owners[lease.account]


class LoginHistory:
    def __init__(self, delay: float) -> None:
        self._delay = delay
        self._last: dict[AccountId, float] = {}

    def too_soon(self, account: AccountId, now: float) -> float:
        """Seconds left before the account may log in again; 0 when it may now."""
        last = self._last.get(account)
        if not self._delay or last is None:
            return 0.0
        return max(0.0, last + self._delay - now)

    def record(self, account: AccountId, now: float) -> None:
        if self._delay:
            self._last[account] = now
            if len(self._last) > 100_000:
                # Entries older than the delay no longer refuse anything: drop them.
                self._last = {a: t for a, t in self._last.items() if t + self._delay > now}
