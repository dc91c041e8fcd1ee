"""``postier queue list|show|retry|delete`` as a real process, on a store with queued mail."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from postier.store.interface import (
    OutboundEnvelope,
    OutboundRecipient,
    QueueId,
    RecipientState,
    RecipientUpdate,
)
from postier.store.sqlite.store import SqliteStore
from tests.e2e.queue_sinks import make_message
from tests.e2e.test_cli import postier


def fill_queue(directory: Path) -> tuple[QueueId, QueueId]:
    async def work() -> tuple[QueueId, QueueId]:
        store = await asyncio.to_thread(SqliteStore.open, directory)
        try:
            envelope = OutboundEnvelope("alice@example.test", (
                OutboundRecipient("bob@example.org"), OutboundRecipient("carol@example.org")),
                envid="e1")
            waiting = await store.enqueue(make_message(), envelope)
            now = datetime.now(UTC)
            claimed = await store.claim_due(now, now + timedelta(seconds=1), 10)
            bob, carol = claimed[0].recipients
            await store.record_attempt(waiting, [
                RecipientUpdate(bob.id, RecipientState.DEFERRED, now + timedelta(minutes=10),
                                "451 4.7.1 greylisted", "451 4.7.1 greylisted", "4.7.1",
                                "mx.example.org"),
                RecipientUpdate(carol.id, RecipientState.DELIVERED, now, None,
                                "250 2.0.0 ok", "2.0.0", "mx.example.org")], now)
            done = await store.enqueue(make_message(message_id="m2@example.test"),
                                       OutboundEnvelope("", (OutboundRecipient("x@y.org"),)))
            now = datetime.now(UTC)
            claimed = await store.claim_due(now, now + timedelta(seconds=1), 10)
            await store.record_attempt(done, [RecipientUpdate(
                claimed[0].recipients[0].id, RecipientState.FAILED, now, "550 5.1.1 unknown",
                "550 5.1.1 unknown", "5.1.1", "mx.y.org")], now)
            return waiting, done
        finally:
            await store.close()
    return asyncio.run(work())


def test_queue_commands(tmp_path: Path) -> None:
    made = postier("init", str(tmp_path / "mail"), "--hostname", "mail.example.test",
                   "--domain", "example.test")
    assert made.returncode == 0, made.stderr
    config = str(tmp_path / "mail" / "postier.toml")
    waiting, done = fill_queue(tmp_path / "mail")

    listing = postier("--config", config, "queue", "list")
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.splitlines()
    assert lines[0].startswith(f"{waiting}  ") and "from <alice@example.test>" in lines[0]
    assert lines[1].strip().startswith("bob@example.org  deferred, next attempt in 9m")
    assert lines[1].endswith(": 451 4.7.1 greylisted")
    assert lines[2].strip() == "carol@example.org  delivered: 250 2.0.0 ok"
    assert lines[-1] == "1 message(s), 1 recipient(s) waiting"  # the finished one is hidden
    everything = postier("--config", config, "queue", "list", "--all").stdout
    assert "(bounce, null sender)" in everything and "x@y.org  failed: 550 5.1.1" in everything

    shown = postier("--config", config, "queue", "show", str(waiting)).stdout
    assert "message-id:  <m1@example.test>" in shown
    assert "parameters:  ENVID=e1" in shown
    assert "state:     deferred (4.7.1)" in shown
    assert "server:    mx.example.org" in shown

    retried = postier("--config", config, "queue", "retry", str(waiting))
    assert retried.stdout.strip() == (f"message {waiting}: 1 recipient(s) will be tried at the "
                                      "next queue run")
    after = postier("--config", config, "queue", "list").stdout
    assert "bob@example.org  deferred, next attempt now" in after

    deleted = postier("--config", config, "queue", "delete", str(done))
    assert deleted.stdout.strip() == f"deleted message {done} from the queue"
    for bad in (["show", "999"], ["delete", "999"], ["retry", "abc"]):
        result = postier("--config", config, "queue", *bad)
        assert result.returncode == 2
        assert result.stderr.count("\n") == 1 and result.stderr.startswith("postier: error: ")
