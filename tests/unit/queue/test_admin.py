"""What ``postier queue list`` and ``queue show`` print (pure formatting)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from postier.queue.admin import format_age, format_listing, format_message
from postier.queue.model import (
    OutboundEnvelope,
    OutboundRecipient,
    QueuedMessage,
    QueuedRecipient,
    QueueId,
    RecipientState,
)
from postier.types import BlobId

NOW = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)


def test_ages() -> None:
    assert [format_age(s) for s in (5, 90, 7200, 200000)] == ["5s", "1m", "2h", "2d"]


def test_listing_and_details() -> None:
    deferred = QueuedRecipient(1, "bob@example.org", RecipientState.DEFERRED, 2,
                               NOW + timedelta(minutes=7), "451 4.7.1 greylisted",
                               "451 4.7.1 greylisted", ("FAILURE",), "rfc822;bob@example.org",
                               status="4.7.1", remote_mta="mx.example.org",
                               last_attempt=NOW - timedelta(minutes=3))
    busy = QueuedRecipient(2, "carol@example.org", RecipientState.PENDING, 0, NOW, None, None,
                           (), None, lease_until=NOW + timedelta(minutes=1))
    message = QueuedMessage(QueueId(3), OutboundEnvelope(
        "alice@example.test", (OutboundRecipient("bob@example.org"),), envid="x", ret="HDRS"),
        BlobId("b"), 1234, NOW - timedelta(hours=2), (deferred, busy), "m1@example.test")
    assert format_listing([message], NOW).splitlines() == [
        "3  2h old  from <alice@example.test>  1234 bytes",
        "    bob@example.org  deferred, next attempt in 7m, 2 attempt(s): 451 4.7.1 greylisted",
        "    carol@example.org  pending, being delivered",
        "1 message(s), 2 recipient(s) waiting"]
    assert format_listing([], NOW) == "the queue is empty"
    details = format_message(message, NOW)
    for line in ("id:          3", "message-id:  <m1@example.test>",
                 "parameters:  ENVID=x RET=HDRS", "recipient:   <bob@example.org>",
                 "  state:     deferred (4.7.1)", "  next:      2024-01-01 12:07:00 UTC (in 7m)",
                 "  server:    mx.example.org", "  reply:     451 4.7.1 greylisted",
                 "  notify:    FAILURE", "  orcpt:     rfc822;bob@example.org"):
        assert line in details.splitlines()
    assert "  error:" not in details  # the same text as the reply is not repeated
