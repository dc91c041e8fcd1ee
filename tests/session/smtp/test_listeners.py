"""What each SMTP listener offers, the over-limit refusal and shutdown."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from postier.net.memory import memory_pair
from postier.server import _protocols
from postier.services import Services
from postier.smtp.policy import Mode
from postier.smtp.session import listener_settings, smtp_refuser
from postier.store.interface import Store
from tests.session.smtp.conversation import code_of, connect, make_services, make_tls


async def test_listener_settings_from_the_configuration(users: Store, tmp_path: Path) -> None:
    services = make_services(users, tls=make_tls(tmp_path))
    mx = listener_settings(services, "smtp")
    assert mx.mode is Mode.MX and mx.protocol.tls_available
    assert mx.protocol.auth_mechanisms == () and not mx.protocol.require_auth_for_mail
    assert mx.protocol.max_message_size == services.config.limits.max_message_size
    assert mx.protocol.max_line_length == services.config.limits.smtp_line_length
    for name in ("submission", "submissions"):
        submission = listener_settings(services, name)
        assert submission.mode is Mode.SUBMISSION and submission.protocol.require_auth_for_mail
        assert submission.protocol.auth_mechanisms == ("SCRAM-SHA-256", "PLAIN", "LOGIN")
        assert submission.protocol.dsn and not submission.protocol.allow_plaintext_auth
    with pytest.raises(KeyError):
        listener_settings(services, "imap")


def test_server_registers_the_three_smtp_listeners() -> None:
    protocols = _protocols()
    smtp = {"smtp", "submission", "submissions"}
    assert {name: entry.tls.value for name, entry in protocols.items() if name in smtp} == {
        "smtp": "starttls", "submission": "starttls", "submissions": "implicit"}
    assert all(protocols[name].refuse is not None for name in smtp)


async def test_implicit_tls_session_offers_no_starttls(users: Store, tmp_path: Path) -> None:
    services = make_services(users, tls=make_tls(tmp_path))
    client = await connect(services, "submissions", tls=True, ehlo=False)
    ehlo = await client.command("EHLO client.example")
    assert "STARTTLS" not in ehlo and "AUTH SCRAM-SHA-256 PLAIN LOGIN" in ehlo
    assert await client.code("STARTTLS") == "503 5.5.1"
    await client.quit()


async def test_refusal_when_over_the_connection_limit(services: Services) -> None:
    conn, peer = memory_pair("smtp")
    await smtp_refuser(services)(conn)
    assert code_of((await peer.read_until(b"\r\n")).decode()) == "421 4.7.0"


async def test_shutdown_says_421_before_closing(services: Services) -> None:
    client = await connect(services)
    client.task.cancel()
    assert code_of(await client.reply()) == "421 4.3.2"
    with pytest.raises(asyncio.CancelledError):
        await client.task
    assert client.peer.connection.closed
