"""Whole-store export and import, for ``postier store copy`` between any two backends.

How this works: the everyday store interface cannot copy a store faithfully — ``append`` hands
out new UIDs, and nothing returns a password hash. A backend therefore also offers a
``StoreTransfer``: plain rows out (``domains`` ... ``queue``, messages page by page in UID
order) and the same rows in (``put_*``), keeping every id, UIDVALIDITY, UIDNEXT, MODSEQ, UID,
flag, date, trace prefix and queue state, so IMAP clients need no resynchronisation after a
move. ``put_*`` calls are idempotent — a row that is already there (same id, same identity) is
skipped, one with the same id but another identity raises ``Conflict`` — which is what makes an
interrupted copy resumable. ``postier.store.copy`` drives the two sides.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from postier.store.interface import QueueId
from postier.types import (
    AccountId,
    Alias,
    BlobId,
    Domain,
    DomainId,
    Flag,
    MailboxId,
    MessageId,
)

__all__ = ["AccountRow", "MailboxRow", "MessageRow", "QueueRecipientRow", "QueueRow",
           "StoreTransfer"]


@dataclass(frozen=True, slots=True)
class AccountRow:
    id: AccountId
    address: str
    domain_id: DomainId
    password_hash: str
    scram_sha256: str | None
    quota_bytes: int | None
    pop3_delete_policy: str
    disabled: bool
    created_at: datetime
    used_bytes: int = 0  # derived from the messages on import; compared when verifying
    message_count: int = 0


@dataclass(frozen=True, slots=True)
class MailboxRow:
    id: MailboxId
    account_id: AccountId
    name: str
    special_use: str | None
    uidvalidity: int
    uidnext: int
    highest_modseq: int
    first_recent_uid: int
    vanished_floor: int


@dataclass(frozen=True, slots=True)
class MessageRow:
    id: MessageId
    mailbox_id: MailboxId
    uid: int
    modseq: int
    flags: frozenset[Flag]
    internal_date: datetime
    size: int
    blob_id: BlobId
    header_prefix: bytes
    structure_json: str
    summary_json: str


@dataclass(frozen=True, slots=True)
class QueueRecipientRow:
    id: int
    address: str
    notify: str  # comma-separated DSN NOTIFY values
    orcpt: str | None
    state: str
    attempts: int
    next_attempt: datetime
    last_error: str | None
    remote_reply: str | None
    status: str | None
    remote_mta: str | None
    last_attempt: datetime | None
    lease_until: datetime | None
    notice: str | None
    delay_notified: bool
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class QueueRow:
    id: QueueId
    account_id: AccountId | None
    sender: str
    blob_id: BlobId
    size: int
    envid: str | None
    ret: str | None
    body_type: str | None
    smtputf8: bool
    message_id: str | None
    created_at: datetime
    recipients: tuple[QueueRecipientRow, ...]


class StoreTransfer(Protocol):
    # Reading (the source) ---------------------------------------------------------------------
    async def domains(self) -> list[Domain]: ...
    async def accounts(self) -> list[AccountRow]: ...
    async def aliases(self) -> list[Alias]: ...
    async def mailboxes(self) -> list[MailboxRow]: ...
    async def subscriptions(self) -> list[tuple[AccountId, str]]: ...
    async def messages(self, mailbox: MailboxId, after_uid: int,
                       limit: int) -> list[MessageRow]: ...
    async def expunged(self, mailbox: MailboxId) -> list[tuple[int, int, datetime]]:
        """(uid, modseq, when, in UTC) of the mailbox's expunge log, by UID."""
        ...
    async def last_uid(self, mailbox: MailboxId) -> int:
        """The highest UID stored in the mailbox (0 if empty): where a resumed copy goes on."""
        ...
    async def queue(self) -> list[QueueRow]: ...
    async def body(self, blob: BlobId) -> bytes: ...
    async def last_uidvalidity(self) -> int: ...

    # Writing (the target): idempotent, see the module docstring -------------------------------
    async def put_domain(self, domain: Domain) -> bool: ...
    async def put_account(self, account: AccountRow) -> bool: ...
    async def put_alias(self, alias: Alias) -> bool: ...
    async def put_mailbox(self, mailbox: MailboxRow) -> bool:
        """Create it, or (resuming) set its counters to the source's."""
        ...
    async def put_subscriptions(self, rows: Sequence[tuple[AccountId, str]]) -> int: ...
    async def put_messages(self, rows: Sequence[tuple[MessageRow, bytes]]) -> int:
        """Insert messages (skipping ids already there) in one transaction, bodies shared by
        content and re-indexed, quota counters moved; returns how many were new."""
        ...
    async def put_expunged(self, mailbox: MailboxId,
                           rows: Sequence[tuple[int, int, datetime]]) -> None: ...
    async def put_queue(self, row: QueueRow, body: bytes) -> bool: ...
    async def finish(self, last_uidvalidity: int) -> None:
        """After a copy: id generators and the UIDVALIDITY counter past everything copied."""
        ...
