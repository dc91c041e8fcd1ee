"""The queue survives kill -9: ``postier serve`` as a process is killed while it holds messages
(one of them mid-delivery, leased), and after a restart every message is delivered exactly once."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from postier.store.interface import QueueId, RecipientState
from postier.store.sqlite.store import SqliteStore
from tests.e2e.queue_sinks import SinkBehaviour, SmtpSink, make_message, wait_until
from tests.e2e.test_queue_delivery import enqueue
from tests.harness import ServerProcess, add_users, write_config

pytestmark = pytest.mark.slow

EXTRA = """
[queue]
retry_schedule = ["1s"]
poll_interval = 0.1
lease = "2s"
command_timeout = 60

[relay]
smarthost = "127.0.0.1:{port}"
tls = "none"
"""


async def test_pending_and_in_flight_messages_are_delivered_after_kill_9(tmp_path: Path) -> None:
    hanging = await SmtpSink(SinkBehaviour(hang_before_greeting=True)).start()
    accepting = await SmtpSink().start()
    config = write_config(tmp_path, extra=EXTRA.format(port=hanging.port))
    store = await asyncio.to_thread(SqliteStore.open, tmp_path / "data")
    process = ServerProcess(config)
    try:
        await add_users(store)
        ids: list[QueueId] = []
        for number in range(3):
            data = make_message(message_id=f"crash{number}@example.test")
            ids.append(await enqueue(store, f"rcpt{number}@example.org", data=data))
        await asyncio.to_thread(process.start)
        await hanging.wait_for(lambda: hanging.connections >= 1)

        async def leased() -> bool:
            messages = [await store.get_queued(i) for i in ids]
            return all(r.lease_until is not None for m in messages for r in m.recipients)
        await wait_until(leased, what="every recipient leased by the running server")
        process.kill()

        write_config(tmp_path, extra=EXTRA.format(port=accepting.port))
        await asyncio.to_thread(process.start)
        received = await accepting.wait_messages(3, timeout=30)

        async def delivered() -> bool:
            messages = [await store.get_queued(i) for i in ids]
            return all(r.state is RecipientState.DELIVERED for m in messages
                       for r in m.recipients)
        await wait_until(delivered, what="every recipient delivered")
        message_ids = sorted(r.data.split(b"Message-ID: ")[1].split(b"\r\n")[0]
                             for r in received)
        assert message_ids == [b"<crash0@example.test>", b"<crash1@example.test>",
                               b"<crash2@example.test>"]  # each once, none lost
        assert await asyncio.to_thread(process.terminate) == 0
    finally:
        process.kill()
        await store.close()
        await hanging.stop()
        await accepting.stop()
