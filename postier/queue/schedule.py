"""When to try again, when to give up, whom to tell, and how to group the work. Pure.

How this works: after each attempt, ``decide`` turns one recipient's ``Attempt`` into the
``RecipientUpdate`` the store records:

- delivered: final. A "relayed" notice is owed when the sender asked for NOTIFY=SUCCESS and the
  remote did not take over DSN duty by offering the extension (RFC 3461 §5.2.2.3 and §6.2).
- failed: final; a "failed" notice unless NOTIFY excludes FAILURE.
- deferred: tried again after ``retry_schedule[n-1]`` for the n-th failed attempt, the last
  interval repeating; never later than the expiry (created + ``expire_after``), so the last try
  happens right at expiry, and a deferral at or after expiry fails the recipient with 5.4.7
  ("delivery time expired", RFC 3463 §3.5; RFC 5321 §4.5.4.1 suggests 4-5 days). Once the message
  has waited ``delay_notice_after``, one "delayed" notice is owed if NOTIFY allows it.

Notices are never owed for the null sender: a bounce is never bounced (RFC 5321 §4.5.5). No
NOTIFY means FAILURE and DELAY (RFC 3461 §4.1 leaves the default to the MTA; this is the common
choice); NOTIFY=NEVER means none.

``group_by_destination`` gathers the claimed recipients of many messages per destination domain,
so one connection carries them all; ``batches`` keeps each transaction within the 100 recipients
every server must accept (RFC 5321 §4.5.3.1.8).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from postier.queue.model import (
    Attempt,
    Notice,
    Outcome,
    QueuedMessage,
    QueuedRecipient,
    QueueId,
    RecipientState,
    RecipientUpdate,
)

__all__ = ["RetryPolicy", "batches", "decide", "destination_of", "expires_at",
           "group_by_destination", "retry_delay", "wants_notice"]

MAX_RECIPIENTS_PER_TRANSACTION = 100


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    intervals: tuple[timedelta, ...]
    expire_after: timedelta
    delay_notice_after: timedelta

    @classmethod
    def from_seconds(cls, intervals: Sequence[float], expire_after: float,
                     delay_notice_after: float) -> RetryPolicy:
        return cls(tuple(timedelta(seconds=s) for s in intervals),
                   timedelta(seconds=expire_after), timedelta(seconds=delay_notice_after))


def retry_delay(policy: RetryPolicy, failures: int) -> timedelta:
    """The wait after the ``failures``-th failed attempt (1 for the first)."""
    index = min(max(failures, 1), len(policy.intervals)) - 1
    return policy.intervals[index]


def expires_at(policy: RetryPolicy, created_at: datetime) -> datetime:
    return created_at + policy.expire_after


def wants_notice(notify: Iterable[str], kind: str) -> bool:
    """Does NOTIFY ask for ``kind`` (SUCCESS, FAILURE or DELAY)? RFC 3461 §4.1."""
    values = {value.upper() for value in notify}
    if "NEVER" in values:
        return False
    if not values:
        return kind in ("FAILURE", "DELAY")
    return kind in values


def decide(message: QueuedMessage, recipient: QueuedRecipient, attempt: Attempt, now: datetime,
           policy: RetryPolicy) -> RecipientUpdate:
    may_notify = message.envelope.sender != ""
    reply = attempt.text if attempt.from_remote else None
    if attempt.outcome is Outcome.DELIVERED:
        success = may_notify and not attempt.dsn_passed and wants_notice(recipient.notify,
                                                                          "SUCCESS")
        return RecipientUpdate(recipient.id, RecipientState.DELIVERED, now, None, reply,
                               attempt.status, attempt.remote_mta,
                               Notice.RELAYED if success else None)
    expiry = expires_at(policy, message.created_at)
    if attempt.outcome is Outcome.DEFERRED and now >= expiry:
        days = policy.expire_after / timedelta(days=1)
        text = f"gave up after {days:g} days in the queue; last error: {attempt.text}"
        attempt = Attempt(Outcome.FAILED, "5.4.7", text, attempt.remote_mta, attempt.from_remote)
    if attempt.outcome is Outcome.FAILED:
        failure = may_notify and wants_notice(recipient.notify, "FAILURE")
        return RecipientUpdate(recipient.id, RecipientState.FAILED, now, attempt.text, reply,
                               attempt.status, attempt.remote_mta,
                               Notice.FAILED if failure else None, recipient.delay_notified)
    next_attempt = min(now + retry_delay(policy, recipient.attempts + 1), expiry)
    delay = (may_notify and not recipient.delay_notified
             and now - message.created_at >= policy.delay_notice_after
             and wants_notice(recipient.notify, "DELAY"))
    return RecipientUpdate(recipient.id, RecipientState.DEFERRED, next_attempt, attempt.text,
                           reply, attempt.status, attempt.remote_mta,
                           Notice.DELAYED if delay else None, recipient.delay_notified or delay)


def destination_of(address: str) -> str:
    """The domain part, lower-cased: what MX lookup and grouping work on."""
    return address.rpartition("@")[2].lower()


def group_by_destination(messages: Iterable[QueuedMessage], *, one_route: bool = False
                         ) -> dict[str, list[tuple[QueuedMessage, tuple[QueuedRecipient, ...]]]]:
    """Destination domain → [(message, its recipients there)], in queue order. With
    ``one_route`` (a smarthost) everything goes under the key "" : one connection for all."""
    groups: dict[str, dict[QueueId, list[QueuedRecipient]]] = {}
    by_id: dict[QueueId, QueuedMessage] = {}
    for message in messages:
        by_id[message.id] = message
        for recipient in message.recipients:
            key = "" if one_route else destination_of(recipient.address)
            groups.setdefault(key, {}).setdefault(message.id, []).append(recipient)
    return {key: [(by_id[queue_id], tuple(found)) for queue_id, found in per_message.items()]
            for key, per_message in groups.items()}


def batches(recipients: Sequence[QueuedRecipient],
            size: int = MAX_RECIPIENTS_PER_TRANSACTION) -> Iterator[tuple[QueuedRecipient, ...]]:
    for start in range(0, len(recipients), size):
        yield tuple(recipients[start:start + size])
