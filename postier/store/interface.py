"""The storage API every protocol uses, in domain terms.

How this works: a backend (``store.sqlite`` today, ``store.postgres`` later) implements
``AccountStore`` and ``MailStore``. Every mutation is atomic and returns only after it is durable
(with one exception, below); the changes it committed are published on the backend's
``ChangeHub`` after commit, in commit order, so IMAP sessions, IDLE and webmail tabs learn
about them. Signatures speak of accounts, mailboxes, UIDs and flags — never IMAP sequence
numbers, SMTP replies or SQL.

Durability before the reply: whatever carries mail (append, deliver, copy, move, expunge,
remove, the queue) and every account or mailbox change survives a power loss once the call
returns. Changes that carry no mail — ``set_flags`` (STORE, \\Seen set by FETCH) and
``claim_recent`` — survive a crash of the process once the call returns, and a power loss
once any later durable mutation returned; a backend may answer them before its fsync (SQLite
does, as Dovecot's ``mail_fsync = optimized`` does; PostgreSQL commits them like the rest).

Errors are ``postier.errors`` exceptions: NotFound, AlreadyExists, InvalidArgument, OverQuota,
Conflict, TryLater.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import NewType, Protocol

from postier.store.changes import ChangeHub
from postier.types import (
    Account,
    AccountId,
    Alias,
    BlobId,
    Credentials,
    Domain,
    Flag,
    FlagOp,
    ListedMessage,
    Mailbox,
    MailboxId,
    MailboxStatus,
    MessageRecord,
    ModSeq,
    Pop3DeletePolicy,
    Quota,
    SpecialUse,
    Uid,
    UidSet,
    UidValidity,
)

QueueId = NewType("QueueId", int)

__all__ = [
    "AccountStore",
    "AppendResult",
    "AppendedMessage",
    "CopyResult",
    "DeliveryResult",
    "DeliveryTarget",
    "FlagResult",
    "MailStore",
    "MessageState",
    "Notice",
    "OutboundCopy",
    "OutboundEnvelope",
    "OutboundRecipient",
    "QueueId",
    "QueueStore",
    "QueuedMessage",
    "QueuedRecipient",
    "Recipient",
    "RecipientState",
    "RecipientUpdate",
    "Store",
]


@dataclass(frozen=True, slots=True)
class Recipient:
    """Where mail for one address goes, after aliases, sub-addressing and catch-all."""

    address: str  # the address as given, normalised
    accounts: tuple[AccountId, ...] = ()  # local mailboxes
    remote: tuple[str, ...] = ()  # alias targets outside local domains
    local_domain: bool = True  # False: the address is not ours (relay territory)

    @property
    def exists(self) -> bool:
        return bool(self.accounts or self.remote)


@dataclass(frozen=True, slots=True)
class MessageState:
    """The light per-message state an IMAP session keeps for its selected mailbox."""

    uid: Uid
    modseq: ModSeq
    flags: frozenset[Flag]


@dataclass(frozen=True, slots=True)
class DeliveryTarget:
    account_id: AccountId
    mailbox: str | None = None  # None: INBOX
    header_prefix: bytes = b""  # per-recipient trace fields, stored beside the shared body
    flags: frozenset[Flag] = frozenset()


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    target: DeliveryTarget
    record: MessageRecord | None
    error: Exception | None = None  # OverQuota, NotFound, ... for this target only


@dataclass(frozen=True, slots=True)
class AppendResult:
    uidvalidity: UidValidity
    record: MessageRecord


@dataclass(frozen=True, slots=True)
class AppendedMessage:
    """One message of ``append_many`` (IMAP MULTIAPPEND)."""

    data: bytes
    flags: frozenset[Flag] = frozenset()
    internal_date: datetime | None = None  # None: now


@dataclass(frozen=True, slots=True)
class CopyResult:
    uidvalidity: UidValidity  # of the destination
    source_uids: tuple[Uid, ...]
    destination_uids: tuple[Uid, ...]  # same order as source_uids


@dataclass(frozen=True, slots=True)
class FlagResult:
    changed: tuple[MessageState, ...]  # state after the change, for FETCH responses
    conflicts: UidSet = field(default_factory=UidSet)  # UNCHANGEDSINCE failures (RFC 7162 MODIFIED)


class AccountStore(Protocol):
    # Domains
    async def add_domain(self, name: str) -> Domain: ...
    async def get_domain(self, name: str) -> Domain | None: ...
    async def list_domains(self) -> list[Domain]: ...
    async def delete_domain(self, name: str) -> None: ...
    async def set_catch_all(self, domain: str, address: str | None) -> None: ...

    # Accounts
    async def add_account(self, address: str, password_hash: str, scram_sha256: str | None,
                          quota_bytes: int | None = None) -> Account: ...
    async def get_account(self, address: str) -> Account | None: ...
    async def get_account_by_id(self, account_id: AccountId) -> Account: ...
    async def list_accounts(self, domain: str | None = None) -> list[Account]: ...
    async def delete_account(self, address: str) -> None: ...
    async def set_password(self, address: str, password_hash: str,
                           scram_sha256: str | None) -> None: ...
    async def set_quota(self, address: str, quota_bytes: int | None) -> None: ...
    async def set_pop3_delete_policy(self, address: str, policy: Pop3DeletePolicy) -> None: ...
    async def get_credentials(self, address: str) -> Credentials | None: ...

    # Aliases
    async def add_alias(self, address: str, targets: Sequence[str]) -> Alias: ...
    async def delete_alias(self, address: str) -> None: ...
    async def list_aliases(self) -> list[Alias]: ...

    async def resolve_recipient(self, address: str) -> Recipient: ...
    async def addresses_of(self, account_id: AccountId) -> list[str]:
        """The account's own address and every alias that delivers to it (it may send as them)."""
        ...


class MailStore(Protocol):
    hub: ChangeHub

    # Mailboxes
    async def list_mailboxes(self, account: AccountId) -> list[Mailbox]: ...
    async def get_mailbox(self, account: AccountId, name: str) -> Mailbox: ...
    async def get_mailbox_by_id(self, account: AccountId, mailbox: MailboxId) -> Mailbox: ...
    async def find_special_use(self, account: AccountId, use: SpecialUse) -> Mailbox | None: ...
    async def create_mailbox(self, account: AccountId, name: str,
                             special_use: SpecialUse | None = None) -> Mailbox: ...
    async def delete_mailbox(self, account: AccountId, name: str) -> None: ...
    async def rename_mailbox(self, account: AccountId, old: str, new: str) -> None: ...
    async def set_subscribed(self, account: AccountId, name: str, subscribed: bool) -> None: ...
    async def list_subscriptions(self, account: AccountId) -> list[str]: ...
    async def status(self, account: AccountId, mailbox: MailboxId) -> MailboxStatus: ...
    async def claim_recent(self, account: AccountId, mailbox: MailboxId) -> Uid:
        """Return the first UID still \\Recent and make every current message non-recent.
        Not carrying mail, it may be answered before a power loss could no longer undo it."""
        ...

    # Messages
    async def append(self, account: AccountId, mailbox: MailboxId, data: bytes,
                     flags: frozenset[Flag] = frozenset(),
                     internal_date: datetime | None = None) -> AppendResult: ...
    async def append_many(self, account: AccountId, mailbox: MailboxId,
                          batch: Sequence[AppendedMessage]) -> list[AppendResult]:
        """Append every message or none (RFC 3502 MULTIAPPEND): one transaction, consecutive
        UIDs in the given order, the quota charged for the whole set. The first failure
        (OverQuota, NotFound, ...) is raised and nothing was stored."""
        ...
    async def deliver(self, data: bytes, targets: Sequence[DeliveryTarget],
                      internal_date: datetime | None = None) -> list[DeliveryResult]:
        """Store one body for many recipients; each target succeeds or fails on its own."""
        ...
    async def message_states(self, account: AccountId, mailbox: MailboxId,
                             changed_since: ModSeq | None = None) -> list[MessageState]: ...
    async def get_messages(self, account: AccountId, mailbox: MailboxId,
                           uids: UidSet | None = None) -> list[MessageRecord]: ...
    async def list_messages(self, account: AccountId, mailbox: MailboxId,
                            uids: UidSet | None = None, *,
                            structure: bool = False) -> list[ListedMessage]:
        """What ``get_messages`` returns, as ``ListedMessage`` tuples ordered by UID: only the
        columns a message listing needs, with the structure JSON only when ``structure``
        (else ""). Raises NotFound for a mailbox that is not the account's."""
        ...
    async def read_message(self, account: AccountId, record: MessageRecord) -> bytes: ...
    async def read_messages(self, account: AccountId,
                            records: Sequence[MessageRecord]) -> list[bytes | None]:
        """The bodies of ``records`` as ``read_message`` returns them, in order, read together
        (one query, one trip to a reader); None where a body no longer exists. For callers that
        stream many bodies (POP3 RETR, IMAP BODY[]): they read ahead a bounded group at a time."""
        ...
    async def set_flags(self, account: AccountId, mailbox: MailboxId, uids: UidSet, op: FlagOp,
                        flags: frozenset[Flag],
                        unchanged_since: ModSeq | None = None) -> FlagResult:
        """Change flags; on return the change survives a crash of the process, and a power
        loss once a later durable mutation (one carrying mail) returned. An expunge of
        \\Deleted messages is durable itself, so it never depends on this."""
        ...
    async def copy(self, account: AccountId, source: MailboxId, uids: UidSet,
                   destination: MailboxId) -> CopyResult: ...
    async def move(self, account: AccountId, source: MailboxId, uids: UidSet,
                   destination: MailboxId) -> CopyResult: ...
    async def expunge(self, account: AccountId, mailbox: MailboxId,
                      uids: UidSet | None = None) -> list[Uid]:
        """Remove messages flagged \\Deleted (restricted to ``uids`` when given)."""
        ...
    async def remove(self, account: AccountId, mailbox: MailboxId, uids: UidSet) -> list[Uid]:
        """Remove messages whatever their flags (POP3 DELE, emptying Trash)."""
        ...
    async def vanished_since(self, account: AccountId, mailbox: MailboxId,
                             modseq: ModSeq) -> UidSet | None:
        """UIDs expunged after ``modseq``; None when the history no longer reaches back."""
        ...
    async def prune_expunge_history(self, before: datetime, batch: int = 1000) -> int:
        """Forget the expunges logged before ``before``, ``batch`` at a time (one transaction
        each), and return how many. Each touched mailbox's ``vanished_floor`` rises to the
        highest modseq forgotten there, so ``vanished_since`` answers None below it and stays
        exact at or above it. Safe to run on several nodes at once."""
        ...
    async def search_text(self, account: AccountId, mailbox: MailboxId, query: str) -> UidSet: ...
    async def quota(self, account: AccountId) -> Quota: ...


class RecipientState(enum.StrEnum):
    PENDING = "pending"
    DEFERRED = "deferred"
    DELIVERED = "delivered"
    FAILED = "failed"

    @property
    def is_final(self) -> bool:
        return self in (RecipientState.DELIVERED, RecipientState.FAILED)


class Notice(enum.StrEnum):
    """A delivery status notification still owed to the sender: its RFC 3464 §2.3.3 action."""

    FAILED = "failed"
    DELAYED = "delayed"
    DELIVERED = "delivered"
    RELAYED = "relayed"


@dataclass(frozen=True, slots=True)
class OutboundRecipient:
    address: str
    notify: tuple[str, ...] = ()  # DSN NOTIFY (RFC 3461): SUCCESS, FAILURE, DELAY or NEVER
    orcpt: str | None = None  # DSN ORCPT, "type;address"


@dataclass(frozen=True, slots=True)
class OutboundEnvelope:
    sender: str  # "" is the null sender (bounces are never bounced)
    recipients: tuple[OutboundRecipient, ...]
    account_id: AccountId | None = None  # the submitting user, for delivery status
    envid: str | None = None  # DSN ENVID
    ret: str | None = None  # DSN RET: FULL or HDRS
    body_type: str | None = None  # 7BIT, 8BITMIME or BINARYMIME
    smtputf8: bool = False


@dataclass(frozen=True, slots=True)
class OutboundCopy:
    """The queued copy of a message delivered locally too: its envelope, and the trace fields
    (``Received:``) the remote copy carries before the shared body."""

    envelope: OutboundEnvelope
    header_prefix: bytes = b""


@dataclass(frozen=True, slots=True)
class QueuedRecipient:
    id: int
    address: str
    state: RecipientState
    attempts: int
    next_attempt: datetime
    last_error: str | None
    remote_reply: str | None
    notify: tuple[str, ...]
    orcpt: str | None
    status: str | None = None  # RFC 3463 code of the last outcome, e.g. "4.4.1"
    remote_mta: str | None = None  # the server that gave that outcome
    last_attempt: datetime | None = None
    lease_until: datetime | None = None  # being delivered: retried after this if it dies
    notice: Notice | None = None  # a DSN still to send for this recipient
    delay_notified: bool = False  # the "delayed" DSN went out already


@dataclass(frozen=True, slots=True)
class QueuedMessage:
    id: QueueId
    envelope: OutboundEnvelope
    blob_id: BlobId
    size: int
    created_at: datetime
    recipients: tuple[QueuedRecipient, ...]
    message_id: str | None = None  # the Message-ID field, without angle brackets


@dataclass(frozen=True, slots=True)
class RecipientUpdate:
    """The outcome of one delivery attempt for one recipient, as the queue decided it."""

    recipient_id: int
    state: RecipientState
    next_attempt: datetime
    last_error: str | None = None
    remote_reply: str | None = None
    status: str | None = None
    remote_mta: str | None = None
    notice: Notice | None = None
    delay_notified: bool = False


class QueueStore(Protocol):
    """The outbound queue. A recipient is claimed (leased) while a runner delivers to it, so a
    crash mid-delivery only delays it until the lease ends; each attempt's outcome is recorded
    as soon as the remote answered. Finished messages stay (for delivery status) until purged."""

    async def enqueue(self, data: bytes, envelope: OutboundEnvelope) -> QueueId:
        """Durably queue a message for remote delivery; returns once committed."""
        ...
    async def list_queue(self) -> list[QueuedMessage]: ...
    async def get_queued(self, queue_id: QueueId) -> QueuedMessage: ...
    async def read_queued(self, message: QueuedMessage) -> bytes: ...
    async def delete_queued(self, queue_id: QueueId) -> None: ...
    async def claim_due(self, now: datetime, lease_until: datetime,
                        limit: int) -> list[QueuedMessage]:
        """Lease every recipient that is pending or deferred, due by ``now`` and not leased;
        each returned message carries only the recipients claimed."""
        ...
    async def next_due(self) -> datetime | None:
        """When the earliest unfinished recipient becomes due (its lease included)."""
        ...
    async def record_attempt(self, queue_id: QueueId, updates: Sequence[RecipientUpdate],
                             now: datetime) -> None:
        """Store attempt outcomes and end their leases. Recipients deleted meanwhile are
        skipped; ``attempts`` grows by one for each update."""
        ...
    async def release(self, queue_id: QueueId, recipient_ids: Sequence[int]) -> None:
        """End leases without recording an attempt (the runner stopped before trying)."""
        ...
    async def retry_now(self, queue_id: QueueId, now: datetime) -> int:
        """Make the message's unfinished recipients due now; returns how many."""
        ...
    async def pending_notices(self, limit: int) -> list[QueuedMessage]:
        """Messages with DSNs still owed; each carries only the recipients that owe one."""
        ...
    async def clear_notices(self, queue_id: QueueId, recipient_ids: Sequence[int]) -> None: ...
    async def purge_queue(self, finished_before: datetime) -> int:
        """Delete messages whose recipients are all final, owe no DSN and last changed before
        ``finished_before``; returns how many."""
        ...
    async def queue_status(self, account: AccountId, message_ids: Sequence[str] | None = None,
                           limit: int = 100) -> list[QueuedMessage]:
        """What became of the mail ``account`` sent, newest first (webmail): all its queued
        messages, or those with the given Message-IDs."""
        ...


class Store(AccountStore, MailStore, QueueStore, Protocol):
    async def deliver_and_enqueue(self, data: bytes, targets: Sequence[DeliveryTarget],
                                  outbound: OutboundCopy, internal_date: datetime | None = None
                                  ) -> tuple[list[DeliveryResult], QueueId]:
        """``deliver`` and ``enqueue`` in one transaction: the local copies and the queued one
        commit together or not at all. Each target still fails on its own (its result carries
        the error); a failure to queue raises and leaves no local copy either."""
        ...
    async def close(self) -> None: ...
