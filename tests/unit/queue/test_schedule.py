"""Retry schedule, expiry, notices and grouping: pure decisions, no clock but the one passed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from postier.queue.model import (
    Attempt,
    Notice,
    OutboundEnvelope,
    OutboundRecipient,
    Outcome,
    QueuedMessage,
    QueuedRecipient,
    QueueId,
    RecipientState,
)
from postier.queue.schedule import (
    RetryPolicy,
    batches,
    decide,
    group_by_destination,
    retry_delay,
    wants_notice,
)
from postier.types import BlobId

T0 = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
POLICY = RetryPolicy.from_seconds([300, 600, 1800], expire_after=4 * 86400,
                                  delay_notice_after=4 * 3600)


def recipient(rid: int = 1, address: str = "bob@example.org", attempts: int = 0,
              notify: tuple[str, ...] = (), delay_notified: bool = False) -> QueuedRecipient:
    return QueuedRecipient(rid, address, RecipientState.PENDING, attempts, T0, None, None,
                           notify, None, delay_notified=delay_notified)


def message(*recipients: QueuedRecipient, sender: str = "alice@example.test") -> QueuedMessage:
    envelope = OutboundEnvelope(sender, tuple(OutboundRecipient(r.address) for r in recipients))
    return QueuedMessage(QueueId(7), envelope, BlobId("b"), 10, T0, recipients)


DEFER = Attempt(Outcome.DEFERRED, "4.7.1", "451 4.7.1 later", "mx.example.org", True)
FAIL = Attempt(Outcome.FAILED, "5.1.1", "550 5.1.1 unknown", "mx.example.org", True)
OK = Attempt(Outcome.DELIVERED, "2.0.0", "250 2.0.0 ok", "mx.example.org", True)


def test_retry_delays_follow_the_schedule_and_repeat_the_last() -> None:
    assert [retry_delay(POLICY, n).total_seconds() for n in (1, 2, 3, 4, 10)] == [
        300, 600, 1800, 1800, 1800]


def test_deferral_schedules_the_next_attempt() -> None:
    first = decide(message(recipient()), recipient(), DEFER, T0, POLICY)
    assert first.state is RecipientState.DEFERRED
    assert first.next_attempt == T0 + timedelta(minutes=5)
    assert (first.last_error, first.remote_reply, first.status) == (
        "451 4.7.1 later", "451 4.7.1 later", "4.7.1")
    assert first.notice is None
    third = decide(message(recipient()), recipient(attempts=2), DEFER, T0, POLICY)
    assert third.next_attempt == T0 + timedelta(minutes=30)


def test_the_last_attempt_is_at_expiry_and_a_deferral_after_it_fails() -> None:
    near = T0 + timedelta(days=4) - timedelta(minutes=1)
    last = decide(message(recipient()), recipient(attempts=50), DEFER, near, POLICY)
    assert last.next_attempt == T0 + timedelta(days=4)
    expired = decide(message(recipient()), recipient(attempts=51), DEFER,
                     T0 + timedelta(days=4), POLICY)
    assert expired.state is RecipientState.FAILED
    assert expired.status == "5.4.7"
    assert expired.notice is Notice.FAILED
    assert expired.last_error == "gave up after 4 days in the queue; last error: 451 4.7.1 later"
    assert expired.remote_reply == "451 4.7.1 later"


def test_delay_notice_once_after_the_configured_wait() -> None:
    early = decide(message(recipient()), recipient(), DEFER, T0 + timedelta(hours=3), POLICY)
    assert early.notice is None and not early.delay_notified
    late = decide(message(recipient()), recipient(), DEFER, T0 + timedelta(hours=4), POLICY)
    assert late.notice is Notice.DELAYED and late.delay_notified
    again = decide(message(recipient()), recipient(delay_notified=True), DEFER,
                   T0 + timedelta(hours=5), POLICY)
    assert again.notice is None and again.delay_notified


@pytest.mark.parametrize(("notify", "attempt", "notice"), [
    ((), FAIL, Notice.FAILED),
    (("NEVER",), FAIL, None),
    (("SUCCESS",), FAIL, None),
    (("SUCCESS",), OK, Notice.RELAYED),
    ((), OK, None),
    (("DELAY",), FAIL, None),
])
def test_notify_decides_which_notices_are_owed(notify: tuple[str, ...], attempt: Attempt,
                                               notice: Notice | None) -> None:
    target = recipient(notify=notify)
    assert decide(message(target), target, attempt, T0, POLICY).notice is notice


def test_success_is_the_remotes_job_when_it_offers_dsn() -> None:
    target = recipient(notify=("SUCCESS",))
    passed = Attempt(Outcome.DELIVERED, "2.0.0", "250 ok", "mx", True, dsn_passed=True)
    assert decide(message(target), target, passed, T0, POLICY).notice is None


def test_the_null_sender_is_never_notified() -> None:
    for attempt in (FAIL, OK):
        target = recipient(notify=("SUCCESS", "FAILURE"))
        update = decide(message(target, sender=""), target, attempt, T0, POLICY)
        assert update.notice is None
    late = decide(message(recipient(), sender=""), recipient(), DEFER, T0 + timedelta(days=1),
                  POLICY)
    assert late.notice is None


def test_local_failures_are_not_remote_replies() -> None:
    dns = Attempt(Outcome.FAILED, "5.1.2", "example.invalid: no such domain")
    update = decide(message(recipient()), recipient(), dns, T0, POLICY)
    assert update.remote_reply is None and update.last_error == "example.invalid: no such domain"


def test_wants_notice_defaults() -> None:
    assert wants_notice((), "FAILURE") and wants_notice((), "DELAY")
    assert not wants_notice((), "SUCCESS")
    assert wants_notice(("success", "failure"), "SUCCESS")


def test_grouping_per_domain_and_batches_of_100() -> None:
    a = message(recipient(1, "a@one.example"), recipient(2, "b@Two.example"),
                recipient(3, "c@one.example"))
    b = QueuedMessage(QueueId(8), a.envelope, a.blob_id, 1, T0, (recipient(4, "d@one.example"),))
    groups = group_by_destination([a, b])
    assert {k: [(m.id, [r.id for r in rs]) for m, rs in v] for k, v in groups.items()} == {
        "one.example": [(7, [1, 3]), (8, [4])], "two.example": [(7, [2])]}
    assert list(group_by_destination([a, b], one_route=True)) == [""]
    many = [recipient(i) for i in range(250)]
    assert [len(batch) for batch in batches(many)] == [100, 100, 50]
