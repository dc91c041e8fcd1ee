"""Trash retention: the background task that makes the POP3 "trash" policy finite.

How this works: every hour (and once at start), for each account whose POP3 delete policy is
``trash``, messages in its Trash (the \\Trash special-use mailbox, else one named "Trash")
whose internal date is more than ``[pop3] trash_retention_days`` days in the past are removed,
in batches, through ``store.remove``; IMAP sessions see them expunged like any other removal.
``trash_retention_days = 0`` turns the task off.

Why the internal date: the store records when a message arrived, not when it was moved, so
"N days in Trash" is measured from arrival. POP3 users usually download and delete mail soon
after it arrives, so the two are close; a message left on the server for weeks and then deleted
stays in Trash for correspondingly less time (if it is already older than the retention period,
until the next sweep). Accounts with the ``keep`` or ``expunge`` policy are left alone: their
Trash holds only what IMAP clients put there, and its lifetime is theirs to decide.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from postier.pop3.storage import find_trash
from postier.services import Services
from postier.store.interface import Store
from postier.types import Pop3DeletePolicy, UidSet

__all__ = ["SWEEP_INTERVAL", "sweep_trash", "trash_retention"]

log = logging.getLogger(__name__)

SWEEP_INTERVAL = 3600.0
_BATCH = 500  # UIDs per removal: keeps each write transaction short


async def trash_retention(services: Services) -> None:
    """Background task (server.py ``_background_tasks``): sweep now, then every hour."""
    days = services.config.pop3.trash_retention_days
    if days == 0:
        return
    while True:
        removed = await sweep_trash(services.store, datetime.now(UTC) - timedelta(days=days))
        if removed:
            log.info("trash retention: removed %d message(s) older than %d days", removed, days)
        await asyncio.sleep(SWEEP_INTERVAL)


async def sweep_trash(store: Store, cutoff: datetime) -> int:
    """Remove Trash messages that arrived before ``cutoff`` for every "trash" account."""
    removed = 0
    for account in await store.list_accounts():
        if account.pop3_delete_policy is not Pop3DeletePolicy.TRASH:
            continue
        trash = await find_trash(store, account.id, create=False)
        if trash is None:
            continue
        expired = [record.uid for record in await store.get_messages(account.id, trash.id)
                   if _aware(record.internal_date) < cutoff]
        for start in range(0, len(expired), _BATCH):
            batch = UidSet.of(expired[start:start + _BATCH])
            removed += len(await store.remove(account.id, trash.id, batch))
    return removed


def _aware(moment: datetime) -> datetime:
    # Dates stored without a zone were written as UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
