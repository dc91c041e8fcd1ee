"""Inbound SPF, DKIM and DMARC through a real ``postier serve``: a DNS server on loopback
publishes the senders' records, smtplib delivers from 127.0.0.1 to the MX listener, and the
stored message is read back over IMAP to check its Authentication-Results field."""

from __future__ import annotations

import asyncio
import imaplib
import smtplib
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from postier.mailauth import dkim
from postier.store.sqlite.store import SqliteStore
from tests.e2e.queue_sinks import DnsServer
from tests.harness import USERS, ServerProcess, add_users, write_config

pytestmark = pytest.mark.slow

HOST = "127.0.0.1"
EXTRA = """
[dns]
nameservers = ["127.0.0.1:{dns}"]

[mailauth]
verify = true
{more}
"""


@dataclass
class World:
    dns: DnsServer
    directory: Path
    process: ServerProcess | None = None
    ports: dict[str, int] | None = None

    async def start(self, more: str = "") -> None:
        config = write_config(self.directory, extra=EXTRA.format(dns=self.dns.port, more=more))
        store = await asyncio.to_thread(SqliteStore.open, self.directory / "data")
        try:
            await add_users(store)
        finally:
            await store.close()
        self.process = ServerProcess(config)
        self.ports = await asyncio.to_thread(self.process.start)

    async def send(self, sender: str, message: bytes, rcpt: str = "bob@example.test",
                   helo: str = "mta.sender.example") -> tuple[int, str]:
        """Deliver over SMTP to the MX listener; (code, text) of the reply to DATA."""
        assert self.ports is not None
        port = self.ports["smtp"]

        def session() -> tuple[int, str]:
            with smtplib.SMTP(HOST, port, local_hostname=helo, timeout=30) as client:
                try:
                    client.sendmail(sender, [rcpt], message)
                except smtplib.SMTPDataError as exc:
                    return exc.smtp_code, exc.smtp_error.decode()
                return 250, ""
        return await asyncio.to_thread(session)

    async def mailbox(self, name: str = "INBOX", user: str = "bob@example.test") -> list[bytes]:
        assert self.ports is not None
        port = self.ports["imap"]
        context = ssl.create_default_context(cafile=str(self.directory / "ca.pem"))

        def session() -> list[bytes]:
            with imaplib.IMAP4(HOST, port) as client:
                client.starttls(context)
                client.login(user, USERS[user])
                client.select(name, readonly=True)
                _status, data = client.fetch("1:*", "(BODY.PEEK[])")
                return [part[1] for part in data if isinstance(part, tuple)]
        return await asyncio.to_thread(session)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    dns = await DnsServer().start()
    state = World(dns, tmp_path / "server")
    yield state
    if state.process is not None:
        await asyncio.to_thread(state.process.terminate)
    dns.stop()


def message(sender: str, subject: str = "Hello", extra: str = "") -> bytes:
    return (f"{extra}From: Sender <{sender}>\r\nTo: bob@example.test\r\nSubject: {subject}\r\n"
            f"Date: Mon, 01 Jan 2024 10:00:00 +0000\r\nMessage-ID: <{subject}@x>\r\n\r\n"
            "Hello Bob.\r\n").encode()


def txt(value: str) -> str:
    """TXT presentation form: character-strings of at most 255 octets."""
    return " ".join(f'"{value[i:i + 200]}"' for i in range(0, len(value), 200))


def header(stored: bytes) -> list[str]:
    """The stored header's field lines, unfolded."""
    block = stored.split(b"\r\n\r\n", 1)[0].decode()
    return block.replace("\r\n\t", " ").replace("\r\n ", " ").split("\r\n")


def auth_results(stored: bytes) -> list[str]:
    return [line for line in header(stored) if line.startswith("Authentication-Results:")]


async def test_spf_pass_fail_and_softfail_are_recorded(world: World) -> None:
    world.dns.add("good.example", "TXT", txt("v=spf1 ip4:127.0.0.1 -all"))
    world.dns.add("bad.example", "TXT", txt("v=spf1 ip4:192.0.2.1 -all"))
    world.dns.add("soft.example", "TXT", txt("v=spf1 ip4:192.0.2.1 ~all"))
    await world.start()
    for domain in ("good", "bad", "soft", "nospf"):
        sender = f"someone@{domain}.example"
        assert (await world.send(sender, message(sender, domain)))[0] == 250
    stored = await world.mailbox()
    assert len(stored) == 4
    expected = {"good": "spf=pass", "bad": "spf=fail", "soft": "spf=softfail",
                "nospf": "spf=none"}
    for copy, (domain, result) in zip(stored, expected.items(), strict=True):
        lines = header(copy)
        assert lines[0].startswith("Return-Path:")
        assert lines[1].startswith("Authentication-Results: mail.example.test; " + result)
        assert f"smtp.mailfrom=someone@{domain}.example" in lines[1]
        assert "dmarc=none" in lines[1]
        assert lines[2].startswith("Received:")


async def test_dkim_signature_passes_and_an_altered_copy_fails(world: World) -> None:
    key = dkim.generate_key()
    world.dns.add("sel._domainkey.signed.example", "TXT", txt(dkim.dns_record(key)))
    world.dns.add("_dmarc.signed.example", "TXT", txt("v=DMARC1; p=reject"))
    await world.start()
    original = message("news@signed.example", "signed")
    signed = dkim.sign(original, domain="signed.example", selector="sel",
                       private_key_pem=key) + original
    # MAIL FROM in another domain with no SPF: only the aligned DKIM pass can satisfy DMARC.
    assert (await world.send("bounces@esp.example", signed))[0] == 250
    altered = signed.replace(b"Hello Bob.", b"Hello Eve.")
    code, text = await world.send("bounces@esp.example", altered)
    assert code == 550 and "5.7.1" in text and "signed.example" in text
    (stored,) = await world.mailbox()
    (field,) = auth_results(stored)
    assert "dkim=pass header.d=signed.example header.s=sel header.b=" in field
    assert "dmarc=pass (p=reject dis=none) header.from=signed.example" in field
    assert stored.endswith(signed)  # the body is stored as received


async def test_dmarc_reject_refuses_and_quarantine_goes_to_junk(world: World) -> None:
    world.dns.add("strict.example", "TXT", txt("v=spf1 ip4:192.0.2.1 -all"))
    world.dns.add("_dmarc.strict.example", "TXT", txt("v=DMARC1; p=reject"))
    world.dns.add("careful.example", "TXT", txt("v=spf1 ip4:192.0.2.1 -all"))
    world.dns.add("_dmarc.careful.example", "TXT", txt("v=DMARC1; p=quarantine"))
    await world.start()
    code, text = await world.send("ceo@strict.example", message("ceo@strict.example"))
    assert code == 550 and text.startswith("5.7.1")
    assert (await world.send("it@careful.example", message("it@careful.example", "q")))[0] \
        == 250
    assert await world.mailbox() == []
    (junk,) = await world.mailbox("Junk")
    (field,) = auth_results(junk)
    assert "spf=fail" in field and "dmarc=fail (p=quarantine dis=quarantine)" in field


async def test_dns_failures_deliver_with_temperror_or_defer_a_reject(world: World) -> None:
    world.dns.servfail.update({"flaky.example.", "_dmarc.flaky.example."})
    key = dkim.generate_key()
    world.dns.add("_dmarc.keyless.example", "TXT", txt("v=DMARC1; p=reject"))
    world.dns.servfail.add("sel._domainkey.keyless.example.")
    await world.start()
    assert (await world.send("a@flaky.example", message("a@flaky.example", "flaky")))[0] == 250
    (stored,) = await world.mailbox()
    (field,) = auth_results(stored)
    assert "spf=temperror" in field and "dmarc=temperror" in field
    original = message("b@keyless.example", "keyless")
    signed = dkim.sign(original, domain="keyless.example", selector="sel",
                       private_key_pem=key) + original
    code, text = await world.send("b@elsewhere.example", signed)
    assert code == 451 and text.startswith("4.4.3")
    assert len(await world.mailbox()) == 1


async def test_our_field_is_above_a_forged_one_and_spf_fail_can_reject(world: World) -> None:
    world.dns.add("bad.example", "TXT", txt("v=spf1 ip4:192.0.2.1 -all"))
    world.dns.add("good.example", "TXT", txt("v=spf1 ip4:127.0.0.1 -all"))
    await world.start("spf_fail_reject = true")
    code, text = await world.send("x@bad.example", message("x@bad.example"))
    assert code == 550 and text.startswith("5.7.23")
    forged = "Authentication-Results: mail.example.test; spf=pass; dmarc=pass\r\n"
    assert (await world.send("y@good.example", message("y@good.example", "f", forged)))[0] \
        == 250
    (stored,) = await world.mailbox()
    fields = auth_results(stored)
    assert len(fields) == 2 and "smtp.mailfrom=y@good.example" in fields[0]
    assert header(stored)[1] == fields[0]
