"""IMAP SEARCH TEXT in a mailbox of 100,000 varied messages (``--messages`` for fewer).

Three searches, each in a fresh session after SELECT, each run three times (median):
a rare word (in one message of 1,000: both servers must find the same UIDs count), a common
word, and a word that is in no message. The headline is the median time of the rare word.
Debian's Dovecot has no full-text index configured, so it reads every message; that is the
reference as installed."""

from __future__ import annotations

from bench.clients import ImapClient
from bench.common import Target
from bench.load import Stopwatch, populate_imap, summary_times
from bench.messages import COMMON_WORD, MARKER, MARKER_EVERY, MISSING_WORD, varied_messages

NAME = "imap_search_text"
USER = 13
CHUNK = 10_000


async def _search(target: Target, user: str, word: str) -> tuple[float, int, float]:
    client = await ImapClient.connect(target.imap)  # type: ignore[arg-type]
    await client.login(user, target.password)
    await client.command("SELECT INBOX")
    with Stopwatch(target) as watch:
        reply = await client.command(f'UID SEARCH TEXT "{word}"')
    await client.logout()
    found = sum(len(line.split()) - 2 for line in reply.untagged if line.startswith(b"* SEARCH"))
    return watch.wall, found, watch.stats()["client_cpu_share"]


async def run(target: Target, messages: int = 100_000, runs: int = 3) -> dict[str, object]:
    if target.imap is None:
        raise RuntimeError("no imap listener")
    user = target.user(USER)
    for start in range(0, messages, CHUNK):
        batch = varied_messages(min(CHUNK, messages - start), user, start=start)
        await populate_imap(target, user, batch, connections=4, batch=100)
    results: dict[str, object] = {"messages": messages}
    for label, word in (("rare", MARKER), ("common", COMMON_WORD), ("missing", MISSING_WORD)):
        times, counts = [], set()
        for _ in range(runs):
            seconds, found, _share = await _search(target, user, word)
            times.append(seconds)
            counts.add(found)
        results[label] = {"word": word, "found": sorted(counts), **summary_times(times)}
    expected = messages // MARKER_EVERY + (1 if messages % MARKER_EVERY > MARKER_EVERY // 2
                                            else 0)
    rare = results["rare"]
    assert isinstance(rare, dict)
    if rare["found"] != [expected]:
        raise RuntimeError(f"SEARCH TEXT {MARKER} found {rare['found']}, expected {expected}")
    results["seconds"] = rare["median"]
    return results
