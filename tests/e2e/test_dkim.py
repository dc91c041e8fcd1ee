"""DKIM end to end: keys made by the CLI, the record it prints, and signatures on mail the queue
sends, verified with dkimpy against that record."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import dkim

from postier.mailauth.dkim import dns_record
from postier.queue.signing import ensure_key
from tests.e2e.queue_sinks import SmtpSink, make_message
from tests.e2e.test_cli import postier
from tests.e2e.test_queue_delivery import enqueue, settled
from tests.harness import start_server


def dnsfunc_for(record: str, name: str) -> Callable[..., bytes | None]:
    def lookup(query: bytes, timeout: int = 5) -> bytes | None:
        return record.encode() if query.decode().rstrip(".") == name else None
    return lookup


async def test_outbound_mail_of_a_local_domain_is_signed(tmp_path: Path) -> None:
    sink = await SmtpSink().start()
    server = await start_server(tmp_path / "server", extra=f"""
[queue]
poll_interval = 0.1
[relay]
smarthost = "127.0.0.1:{sink.port}"
tls = "none"
""")
    try:
        key, created = ensure_key(server.server.config.data_dir, "example.test", "postier")
        assert created and oct(key.stat().st_mode & 0o777) == "0o600"
        assert oct(key.parent.stat().st_mode & 0o777) == "0o700"
        signed = await enqueue(server.store, "bob@example.org")
        unsigned = await enqueue(server.store, "bob@example.org", sender="someone@elsewhere.test",
                                 data=make_message("someone@elsewhere.test", message_id="m2@x"))
        await settled(server.store, signed)
        await settled(server.store, unsigned)
        by_sender = {m.sender: m.data for m in await sink.wait_messages(2)}
        data = by_sender["alice@example.test"]
        assert data.startswith(b"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;")
        lookup = dnsfunc_for(dns_record(key.read_bytes()), "postier._domainkey.example.test")
        assert dkim.verify(data, dnsfunc=lookup)
        header = data.split(b"\r\n\r\n")[0].decode()
        signed_fields = re.search(r"h=([^;]+);", header.replace("\r\n", ""))
        assert signed_fields is not None
        assert {f.strip() for f in signed_fields.group(1).split(":")} >= {
            "from", "to", "subject", "date", "message-id", "mime-version", "content-type"}
        assert not dkim.verify(data.replace(b"Hello Bob", b"Hello Eve"), dnsfunc=lookup)
        assert b"DKIM-Signature" not in by_sender["someone@elsewhere.test"]
    finally:
        await server.stop()
        await sink.stop()


def test_init_and_domain_add_make_keys_and_dkim_prints_the_record(tmp_path: Path) -> None:
    result = postier("init", str(tmp_path / "mail"), "--hostname", "mail.example.test",
                     "--domain", "example.test")
    assert result.returncode == 0, result.stderr
    initialised = tmp_path / "mail" / "postier.toml"
    directory = initialised.parent
    key = directory / "dkim" / "example.test.postier.key"
    assert key.is_file() and oct(key.stat().st_mode & 0o777) == "0o600"
    added = postier("--config", str(initialised), "domain", "add", "second.test")
    assert added.returncode == 0, added.stderr
    assert "postier domain dkim second.test" in added.stdout
    assert (directory / "dkim" / "second.test.postier.key").is_file()
    shown = postier("--config", str(initialised), "domain", "dkim", "example.test")
    assert shown.returncode == 0, shown.stderr
    assert "name:  postier._domainkey.example.test" in shown.stdout
    value = re.search(r"^value: (.+)$", shown.stdout, re.MULTILINE)
    assert value is not None and value.group(1) == dns_record(key.read_bytes())
    zone = shown.stdout.strip().splitlines()[-1]
    assert zone.startswith("postier._domainkey.example.test. 3600 IN TXT \"v=DKIM1; k=rsa; p=")
    assert all(len(chunk) <= 255 for chunk in re.findall(r'"([^"]*)"', zone))
    missing = postier("--config", str(initialised), "domain", "dkim", "unknown.test")
    assert missing.returncode == 2
    assert missing.stderr.strip().count("\n") == 0
    assert "postier domain add unknown.test" in missing.stderr
