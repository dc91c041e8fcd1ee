"""POP3 download benchmark: UIDL + RETR of N messages of ~10 KB over the pop3s listener of a
real ``postier serve`` process; prints messages per second and MB per second.

The maildrop is filled through the store before the server starts. Two downloads run one after
the other: the first login sizes every message from its body (the wire-size cache is empty),
the second finds the sizes cached, as every later login in a running server does. Each download
is one poplib session: login, UIDL, RETR of every message, QUIT (with no DELE, so both see the
same maildrop). Comparing with Dovecot's POP3 server is not part of this script.

    python bench/pop3/run.py [--messages 1000] [--size 10240] [--plain] [--profile out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import poplib
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DOMAIN = "bench.test"
USER = f"reader@{DOMAIN}"
PASSWORD = "bench-password"
CONFIG = """\
[server]
hostname = "pop.bench.test"
data_dir = "data"

[tls]
cert = "cert.pem"
key = "key.pem"

[listen]
smtp = []
submission = []
submissions = []
imap = []
imaps = []
pop3 = ["127.0.0.1:0"]
pop3s = ["127.0.0.1:0"]
http = []
https = []

[auth]
allow_plaintext = true

[log]
level = "warning"
"""


def postier(config: Path, *args: str, stdin: str | None = None) -> None:
    subprocess.run([sys.executable, "-m", "postier", "--config", str(config), *args],
                   input=stdin, text=True, check=True, capture_output=True)


def message(number: int, size: int) -> bytes:
    head = (f"From: sender@remote.example\r\nTo: {USER}\r\nSubject: bench {number}\r\n"
            f"Message-ID: <{number}@remote.example>\r\n\r\n").encode()
    line = b"The quick brown fox jumps over the lazy dog, again and again and again.\r\n"
    return head + line * max(1, (size - len(head)) // len(line))


def fill(data_dir: Path, count: int, size: int) -> None:
    import asyncio

    from postier.store.sqlite.store import SqliteStore
    from postier.types import INBOX

    async def work() -> None:
        store = SqliteStore.open(data_dir)
        try:
            account = await store.get_account(USER)
            assert account is not None
            inbox = await store.get_mailbox(account.id, INBOX)
            for number in range(count):
                await store.append(account.id, inbox.id, message(number, size))
        finally:
            await store.close()

    asyncio.run(work())


def start_server(config: Path, data_dir: Path) -> tuple[subprocess.Popen[bytes], dict[str, int]]:
    runtime = data_dir / "run" / "listeners.json"
    process = subprocess.Popen([sys.executable, "-m", "postier", "--config", str(config), "serve"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("postier serve exited early")
        if runtime.exists():
            data = json.loads(runtime.read_text())
            if data.get("pid") == process.pid:
                return process, {e["name"]: e["port"] for e in data["listeners"]}
        time.sleep(0.05)
    process.kill()
    raise TimeoutError("postier serve did not start")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far (every thread), from /proc."""
    user, system = cpu_split(pid)
    return user + system


def cpu_split(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds the process has used so far (every thread), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / ticks, int(fields[12]) / ticks


def connect(ports: dict[str, int], tls: bool) -> poplib.POP3:
    if not tls:
        return poplib.POP3("127.0.0.1", ports["pop3"], timeout=120)
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the benchmark's own self-signed certificate
    return poplib.POP3_SSL("127.0.0.1", ports["pop3s"], context=context, timeout=120)


def download(ports: dict[str, int], pid: int,
             tls: bool) -> tuple[float, float, int, int, tuple[float, float]]:
    """(seconds to log in and UIDL, seconds for all RETRs, messages, octets, server CPU seconds
    used during the RETRs: user and system)."""
    started = time.perf_counter()
    client = connect(ports, tls)
    client.user(USER)
    client.pass_(PASSWORD)
    listing = client.uidl()[1]
    listed = time.perf_counter()
    user_before, system_before = cpu_split(pid)
    octets = 0
    for line in listing:
        octets += client.retr(int(line.split()[0]))[2]
    done = time.perf_counter()
    user, system = cpu_split(pid)
    client.quit()
    return (listed - started, done - listed, len(listing), octets,
            (user - user_before, system - system_before))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--size", type=int, default=10240, help="octets per message")
    parser.add_argument("--plain", action="store_true",
                        help="the plaintext pop3 listener instead of pop3s (as bench/run.py)")
    parser.add_argument("--rounds", type=int, default=3, help="downloads after the first")
    parser.add_argument("--profile", type=Path,
                        help="record the server with py-spy during the cached downloads "
                        "(a speedscope JSON file)")
    parser.add_argument("--keep", action="store_true", help="keep the data directory")
    args = parser.parse_args()
    from postier.net.tls import generate_self_signed

    directory = Path(tempfile.mkdtemp(prefix="postier-bench-pop3-"))
    config = directory / "postier.toml"
    config.write_text(CONFIG)
    generate_self_signed("pop.bench.test", directory / "cert.pem", directory / "key.pem")
    postier(config, "domain", "add", DOMAIN)
    postier(config, "user", "add", USER, "--password-stdin", stdin=PASSWORD + "\n")
    fill(directory / "data", args.messages, args.size)
    process, ports = start_server(config, directory / "data")
    spy: subprocess.Popen[bytes] | None = None
    try:
        runs = [download(ports, process.pid, not args.plain)]
        if args.profile is not None:
            spy = subprocess.Popen(["py-spy", "record", "--pid", str(process.pid), "--threads",
                                    "--rate", "500", "--format", "speedscope",
                                    "--output", str(args.profile)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1)
        runs += [download(ports, process.pid, not args.plain) for _ in range(args.rounds)]
    finally:
        if spy is not None:
            spy.send_signal(2)
            spy.wait(30)
        process.terminate()
        process.wait(30)
    labels = ["first", *(f"cached {n}" for n in range(1, len(runs)))]
    for label, (login, retrieve, count, octets, (user, system)) in zip(labels, runs,
                                                                           strict=True):
        print(f"{label}: login+UIDL {login * 1000:.0f} ms; RETR of {count} messages "
              f"({octets / 1e6:.1f} MB) in {retrieve:.2f} s: {count / retrieve:.0f} messages/s, "
              f"{octets / 1e6 / retrieve:.1f} MB/s; server CPU per message {user / count * 1e6:.0f}"
              f" us user + {system / count * 1e6:.0f} us system (cpus: {os.cpu_count()})")
    if args.keep:
        print(f"data kept in {directory}")
    else:
        shutil.rmtree(directory)


if __name__ == "__main__":
    main()
