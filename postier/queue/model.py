"""The queue's vocabulary: the store's queue records, and what one delivery attempt produced.

The durable records (QueuedMessage, QueuedRecipient, RecipientState, RecipientUpdate, Notice)
belong to ``store.interface``; they are re-exported here so queue code has one place to import
them from. ``Attempt`` is the outcome for one recipient, whoever decided it: the remote server
(through ``smtp.client``), DNS (no such domain), or the queue itself (expired).
"""

from __future__ import annotations

from dataclasses import dataclass

from postier.smtp.client import Outcome
from postier.store.interface import (
    Notice,
    OutboundEnvelope,
    OutboundRecipient,
    QueuedMessage,
    QueuedRecipient,
    QueueId,
    RecipientState,
    RecipientUpdate,
)

__all__ = [
    "Attempt",
    "Notice",
    "OutboundEnvelope",
    "OutboundRecipient",
    "Outcome",
    "QueueId",
    "QueuedMessage",
    "QueuedRecipient",
    "RecipientState",
    "RecipientUpdate",
]


@dataclass(frozen=True, slots=True)
class Attempt:
    outcome: Outcome
    status: str  # RFC 3463, e.g. "4.4.1"
    text: str  # readable: the remote's reply, or what went wrong
    remote_mta: str | None = None  # the host that answered, for the DSN's Remote-MTA
    from_remote: bool = False  # ``text`` is the remote's SMTP reply (DSN Diagnostic-Code)
    dsn_passed: bool = False  # the remote offered DSN: success notices are now its job
