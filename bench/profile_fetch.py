"""CPU cost of an IMAP first sync inside one process, without sockets or a load generator:
a real SQLite store in a directory, an IMAP session over ``net.memory``, and
``UID FETCH 1:* (FLAGS INTERNALDATE RFC822.SIZE ENVELOPE)`` (or ``--items``) over N messages.

    python bench/profile_fetch.py                      # 10,000 messages, 5 rounds
    python bench/profile_fetch.py --items "(UID FLAGS BODYSTRUCTURE)" --rounds 3
    python bench/profile_fetch.py --profile            # pyinstrument of one round

The number to compare between versions is the process CPU time per FETCH (``time.process_time``:
every thread of the process, so the store's reader threads count too); the median of the
rounds is printed with the minimum and the wall time. On a shared machine CPU time moves far
less than wall time, but still a few percent: compare medians of several rounds.

The store is filled once (``bench.messages.varied_messages``, the messages of the
imap_first_sync scenario) and kept in ``--store`` for later runs; ``--refill`` fills it again,
which is needed after a change to what delivery stores.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.messages import varied_messages
from postier.auth import Authenticator, MemoryThrottle, ThrottleLimits
from postier.auth.passwords import hash_password
from postier.config import Config, ServerSection
from postier.imap.session import ImapSession
from postier.net.memory import MemoryConnection, memory_pair
from postier.services import Services
from postier.store.sqlite.store import SqliteStore

USER = "sync@bench.test"
PASSWORD = "bench-password"
DEFAULT_ITEMS = "(FLAGS INTERNALDATE RFC822.SIZE ENVELOPE)"


async def _fill(store: SqliteStore, messages: int) -> None:
    if await store.get_domain("bench.test") is None:
        await store.add_domain("bench.test")
    if await store.get_account(USER) is None:
        await store.add_account(USER, hash_password(PASSWORD), None)
    account = await store.get_account(USER)
    assert account is not None
    inbox = await store.get_mailbox(account.id, "INBOX")
    have = (await store.status(account.id, inbox.id)).messages
    batch = 200
    for start in range(have, messages, batch):
        chunk = varied_messages(min(batch, messages - start), USER, start=start)
        await asyncio.gather(*(store.append(account.id, inbox.id, data) for data in chunk))


async def _command(conn: MemoryConnection, peer_send: Callable[[bytes], None], tag: str,
                   text: str) -> int:
    """Send one command; wait for its tagged reply; return the bytes the server wrote."""
    marker = f"\r\n{tag} ".encode()
    start = len(conn.outbound)
    peer_send(f"{tag} {text}\r\n".encode())
    while True:
        tail = b"\r\n" + bytes(conn.outbound[max(start, len(conn.outbound) - 8192):])
        position = tail.rfind(marker)
        if position >= 0 and tail.find(b"\r\n", position + 2) >= 0:
            break
        if conn.closed:
            raise RuntimeError(bytes(conn.outbound[start:]).decode(errors="replace"))
        conn.outbound_event.clear()
        await conn.outbound_event.wait()
    written = len(conn.outbound) - start
    reply = tail[position + len(marker):]
    if not reply.startswith(b"OK"):
        raise RuntimeError(f"{text}: {reply!r}")
    del conn.outbound[:]  # keep the buffer small: the next command starts afresh
    return written


async def _round(services: Services, items: str, uid: bool) -> tuple[float, float, int]:
    conn, peer = memory_pair("imaps", tls=True)
    task = asyncio.create_task(ImapSession(services, conn).run())
    while b"\r\n" not in conn.outbound:
        conn.outbound_event.clear()
        await conn.outbound_event.wait()
    del conn.outbound[:]
    await _command(conn, peer.send, "l", f'LOGIN {USER} "{PASSWORD}"')
    await _command(conn, peer.send, "s", "SELECT INBOX")
    cpu, wall = time.process_time(), time.perf_counter()
    written = await _command(conn, peer.send, "f", ("UID FETCH" if uid else "FETCH")
                             + " 1:* " + items)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    peer.close()
    await task
    return cpu, wall, written


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", type=Path, default=Path("/tmp/postier-profile-fetch"))
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--refill", action="store_true", help="empty the store and fill it again")
    parser.add_argument("--items", default=DEFAULT_ITEMS)
    parser.add_argument("--no-uid", action="store_true", help="FETCH instead of UID FETCH")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="pyinstrument of one more round")
    args = parser.parse_args()
    if args.refill and args.store.exists():
        shutil.rmtree(args.store)
    store = await asyncio.to_thread(SqliteStore.open, args.store)
    try:
        await _fill(store, args.messages)
        throttle = ThrottleLimits(free_failures=3, base_delay=0.01, max_delay=0.02, window=60.0)
        services = Services(Config(server=ServerSection(hostname="bench.test")), store,
                            Authenticator(store, MemoryThrottle(throttle)), None)
        await _round(services, args.items, not args.no_uid)  # warm caches and the page cache
        results = [await _round(services, args.items, not args.no_uid)
                   for _ in range(args.rounds)]
        cpus = [r[0] for r in results]
        walls = [r[1] for r in results]
        print(f"FETCH 1:* {args.items} of {args.messages} messages, {results[0][2]} bytes")
        print(f"CPU  median {statistics.median(cpus) * 1000:.1f} ms  min {min(cpus) * 1000:.1f}"
              f" ms  ({', '.join(f'{c * 1000:.0f}' for c in cpus)})")
        print(f"wall median {statistics.median(walls) * 1000:.1f} ms  min"
              f" {min(walls) * 1000:.1f} ms")
        if args.profile:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0005, async_mode="enabled")
            with profiler:
                await _round(services, args.items, not args.no_uid)
            print(profiler.output_text(unicode=True, color=False, show_all=False))
    finally:
        await store.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
