"""What a POP3 session asks of the store: the INBOX snapshot at login, the UPDATE state at QUIT.

How this works, at login (``open_maildrop``): one ``get_messages`` on the INBOX gives every
message with its flags; messages carrying HIDDEN_KEYWORD (left behind by the "keep" policy) are
not part of the maildrop. Sizes must be those of the wire form (wire.py), which differs from the
stored size when a message has bare LF line ends, so each message's wire size is counted from its
bytes once (bodies read a group at a time, ``store.read_messages``) and remembered in a
``WireSizeCache`` keyed by content (blob id and trace prefix, which never change), shared by
every session: later logins read nothing. The records are kept in message-number order,
trimmed of their MIME summary, for RETR (readahead.py).

At QUIT (``apply_update``, RFC 1939 §6), the account's delete policy decides what DELE meant:

- ``expunge``: the messages are removed (RFC 1939 behaviour); IMAP sessions see them expunged.
- ``trash``: they move to the special-use \\Trash mailbox (a "Trash" mailbox is created if the
  account has none), so every device sees them leave the INBOX and they stay recoverable until
  the retention task (retention.py) removes them.
- ``keep``: they stay in the INBOX with HIDDEN_KEYWORD and \\Seen; IMAP still shows them, POP3
  never lists them again.

Messages retrieved with RETR get \\Seen first, so IMAP devices do not show mail already read on
the POP3 device as new. Each step is one store transaction; a failure leaves the INBOX as it was
or with some steps done, never loses mail, and is reported as "-ERR [SYS/TEMP]".
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import OrderedDict
from dataclasses import dataclass

from postier.errors import AlreadyExists, NotFound
from postier.pop3.maildrop import HIDDEN_KEYWORD, Maildrop
from postier.pop3.wire import wire_size
from postier.store.interface import MailStore
from postier.types import (
    INBOX,
    SEEN,
    AccountId,
    BlobId,
    FlagOp,
    Mailbox,
    MailboxId,
    MessageRecord,
    Pop3DeletePolicy,
    SpecialUse,
    Uid,
    UidSet,
)

__all__ = ["Snapshot", "WireSizeCache", "apply_update", "find_trash", "open_maildrop"]

_SIZE_READS = 2  # concurrent group reads while sizing a maildrop (the store has a few readers)
_SIZE_GROUP_BYTES = 4 * 1024 * 1024  # bodies read together while sizing


class WireSizeCache:
    """Wire sizes by message content, least recently used dropped past ``limit`` entries."""

    def __init__(self, limit: int = 200_000) -> None:
        self._limit = limit
        self._sizes: OrderedDict[tuple[BlobId, bytes], int] = OrderedDict()

    def get(self, record: MessageRecord) -> int | None:
        key = (record.blob_id, record.header_prefix)
        size = self._sizes.get(key)
        if size is not None:
            self._sizes.move_to_end(key)
        return size

    def put(self, record: MessageRecord, size: int) -> None:
        self._sizes[(record.blob_id, record.header_prefix)] = size
        self._sizes.move_to_end((record.blob_id, record.header_prefix))
        while len(self._sizes) > self._limit:
            self._sizes.popitem(last=False)


@dataclass(frozen=True, slots=True)
class Snapshot:
    mailbox_id: MailboxId
    maildrop: Maildrop
    records: tuple[MessageRecord, ...]  # in message-number order: number n is records[n - 1]


async def open_maildrop(store: MailStore, account: AccountId, sizes: WireSizeCache) -> Snapshot:
    inbox = await store.get_mailbox(account, INBOX)
    records = [dataclasses.replace(record, structure_json="{}", summary_json="{}")
               for record in await store.get_messages(account, inbox.id)
               if HIDDEN_KEYWORD not in record.flags]
    wire_sizes: dict[Uid, int | None] = {}
    unknown: list[MessageRecord] = []
    for record in records:
        cached = sizes.get(record)
        if cached is None:
            unknown.append(record)
        else:
            wire_sizes[record.uid] = cached
    limit = asyncio.Semaphore(_SIZE_READS)

    async def size_group(group: list[MessageRecord]) -> None:
        async with limit:
            bodies = await store.read_messages(account, group)
        for record, body in zip(group, bodies, strict=True):
            if body is None:  # expunged by another client since get_messages: not in the drop
                wire_sizes[record.uid] = None
                continue
            wire_sizes[record.uid] = size = wire_size(body)
            sizes.put(record, size)

    await asyncio.gather(*(size_group(group) for group in _size_groups(unknown)))
    kept = [(record, size) for record in records
            if (size := wire_sizes[record.uid]) is not None]
    maildrop = Maildrop(inbox.uidvalidity, [(record.uid, size) for record, size in kept])
    return Snapshot(inbox.id, maildrop, tuple(record for record, _size in kept))


def _size_groups(records: list[MessageRecord]) -> list[list[MessageRecord]]:
    """Bodies to size, cut into groups of at most ``_SIZE_GROUP_BYTES`` (or one message)."""
    groups: list[list[MessageRecord]] = []
    size = 0
    for record in records:
        if not groups or (size + record.size > _SIZE_GROUP_BYTES and groups[-1]):
            groups.append([])
            size = 0
        groups[-1].append(record)
        size += record.size
    return groups


async def apply_update(store: MailStore, account: AccountId, inbox: MailboxId,
                       policy: Pop3DeletePolicy, deleted: tuple[Uid, ...],
                       retrieved: tuple[Uid, ...]) -> None:
    """The UPDATE state: mark what was read, then carry out DELE as the policy says."""
    gone = set(deleted) if policy is Pop3DeletePolicy.EXPUNGE else set()
    seen = [uid for uid in retrieved if uid not in gone]
    if seen:
        await store.set_flags(account, inbox, UidSet.of(seen), FlagOp.ADD, frozenset({SEEN}))
    if not deleted:
        return
    uids = UidSet.of(deleted)
    match policy:
        case Pop3DeletePolicy.EXPUNGE:
            await store.remove(account, inbox, uids)
        case Pop3DeletePolicy.TRASH:
            trash = await find_trash(store, account, create=True)
            assert trash is not None
            await store.move(account, inbox, uids, trash.id)
        case Pop3DeletePolicy.KEEP:
            await store.set_flags(account, inbox, uids, FlagOp.ADD,
                                  frozenset({HIDDEN_KEYWORD, SEEN}))


async def find_trash(store: MailStore, account: AccountId, *, create: bool) -> Mailbox | None:
    """The \\Trash special-use mailbox, else one named "Trash", else (``create``) a new one."""
    trash = await store.find_special_use(account, SpecialUse.TRASH)
    if trash is not None:
        return trash
    try:
        return await store.get_mailbox(account, "Trash")
    except NotFound:
        if not create:
            return None
    try:
        return await store.create_mailbox(account, "Trash", SpecialUse.TRASH)
    except AlreadyExists:  # created meanwhile by another session
        return await store.get_mailbox(account, "Trash")
