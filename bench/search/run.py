"""SEARCH TEXT benchmark: ``UID SEARCH TEXT`` of a rare, a common and a missing word in a mailbox
of N varied messages (bench/messages.py), over the imap listener of a real ``postier serve``
process; prints seconds and the server's CPU time per search.

The mailbox is filled through the store before the server starts (much faster than APPEND);
``--data DIR`` keeps it between runs (filled once, reused while it holds N messages). Each search
runs in its own session after SELECT, ``--rounds`` times; the median is printed. Comparing with
Dovecot is bench/run.py's job (scenario imap_search_text).

    python bench/search/run.py [--messages 100000] [--data /tmp/search-data]
"""

from __future__ import annotations

import argparse
import asyncio
import imaplib
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.messages import COMMON_WORD, MARKER, MISSING_WORD, varied_messages
from bench.pop3.run import cpu_seconds, postier, start_server

DOMAIN = "bench.test"
USER = f"searcher@{DOMAIN}"
PASSWORD = "bench-password"
CONFIG = """\
[server]
hostname = "imap.bench.test"
data_dir = "data"

[listen]
smtp = []
submission = []
submissions = []
imap = ["127.0.0.1:0"]
imaps = []
pop3 = []
pop3s = []
http = []
https = []

[auth]
allow_plaintext = true

[log]
level = "warning"
"""


def fill(data_dir: Path, count: int) -> None:
    from postier.store.sqlite.store import SqliteStore
    from postier.types import INBOX

    async def work() -> None:
        store = SqliteStore.open(data_dir)
        try:
            account = await store.get_account(USER)
            assert account is not None
            inbox = await store.get_mailbox(account.id, INBOX)
            have = (await store.status(account.id, inbox.id)).messages
            for start in range(have, count, 1000):
                batch = varied_messages(min(1000, count - start), USER, start=start)
                for offset in range(0, len(batch), 100):
                    await asyncio.gather(*(store.append(account.id, inbox.id, body)
                                           for body in batch[offset:offset + 100]))
        finally:
            await store.close()

    asyncio.run(work())


def search(port: int, pid: int, word: str) -> tuple[float, float, int]:
    """(seconds, server CPU seconds, UIDs found) of one UID SEARCH TEXT after SELECT."""
    client = imaplib.IMAP4("127.0.0.1", port)
    client.login(USER, PASSWORD)
    client.select("INBOX")
    cpu = cpu_seconds(pid)
    started = time.perf_counter()
    status, data = client.uid("SEARCH", "TEXT", f'"{word}"')
    seconds = time.perf_counter() - started
    cpu = cpu_seconds(pid) - cpu
    client.logout()
    assert status == "OK", data
    return seconds, cpu, len((data[0] or b"").split())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--data", type=Path, help="a directory to keep the filled store in")
    args = parser.parse_args()
    directory = args.data or Path(tempfile.mkdtemp(prefix="postier-bench-search-"))
    config = directory / "postier.toml"
    if not config.exists():
        directory.mkdir(parents=True, exist_ok=True)
        config.write_text(CONFIG)
        postier(config, "domain", "add", DOMAIN)
        postier(config, "user", "add", USER, "--password-stdin", stdin=PASSWORD + "\n")
    started = time.perf_counter()
    fill(directory / "data", args.messages)
    print(f"mailbox of {args.messages} messages ready in {time.perf_counter() - started:.0f} s")
    process, ports = start_server(config, directory / "data")
    try:
        for label, word in (("rare", MARKER), ("common", COMMON_WORD), ("missing", MISSING_WORD)):
            runs = [search(ports["imap"], process.pid, word) for _ in range(args.rounds)]
            seconds = statistics.median(r[0] for r in runs)
            cpu = statistics.median(r[1] for r in runs)
            print(f"{label} ({word}): {sorted({r[2] for r in runs})} found, median "
                  f"{seconds:.3f} s, server CPU {cpu:.3f} s")
    finally:
        process.terminate()
        process.wait(30)
    if args.data is None:
        shutil.rmtree(directory)


if __name__ == "__main__":
    main()
