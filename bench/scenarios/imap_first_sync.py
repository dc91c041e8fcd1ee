"""IMAP first sync: a client that has never seen the mailbox asks for the list of 10,000
messages: ``UID FETCH 1:* (FLAGS INTERNALDATE RFC822.SIZE ENVELOPE)`` after LOGIN and SELECT.

The same 10,000 varied messages (about 1.5 KB, realistic headers) are APPENDed to both
servers first. Three fresh sessions then fetch; the first after APPEND is reported apart
(``cold_seconds``): Dovecot parses the files and fills its cache on that one, while Postier
encoded the envelopes at delivery. The headline is the median of the three.
"""

from __future__ import annotations

from bench.clients import ImapClient
from bench.common import Target
from bench.load import Stopwatch, populate_imap, summary_times
from bench.messages import varied_messages

NAME = "imap_first_sync"
USER = 11
FETCH = "UID FETCH 1:* (FLAGS INTERNALDATE RFC822.SIZE ENVELOPE)"


async def _sync(target: Target, user: str, expected: int) -> tuple[float, float, dict[str, float]]:
    with Stopwatch(target) as login:
        client = await ImapClient.connect(target.imap)  # type: ignore[arg-type]
        await client.login(user, target.password)
        await client.command("SELECT INBOX")
    with Stopwatch(target) as fetch:
        reply = await client.command(FETCH)
    await client.logout()
    fetched = sum(1 for line in reply.untagged if b" FETCH " in line[:20])
    if fetched != expected:
        raise RuntimeError(f"FETCH returned {fetched} messages, expected {expected}")
    return login.wall, fetch.wall, fetch.stats()


async def run(target: Target, messages: int = 10_000, runs: int = 3) -> dict[str, object]:
    if target.imap is None:
        raise RuntimeError("no imap listener")
    user = target.user(USER)
    await populate_imap(target, user, varied_messages(messages, user))
    logins, fetches, stats = [], [], []
    for _ in range(runs):
        login, fetch, stat = await _sync(target, user, messages)
        logins.append(login)
        fetches.append(fetch)
        stats.append(stat)
    return {"messages": messages, "seconds": summary_times(fetches)["median"],
            "cold_seconds": round(fetches[0], 4), "fetch": summary_times(fetches),
            # CPU the server used per FETCH: far steadier than wall time on a busy machine.
            "server_cpu_seconds": summary_times([float(s["server_cpu_seconds"] or 0)
                                                 for s in stats]),
            "login_select": summary_times(logins),
            "client_cpu_share": max(s["client_cpu_share"] for s in stats),
            "other_cpu_share": max((s["other_cpu_share"] for s in stats
                                    if s["other_cpu_share"] is not None), default=None)}
