"""SMTP ingest: N concurrent clients each send M messages of 4 KB to local users over the MX
listener (plain SMTP, PIPELINING for MAIL/RCPT/DATA as MTAs do).

Two rates per server:
- ``acknowledged``: messages / seconds until the last 250 after DATA. Both servers answer 250
  only once the message is on disk (Postier: body fsync'd and store committed; Postfix: queue
  file fsync'd).
- ``stored``: messages / seconds until every message is in its recipient's mailbox (Postier:
  the same moment; Postfix + Dovecot: until LMTP has delivered the last one into Maildir,
  polled every 50 ms). This is what issue 3 compares ("until all are durably stored").
Afterwards the messages are counted in the store (``postier user list``; Maildir files).
"""

from __future__ import annotations

import asyncio

from bench.clients import SmtpClient, dot_stuff
from bench.common import Target, cpu_seconds
from bench.load import Stopwatch, wait_for_counts
from bench.messages import fixed_size_message

NAME = "smtp_ingest"
USERS = range(1, 11)  # bench1..bench10
MESSAGE_SIZE = 4096


async def _client(target: Target, index: int, count: int, start: asyncio.Event,
                  messages: list[bytes], recipients: list[str]) -> None:
    client = await SmtpClient.connect(target.smtp)  # type: ignore[arg-type]
    await start.wait()
    try:
        for number in range(count):
            recipient = recipients[(index + number) % len(recipients)]
            await client.send(f"client{index}@sender.example", [recipient],
                              messages[(index * count + number) % len(messages)])
    finally:
        await client.quit()


async def ingest(target: Target, clients: int, per_client: int) -> dict[str, object]:
    """One measured run; returns rates and checks."""
    recipients = [target.user(n) for n in USERS]
    messages = [dot_stuff(fixed_size_message(n, recipients[n % len(recipients)], MESSAGE_SIZE))
                for n in range(min(clients * per_client, 500))]
    total = clients * per_client
    before = await asyncio.to_thread(target.count_messages, recipients)
    expected = dict(before)
    for index in range(clients):
        for number in range(per_client):
            expected[recipients[(index + number) % len(recipients)]] += 1

    start = asyncio.Event()
    tasks = [asyncio.create_task(_client(target, i, per_client, start, messages, recipients))
             for i in range(clients)]
    await asyncio.sleep(0.2)  # every client connected and greeted
    with Stopwatch(target) as acked:
        start.set()
        results = await asyncio.gather(*tasks, return_exceptions=True)
    errors = [repr(r) for r in results if isinstance(r, BaseException)]
    if errors:
        raise RuntimeError(f"{len(errors)} SMTP client(s) failed, first: {errors[0]}")
    waited = await wait_for_counts(target, expected, timeout=300)
    stored_seconds = acked.wall + waited
    server_cpu = cpu_seconds(target.root_pids()) - acked.server_cpu_start
    after = await asyncio.to_thread(target.count_messages, recipients)
    delivered = sum(after.values()) - sum(before.values())
    return {
        "clients": clients, "messages": total, "message_bytes": MESSAGE_SIZE,
        "acknowledged_per_s": round(total / acked.wall, 1),
        "stored_per_s": round(total / stored_seconds, 1),
        "stored_seconds": round(stored_seconds, 3),
        "delivered": delivered, "delivered_ok": delivered == total,
        "wait_after_last_ack_s": round(waited, 3),
        # Until stored: for the reference, LMTP delivery goes on after the last 250.
        "server_cpu_ms_per_message": round(1000 * server_cpu / total, 3),
        **acked.stats(),
    }


async def run(target: Target, clients: int = 20, per_client: int = 200) -> dict[str, object]:
    if target.smtp is None:
        raise RuntimeError("no smtp listener")
    await ingest(target, 2, 10)  # warm-up: processes spawned, caches filled
    return await ingest(target, clients, per_client)

