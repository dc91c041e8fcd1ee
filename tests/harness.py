"""Start real Postier servers for end-to-end tests: in-process, or as a separate process.

``start_server`` runs PostierServer in the test's event loop with every listener on 127.0.0.1
port 0 and users ``alice@example.test`` / ``bob@example.test`` (passwords ``alice-password`` /
``bob-password``). ``ServerProcess`` runs ``postier serve`` as a subprocess (for kill -9 tests)
and learns its ports from ``data_dir/run/listeners.json``.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from postier.auth.passwords import hash_password, scram_credentials
from postier.config import LISTENER_NAMES, load_config
from postier.server import PostierServer
from postier.store.interface import Store

DOMAIN = "example.test"
USERS = {"alice@example.test": "alice-password", "bob@example.test": "bob-password"}


def write_config(directory: Path, *, extra: str = "") -> Path:
    """A config with every listener on 127.0.0.1:0 and a trustme certificate."""
    import trustme

    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1", "mail.example.test")
    cert.private_key_and_cert_chain_pem.write_to_path(str(directory / "server.pem"))
    ca.cert_pem.write_to_path(str(directory / "ca.pem"))
    listen = "\n".join(f'{name} = ["127.0.0.1:0"]' for name in LISTENER_NAMES)
    if "[mailauth]" not in extra:
        # Inbound SPF/DKIM/DMARC would ask the system's DNS about test domains; the tests of
        # those checks (tests/e2e/test_mailauth.py) configure their own DNS server.
        extra += "\n[mailauth]\nverify = false\n"
    path = directory / "postier.toml"
    path.write_text(f"""
[server]
hostname = "mail.example.test"
data_dir = "data"

[tls]
cert = "server.pem"
key = "server.pem"

[listen]
{listen}

[auth]
free_failures = 3
delay_base = 0.05
delay_max = 0.2
{extra}
""")
    return path


async def add_users(store: Store, users: dict[str, str] | None = None) -> None:
    if await store.get_domain(DOMAIN) is None:
        await store.add_domain(DOMAIN)
    for address, password in (users or USERS).items():
        hashed, scram = await asyncio.to_thread(
            lambda p=password: (hash_password(p), scram_credentials(p)))
        await store.add_account(address, hashed, scram)


@dataclass
class RunningServer:
    server: PostierServer
    directory: Path
    users: dict[str, str] = field(default_factory=lambda: dict(USERS))

    @property
    def store(self) -> Store:
        assert self.server.store is not None
        return self.server.store

    def port(self, listener: str) -> int:
        return self.server.port(listener)

    def client_tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.directory / "ca.pem"))

    async def stop(self) -> None:
        await self.server.stop()


async def start_server(directory: Path, *, extra: str = "") -> RunningServer:
    config = load_config(write_config(directory, extra=extra))
    server = PostierServer(config)
    await server.start()
    assert server.store is not None
    await add_users(server.store)
    return RunningServer(server, directory)


class ServerProcess:
    """``postier --config FILE serve`` in a child process."""

    def __init__(self, config: Path) -> None:
        self.config = config
        self.data_dir = load_config(config).data_dir
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 20.0) -> dict[str, int]:
        runtime = self.data_dir / "run" / "listeners.json"
        runtime.unlink(missing_ok=True)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "postier", "--config", str(self.config), "serve"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                output = self.process.stdout.read().decode() if self.process.stdout else ""
                raise RuntimeError(f"postier serve exited early:\n{output}")
            if runtime.exists():
                data = json.loads(runtime.read_text())
                if data.get("pid") == self.process.pid:
                    return {entry["name"]: entry["port"] for entry in data["listeners"]}
            time.sleep(0.05)
        raise TimeoutError("postier serve did not start listening")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def terminate(self, timeout: float = 20.0) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)
