"""What every scenario shares: the two servers under test, process statistics, results.

How this works: a ``Target`` is one server under test as the scenarios see it: a name, the
loopback ports of its SMTP (MX), IMAP and POP3 listeners (``None`` when it has none), its
accounts and their password, how to count the messages in an INBOX, and the processes whose
CPU time and memory belong to it. ``start_postier`` runs ``python -m postier serve`` on a
configuration written in a fresh directory (every listener on 127.0.0.1:0, plain-text logins
allowed so both servers are measured without TLS); ``start_reference_target`` wraps Postfix +
Dovecot from ``bench/reference``. Both have the same accounts ``bench1@bench.test`` ... with
password ``bench``.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench.reference.servers import (
    DOMAIN,
    PASSWORD,
    ReferencePorts,
    start_reference,
    stop_reference,
)

__all__ = ["DOMAIN", "PASSWORD", "REPO", "PostierProcess", "Target", "cpu_seconds",
           "machine", "memory_kb", "process_tree", "raise_fd_limit", "start_postier",
           "start_reference_target", "write_results"]

REPO = Path(__file__).resolve().parents[1]
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Target:
    name: str                      # "postier" or "reference"
    smtp: int | None
    imap: int | None
    pop3: int | None
    users: list[str]
    password: str
    count_messages: Callable[[list[str]], dict[str, int]]  # address -> messages stored
    root_pids: Callable[[], list[int]]
    stop: Callable[[], None]
    imap_root_pids: Callable[[], list[int]] | None = None  # the IMAP side, when apart
    restart: Callable[[], None] | None = None  # a fresh process, same data (ports may change)
    # Create more accounts (same password) in bulk; may restart the server.
    add_accounts: Callable[[list[str]], None] | None = None
    notes: dict[str, str] = field(default_factory=dict)

    def user(self, number: int) -> str:
        """Account number ``number`` (1-based): ``benchN@bench.test``."""
        return f"bench{number}@{DOMAIN}"

    def pids(self) -> list[int]:
        return process_tree(self.root_pids())

    def imap_pids(self) -> list[int]:
        """The processes that serve IMAP (Dovecot's tree for the reference)."""
        return process_tree((self.imap_root_pids or self.root_pids)())


# -- Postier ------------------------------------------------------------------------------------

_POSTIER_CONFIG = """\
# Written by bench/common.py: every listener on loopback, any free port.
[server]
hostname = "mx.{domain}"
data_dir = "."

[tls]
cert = "tls/cert.pem"
key = "tls/key.pem"

[listen]
smtp = ["127.0.0.1:0"]
submission = ["127.0.0.1:0"]
submissions = ["127.0.0.1:0"]
imap = ["127.0.0.1:0"]
imaps = ["127.0.0.1:0"]
pop3 = ["127.0.0.1:0"]
pop3s = ["127.0.0.1:0"]
http = ["127.0.0.1:0"]
https = []

[limits]
max_connections = 20000
max_connections_per_ip = 20000

[auth]
allow_plaintext = true

# The reference Postfix checks no SPF/DKIM/DMARC either: compare like with like.
[mailauth]
verify = false

[log]
level = "warning"
"""


def _postier_env() -> dict[str, str]:
    """The environment for Postier processes: ``POSTIER_SOURCE`` (a directory holding the
    ``postier`` package, e.g. a snapshot of a work tree) goes first on the import path."""
    env = dict(os.environ)
    source = os.environ.get("POSTIER_SOURCE")
    if source:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [source, env.get("PYTHONPATH")]))
    return env


def _postier_cwd() -> Path:
    return Path(os.environ.get("POSTIER_SOURCE") or REPO)


def _postier_command(*args: str, stdin: str | None = None) -> str:
    result = subprocess.run([sys.executable, "-m", "postier", *args], input=stdin, text=True,
                            capture_output=True, cwd=_postier_cwd(), env=_postier_env())
    if result.returncode != 0:
        raise RuntimeError(f"postier {' '.join(args)} failed: {result.stderr.strip()[-1500:]}")
    return result.stdout


def _postier_cli(config: Path, *args: str, stdin: str | None = None) -> str:
    return _postier_command("--config", str(config), *args, stdin=stdin)


class PostierProcess:
    """``python -m postier --config FILE serve`` in a child process."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.config = directory / "postier.toml"
        self.process: subprocess.Popen[bytes] | None = None
        self.log = directory / "serve.log"

    def create(self, users: int, password: str = PASSWORD) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)
        self.directory.parent.mkdir(parents=True, exist_ok=True)
        _postier_command("init", str(self.directory), "--hostname", f"mx.{DOMAIN}",
                         "--domain", DOMAIN)
        self.config.write_text(_POSTIER_CONFIG.format(domain=DOMAIN))
        addresses = [f"bench{n}@{DOMAIN}" for n in range(1, users + 1)]
        # Each `user add` hashes a password with Argon2 in its own process: two at a time.
        with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            list(pool.map(lambda a: _postier_cli(self.config, "user", "add", a,
                                                 "--password-stdin", stdin=password + "\n"),
                          addresses))

    def start(self, timeout: float = 60.0) -> dict[str, int]:
        runtime = self.directory / "run" / "listeners.json"
        runtime.unlink(missing_ok=True)
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "postier", "--config", str(self.config), "serve"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                cwd=_postier_cwd(), env=_postier_env())
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"postier serve exited early; see {self.log}:\n"
                                   + self.log.read_text()[-2000:])
            if runtime.exists():
                data = json.loads(runtime.read_text())
                if data.get("pid") == self.process.pid:
                    ports: dict[str, int] = {}
                    for entry in data["listeners"]:
                        ports.setdefault(entry["name"], entry["port"])
                    return ports
            time.sleep(0.05)
        self.stop()
        raise TimeoutError("postier serve did not start listening")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def add_accounts(self, addresses: list[str], password: str = PASSWORD) -> None:
        """Create accounts in bulk, with one password hash for all (``user add`` hashes once per
        process, which makes thousands of accounts take many minutes). Stop the server first."""
        script = (
            "import asyncio, sys\nfrom pathlib import Path\n"
            "from postier.auth.passwords import hash_password\n"
            "from postier.config import load_config\n"
            "from postier.server import open_store\n"
            "async def main() -> None:\n"
            "    config, password, *addresses = sys.stdin.read().split()\n"
            "    store = await open_store(load_config(Path(config)))\n"
            "    try:\n"
            "        hashed = hash_password(password)\n"
            "        async def add(address: str) -> None:\n"
            "            if await store.get_account(address) is None:\n"
            "                await store.add_account(address, hashed, None)\n"
            "        for start in range(0, len(addresses), 100):  # group commits\n"
            "            await asyncio.gather(*map(add, addresses[start:start + 100]))\n"
            "    finally:\n"
            "        await store.close()\n"
            "asyncio.run(main())\n")
        result = subprocess.run([sys.executable, "-c", script], text=True, capture_output=True,
                                input="\n".join([str(self.config), password, *addresses]),
                                cwd=_postier_cwd(), env=_postier_env())
        if result.returncode != 0:
            raise RuntimeError(f"adding accounts failed: {result.stderr.strip()[-1500:]}")

    def counts(self) -> dict[str, int]:
        """Messages per account, from ``postier user list``."""
        counts = {}
        for line in _postier_cli(self.config, "user", "list").splitlines():
            match = re.match(r"(\S+)\t(\d+) messages", line)
            if match:
                counts[match.group(1)] = int(match.group(2))
        return counts


def start_postier(directory: Path, users: int) -> Target:
    server = PostierProcess(directory)
    server.create(users)
    ports = server.start()
    target = Target(
        name="postier", smtp=ports.get("smtp"), imap=ports.get("imap"), pop3=ports.get("pop3"),
        users=[f"bench{n}@{DOMAIN}" for n in range(1, users + 1)], password=PASSWORD,
        count_messages=lambda addresses: _postier_counts(server, target, addresses),
        root_pids=lambda: [server.process.pid] if server.process else [],
        stop=server.stop,
        notes={"listeners": ", ".join(sorted(ports)), "log": str(server.log),
               "config": str(server.config), "source": str(_postier_cwd()),
               "revision": _revision()})

    def restart() -> None:
        server.stop()
        ports = server.start()
        target.smtp, target.imap, target.pop3 = (ports.get("smtp"), ports.get("imap"),
                                                 ports.get("pop3"))

    def add_accounts(addresses: list[str]) -> None:
        server.stop()
        server.add_accounts(addresses)
        restart()

    target.restart = restart
    target.add_accounts = add_accounts
    return target


def _postier_counts(server: PostierProcess, target: Target,
                    addresses: list[str]) -> dict[str, int]:
    """``postier user list``; over IMAP STATUS if the command fails (the CLI is being worked
    on while the benchmark runs, and a count must not sink a scenario)."""
    try:
        return _subset(server.counts(), addresses)
    except RuntimeError:
        if target.imap is None:
            raise
    import imaplib

    counts = {}
    for address in addresses:
        with imaplib.IMAP4("127.0.0.1", target.imap) as client:
            client.login(address, target.password)
            _, data = client.status("INBOX", "(MESSAGES)")
            counts[address] = int(re.search(rb"MESSAGES (\d+)", data[0]).group(1))  # type: ignore[union-attr,index]
    return counts


def _subset(counts: dict[str, int], addresses: list[str]) -> dict[str, int]:
    return {address: counts.get(address, 0) for address in addresses}


def start_reference_target(directory: Path, users: int) -> tuple[Target, ReferencePorts]:
    ports = start_reference(directory, users=users)
    target = Target(
        name="reference", smtp=ports.smtp, imap=ports.imap, pop3=ports.pop3,
        users=list(ports.users), password=PASSWORD,
        count_messages=lambda addresses: {a: ports.message_count(a) for a in addresses},
        root_pids=ports.master_pids, stop=lambda: stop_reference(ports),
        add_accounts=ports.add_users,
        imap_root_pids=lambda: [pid for pid in [ports.dovecot_master_pid()] if pid],
        notes={"postfix": _version(["postconf", "-d", "-h", "mail_version"]),
               "dovecot": _version(["dovecot", "--version"])})
    return target, ports


def _revision() -> str:
    """The repository's commit, with "+changes" when the work tree differs from it."""
    try:
        head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "postier"],
                               capture_output=True, text=True).stdout.strip()
        revision = head + ("+changes" if dirty else "")
    except OSError:
        return "?"
    source = os.environ.get("POSTIER_SOURCE")
    return f"copy in {source} (repository at {revision})" if source else revision


def _version(command: list[str]) -> str:
    try:
        return subprocess.run(command, capture_output=True, text=True).stdout.strip()
    except OSError:
        return "?"


# -- processes --------------------------------------------------------------------------------

def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may hold spaces.
    return text[text.rindex(")") + 2:].split()


def process_tree(roots: list[int]) -> list[int]:
    """The root processes and all their descendants that are alive now."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat(int(entry))
            if fields is not None:
                children.setdefault(int(fields[1]), []).append(int(entry))
    found, pending = [], [pid for pid in roots if Path(f"/proc/{pid}").exists()]
    while pending:
        pid = pending.pop()
        found.append(pid)
        pending.extend(children.get(pid, []))
    return found


def cpu_seconds(roots: list[int]) -> float:
    """CPU time (user + system) of the tree so far, reaped children included."""
    total = 0
    for pid in process_tree(roots):
        fields = _stat(pid)
        if fields is not None:
            # utime, stime, cutime, cstime: fields 14-17 of stat, 12-15 after "(comm) ".
            total += sum(int(value) for value in fields[11:15])
    return total / _CLOCK_TICKS


def memory_kb(pids: list[int]) -> dict[str, int]:
    """Summed RSS, PSS (shared pages divided among the processes that map them) and private
    memory (pages no other process maps), in KiB."""
    rss = pss = private = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                key, _, rest = line.partition(":")
                if key == "Rss":
                    rss += int(rest.split()[0])
                elif key == "Pss":
                    pss += int(rest.split()[0])
                elif key in ("Private_Clean", "Private_Dirty"):
                    private += int(rest.split()[0])
        except OSError:
            pass
    return {"rss_kb": rss, "pss_kb": pss, "private_kb": private, "processes": len(pids)}


def raise_fd_limit(wanted: int = 65536) -> int:
    """Raise this process's open-file limit as far as allowed (children inherit it): IDLE
    opens thousands of connections."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, wanted))
        except (ValueError, OSError):
            wanted = hard
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, max(hard, wanted)))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# -- results ----------------------------------------------------------------------------------

def machine() -> dict[str, object]:
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = int(line.split()[1]) // 1024
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu_model": model, "memory_mib": memory,
            "kernel": platform.release(), "python": platform.python_version()}


def write_results(path: Path, data: dict[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine(), **data}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.replace(path)
