"""The postier command, run as a real process: init, accounts, config errors, serve lifecycle."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.harness import write_config


def postier(*args: str, stdin: str | None = None, cwd: Path | None = None,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "postier", *args], input=stdin,
                          capture_output=True, text=True, cwd=cwd, timeout=60,
                          env={**os.environ, **(env or {})})


def snapshot(directory: Path) -> dict[str, int]:
    return {str(p.relative_to(directory)): p.stat().st_size
            for p in directory.rglob("*") if p.is_file()}


@pytest.fixture
def initialised(tmp_path: Path) -> Path:
    result = postier("init", str(tmp_path / "mail"), "--hostname", "mail.example.test",
                     "--domain", "example.test")
    assert result.returncode == 0, result.stderr
    return tmp_path / "mail" / "postier.toml"


def test_init_writes_config_store_and_certificate(initialised: Path) -> None:
    directory = initialised.parent
    assert (directory / "tls" / "cert.pem").is_file()
    assert oct((directory / "tls" / "key.pem").stat().st_mode & 0o777) == "0o600"
    assert (directory / "postier.sqlite3").is_file()
    assert postier("--config", str(initialised), "check-config").returncode == 0
    domains = postier("--config", str(initialised), "domain", "list")
    assert domains.stdout.split() == ["example.test"]


def test_init_refuses_to_overwrite_and_changes_nothing(initialised: Path) -> None:
    before = snapshot(initialised.parent)
    again = postier("init", str(initialised.parent), "--hostname", "h.example.test",
                    "--domain", "other.test")
    assert again.returncode == 2
    assert again.stderr.count("\n") == 1 and "already exists" in again.stderr
    assert snapshot(initialised.parent) == before


def test_init_with_bad_input_leaves_nothing_behind(tmp_path: Path) -> None:
    bad_domain = postier("init", str(tmp_path / "x"), "--hostname", "mail.example.test",
                         "--domain", "not a domain")
    assert bad_domain.returncode == 2 and "invalid domain" in bad_domain.stderr
    assert not (tmp_path / "x").exists()
    missing_cert = postier("init", str(tmp_path / "y"), "--hostname", "mail.example.test",
                           "--domain", "example.test", "--cert", str(tmp_path / "none.pem"),
                           "--key", str(tmp_path / "none.key"))
    assert missing_cert.returncode == 2 and "does not exist" in missing_cert.stderr
    assert not (tmp_path / "y").exists()


def test_user_lifecycle(initialised: Path) -> None:
    config = ["--config", str(initialised)]
    added = postier(*config, "user", "add", "Alice@Example.test", "--password-stdin",
                    "--quota", "10M", stdin="s3cret\n")
    assert added.returncode == 0, added.stderr
    assert "alice@example.test" in added.stdout
    duplicate = postier(*config, "user", "add", "alice@example.test", "--password-stdin",
                        stdin="x\n")
    assert duplicate.returncode == 2 and "already exists" in duplicate.stderr
    bad = postier(*config, "user", "add", "alice at example", "--password-stdin", stdin="x\n")
    assert bad.returncode == 2 and "invalid address" in bad.stderr
    unknown_domain = postier(*config, "user", "add", "x@nowhere.test", "--password-stdin",
                             stdin="x\n")
    assert unknown_domain.returncode == 2 and "domain add" in unknown_domain.stderr
    empty = postier(*config, "user", "add", "e@example.test", "--password-stdin", stdin="\n")
    assert empty.returncode == 2 and "empty" in empty.stderr
    listing = postier(*config, "user", "list")
    assert [line.split("\t")[0] for line in listing.stdout.splitlines()] == ["alice@example.test"]
    assert "10.0 MiB" in listing.stdout
    policy = postier(*config, "user", "pop3-policy", "alice@example.test", "keep")
    assert policy.returncode == 0 and "keep" in policy.stdout
    assert postier(*config, "user", "pop3-policy", "alice@example.test", "shred").returncode == 2
    changed = postier(*config, "user", "passwd", "alice@example.test", "--password-stdin",
                      stdin="new-secret\n")
    assert changed.returncode == 0
    deleted = postier(*config, "user", "del", "alice@example.test")
    assert deleted.returncode == 0
    assert "alice" not in postier(*config, "user", "list").stdout
    missing = postier(*config, "user", "del", "alice@example.test")
    assert missing.returncode == 2 and "no such account" in missing.stderr


def test_domains_and_aliases(initialised: Path) -> None:
    config = ["--config", str(initialised)]
    assert postier(*config, "domain", "add", "Second.Test").returncode == 0
    assert postier(*config, "domain", "add", "second.test").returncode == 2
    assert postier(*config, "user", "add", "bob@second.test", "--password-stdin",
                   stdin="pw\n").returncode == 0
    alias = postier(*config, "alias", "add", "info@second.test", "bob@second.test",
                    "ext@remote.test")
    assert alias.returncode == 0, alias.stderr
    listing = postier(*config, "alias", "list").stdout
    assert "info@second.test\tbob@second.test, ext@remote.test" in listing
    assert postier(*config, "domain", "catch-all", "second.test", "bob@second.test"
                   ).returncode == 0
    assert "catch-all -> bob@second.test" in postier(*config, "domain", "list").stdout
    assert postier(*config, "alias", "del", "info@second.test").returncode == 0
    assert postier(*config, "alias", "del", "info@second.test").returncode == 2


@pytest.mark.parametrize(("content", "expected"), [
    ("[server]\nhostname = 5\n", "[server] hostname: expected a string"),
    ("[server]\nhostnme = 'x'\n", "has no key 'hostnme'"),
    ("[listen]\nsmtp = ['nonsense']\n", "is not host:port"),
    ("[limits]\nmax_message_size = 'huge'\n", "is not a size"),
    ("[bogus]\nx = 1\n", "unknown section [bogus]"),
    ("not toml at all [", "not valid TOML"),
    ("[tls]\ncert = 'a.pem'\n", "needs both cert and key"),
])
def test_malformed_config_gives_one_clear_line(tmp_path: Path, content: str,
                                               expected: str) -> None:
    path = tmp_path / "postier.toml"
    path.write_text(content)
    result = postier("--config", str(path), "check-config")
    assert result.returncode == 2
    assert expected in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_missing_certificate_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "postier.toml"
    path.write_text("[tls]\ncert = 'missing.pem'\nkey = 'missing.key'\n")
    result = postier("--config", str(path), "check-config")
    assert result.returncode == 2 and "does not exist" in result.stderr


def test_serve_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    process = subprocess.Popen([sys.executable, "-m", "postier", "--config", str(config), "serve"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    runtime = tmp_path / "data" / "run" / "listeners.json"
    deadline = time.monotonic() + 30
    while not runtime.exists():
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    info = json.loads(runtime.read_text())
    assert info["pid"] == process.pid
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert "Mail client settings" in output
    assert not runtime.exists()


def test_serve_without_config_creates_a_working_data_dir(tmp_path: Path) -> None:
    env = {"POSTIER_CONFIG": ""}
    process = subprocess.Popen([sys.executable, "-m", "postier", "serve", "--dev"], cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env={**os.environ, **env})
    runtime = tmp_path / "postier-data" / "run" / "listeners.json"
    deadline = time.monotonic() + 30
    while not runtime.exists():
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert "first start" in output
    # Account commands find ./postier-data without --config.
    domain = postier("domain", "list", cwd=tmp_path, env=env).stdout.split()[0]
    added = postier("user", "add", f"me@{domain}", "--password-stdin", stdin="pw\n",
                    cwd=tmp_path, env=env)
    assert added.returncode == 0, added.stderr
