"""IMAP bulk body download: ``UID FETCH 1:* BODY.PEEK[]`` of 1,000 messages of 10 KB
(``UID FETCH 1:1000`` in a mailbox holding exactly those), in MB/s of message bytes received.
Median of three fresh sessions."""

from __future__ import annotations

from bench.clients import ImapClient
from bench.common import Target
from bench.load import Stopwatch, populate_imap, summary_times
from bench.messages import fixed_size_message

NAME = "imap_bulk_body"
USER = 12
SIZE = 10 * 1024


async def run(target: Target, messages: int = 1000, runs: int = 3) -> dict[str, object]:
    if target.imap is None:
        raise RuntimeError("no imap listener")
    user = target.user(USER)
    await populate_imap(target, user, [fixed_size_message(n, user, SIZE) for n in range(messages)])
    times, others, shares, received = [], [], [], 0
    for _ in range(runs):
        client = await ImapClient.connect(target.imap)
        await client.login(user, target.password)
        await client.command("SELECT INBOX")
        with Stopwatch(target) as watch:
            reply = await client.command("UID FETCH 1:* BODY.PEEK[]")
        await client.logout()
        if reply.literal_bytes != messages * SIZE:
            raise RuntimeError(f"received {reply.literal_bytes} bytes of bodies, "
                               f"expected {messages * SIZE}")
        received = reply.literal_bytes
        times.append(watch.wall)
        shares.append(watch.stats()["client_cpu_share"])
        others.append(watch.stats()["other_cpu_share"])
    median = summary_times(times)["median"]
    return {"messages": messages, "message_bytes": SIZE, "seconds": median,
            "mb_per_s": round(received / median / 1e6, 1),
            "messages_per_s": round(messages / median, 1),
            "fetch": summary_times(times), "client_cpu_share": max(shares),
            "other_cpu_share": max((o for o in others if o is not None), default=None)}
