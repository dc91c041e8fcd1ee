"""SMTP ingest benchmark: N concurrent clients send 4 KB messages to local users over the MX
listener of a real ``postier serve`` process; prints messages per second.

Every message counts only once the server has answered 250 to its DATA, which Postier sends
after the store has committed it (fsync'd body file, SQLite commit), so the rate is of durably
stored messages. Each client keeps one connection and sends its messages one after another.

    python bench/smtp_ingest/run.py [--clients 20] [--messages 100] [--users 10]
"""

from __future__ import annotations

import argparse
import json
import os
import smtplib
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

DOMAIN = "bench.test"
CONFIG = """\
[server]
hostname = "mx.bench.test"
data_dir = "data"

[listen]
smtp = ["127.0.0.1:0"]
submission = []
submissions = []
imap = []
imaps = []
pop3 = []
pop3s = []
http = []
https = []

[limits]
max_connections_per_ip = 1000

[log]
level = "warning"
"""


def postier(config: Path, *args: str, stdin: str | None = None) -> None:
    subprocess.run([sys.executable, "-m", "postier", "--config", str(config), *args],
                   input=stdin, text=True, check=True, capture_output=True)


def message(client: int, number: int) -> bytes:
    head = (f"From: client{client}@remote.example\r\nTo: bench@{DOMAIN}\r\n"
            f"Subject: bench {client}/{number}\r\nMessage-ID: <{client}.{number}@remote.example>"
            "\r\n\r\n").encode()
    line = b"The quick brown fox jumps over the lazy dog, again and again and again.\r\n"
    return head + line * ((4096 - len(head)) // len(line))


def start_server(config: Path, data_dir: Path) -> tuple[subprocess.Popen[bytes], int]:
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
                return process, next(e["port"] for e in data["listeners"] if e["name"] == "smtp")
        time.sleep(0.05)
    process.kill()
    raise TimeoutError("postier serve did not start")


def run(clients: int, messages: int, users: int, port: int) -> float:
    errors: list[BaseException] = []
    barrier = threading.Barrier(clients + 1)

    def client(index: int) -> None:
        try:
            with smtplib.SMTP("127.0.0.1", port, local_hostname="bench.example",
                              timeout=120) as smtp:
                smtp.ehlo()
                barrier.wait()
                for number in range(messages):
                    recipient = f"user{(index + number) % users}@{DOMAIN}"
                    smtp.sendmail(f"client{index}@remote.example", [recipient],
                                  message(index, number))
        except BaseException as exc:  # reported after the run
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"{len(errors)} client(s) failed, first: {errors[0]!r}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--messages", type=int, default=100, help="per client")
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--keep", action="store_true", help="keep the data directory")
    args = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="postier-bench-"))
    config = directory / "postier.toml"
    config.write_text(CONFIG)
    postier(config, "domain", "add", DOMAIN)
    for user in range(args.users):
        postier(config, "user", "add", f"user{user}@{DOMAIN}", "--password-stdin",
                stdin="bench-password\n")
    process, port = start_server(config, directory / "data")
    try:
        elapsed = run(args.clients, args.messages, args.users, port)
    finally:
        process.terminate()
        process.wait(30)
    total = args.clients * args.messages
    print(f"{total} messages of 4 KB from {args.clients} clients to {args.users} users "
          f"in {elapsed:.2f} s: {total / elapsed:.0f} messages/s (cpus: {os.cpu_count()})")
    if not args.keep:
        import shutil

        shutil.rmtree(directory)
    else:
        print(f"data kept in {directory}")


if __name__ == "__main__":
    main()
