"""POP3 download: USER/PASS, UIDL, then RETR of each of 1,000 messages of about 10 KB, one
command at a time as fetchmail and most clients do, then QUIT (nothing deleted). Median of
three sessions; messages/s and MB/s of message bytes received.

The maildrop is filled over SMTP (as it is in life), so both servers add their trace fields;
the reference is measured once LMTP has delivered every message."""

from __future__ import annotations

from bench.clients import Pop3Client
from bench.common import Target
from bench.load import Stopwatch, deliver, summary_times, wait_for_counts
from bench.messages import fixed_size_message

NAME = "pop3_download"
USER = 14
SIZE = 10 * 1024


async def _download(target: Target, user: str,
                    expected: int) -> tuple[float, int, dict[str, float]]:
    client = await Pop3Client.connect(target.pop3)  # type: ignore[arg-type]
    await client.login(user, target.password)
    with Stopwatch(target) as watch:
        uidl = await client.multiline("UIDL")
        numbers = [int(line.split()[0]) for line in uidl.split(b"\r\n") if line.strip()]
        received = 0
        for number in numbers:
            received += len(await client.multiline(f"RETR {number}"))
    await client.quit()
    if len(numbers) != expected:
        raise RuntimeError(f"UIDL listed {len(numbers)} messages, expected {expected}")
    return watch.wall, received, watch.stats()


async def run(target: Target, messages: int = 1000, runs: int = 3) -> dict[str, object]:
    if target.pop3 is None:
        raise RuntimeError("no pop3 listener")
    user = target.user(USER)
    before = (await _count(target, user))
    await deliver(target, [(user, fixed_size_message(n, user, SIZE)) for n in range(messages)])
    await wait_for_counts(target, {user: before + messages}, timeout=300)
    times, stats, received = [], [], 0
    for _ in range(runs):
        seconds, received, stat = await _download(target, user, before + messages)
        times.append(seconds)
        stats.append(stat)
    median = summary_times(times)["median"]
    return {"messages": messages, "seconds": median,
            "messages_per_s": round(messages / median, 1),
            "mb_per_s": round(received / median / 1e6, 1), "bytes": received,
            "retr": summary_times(times),
            "client_cpu_share": max(s["client_cpu_share"] for s in stats),
            "other_cpu_share": max((s["other_cpu_share"] for s in stats
                                    if s["other_cpu_share"] is not None), default=None)}


async def _count(target: Target, user: str) -> int:
    import asyncio

    return (await asyncio.to_thread(target.count_messages, [user]))[user]
