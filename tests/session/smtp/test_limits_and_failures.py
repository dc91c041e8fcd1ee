"""Quota, size, timeouts and store failures: what the client hears and what is left stored."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pytest

from postier.config import LimitsSection
from postier.errors import TryLater
from postier.services import Services
from postier.store.interface import DeliveryResult, DeliveryTarget, Store
from tests.session.smtp.conversation import code_of, connect, inbox, make_services

BODY = b"Subject: q\r\n\r\n" + b"x" * 200 + b"\r\n"


async def data(client: Any, body: bytes = BODY) -> str:
    assert (await client.command("DATA")).startswith("354")
    client.send(body + b".\r\n")
    return code_of(await client.reply())


async def test_full_mailbox_is_refused_at_rcpt(services: Services, users: Store) -> None:
    await users.set_quota("alice@example.test", 100)
    client = await connect(services)
    assert await client.code("MAIL FROM:<x@remote.example> SIZE=500") == "250 2.1.0"
    assert await client.code("RCPT TO:<alice@example.test>") == "452 4.2.2"  # SIZE > room
    assert await client.code("RCPT TO:<bob@example.test>") == "250 2.1.5"
    assert await data(client) == "250 2.0.0"
    await client.quit()
    assert await inbox(users, "alice@example.test") == []


async def test_mailbox_already_full_is_refused_without_size(services: Services,
                                                            users: Store) -> None:
    client = await connect(services)
    await client.code("MAIL FROM:<x@remote.example>")
    await client.code("RCPT TO:<alice@example.test>")
    assert await data(client) == "250 2.0.0"
    alice = await users.get_account("alice@example.test")
    assert alice is not None
    await users.set_quota("alice@example.test", alice.used_bytes)
    await client.code("MAIL FROM:<x@remote.example>")
    assert await client.code("RCPT TO:<alice@example.test>") == "452 4.2.2"
    await client.quit()


async def test_mailbox_filling_up_after_rcpt_is_a_temporary_failure(services: Services,
                                                                    users: Store) -> None:
    await users.set_quota("alice@example.test", 100)  # room for a 1-octet message only
    client = await connect(services)
    await client.code("MAIL FROM:<x@remote.example>")
    assert await client.code("RCPT TO:<alice@example.test>") == "250 2.1.5"
    assert await data(client) == "452 4.2.2"  # nothing stored, the client keeps the message
    # With another recipient delivered, DATA must succeed for the transaction as a whole.
    await client.code("MAIL FROM:<x@remote.example>")
    await client.code("RCPT TO:<alice@example.test>")
    await client.code("RCPT TO:<bob@example.test>")
    assert await data(client) == "250 2.0.0"
    await client.quit()
    assert await inbox(users, "alice@example.test") == []
    assert len(await inbox(users, "bob@example.test")) == 1


async def test_size_limit_declared_and_actual(users: Store) -> None:
    services = make_services(users, limits=LimitsSection(max_message_size=1000))
    client = await connect(services)
    assert "250-SIZE 1000\r\n" in await client.command("EHLO client.example")
    assert await client.code("MAIL FROM:<x@remote.example> SIZE=1001") == "552 5.3.4"
    await client.code("MAIL FROM:<x@remote.example>")
    await client.code("RCPT TO:<alice@example.test>")
    assert await data(client, b"x" * 2000 + b"\r\n") == "552 5.3.4"
    await client.quit()
    assert await inbox(users, "alice@example.test") == []


async def test_too_many_recipients(users: Store) -> None:
    services = make_services(users, limits=LimitsSection(max_recipients=2))
    client = await connect(services)
    await client.code("MAIL FROM:<x@remote.example>")
    assert await client.code("RCPT TO:<alice@example.test>") == "250 2.1.5"
    assert await client.code("RCPT TO:<bob@example.test>") == "250 2.1.5"
    assert await client.code("RCPT TO:<alice+2@example.test>") == "452 4.5.3"
    await client.quit()


async def test_idle_client_gets_421_and_is_closed(users: Store) -> None:
    services = make_services(users, limits=LimitsSection(smtp_timeout=0.05))
    client = await connect(services, ehlo=False)
    assert code_of(await client.reply()) == "421 4.4.2"
    await client.closed()
    assert client.peer.connection.closed


async def test_too_many_errors_closes_the_connection(users: Store) -> None:
    services = make_services(users, limits=LimitsSection(max_errors=3))
    client = await connect(services)
    client.send(b"FOO\r\nBAR\r\n\x00\xff\r\n")
    assert [code_of(r) for r in await client.replies(4)] == [
        "500 5.5.2", "500 5.5.2", "500 5.5.2", "421 4.7.0"]
    await client.closed()


class FailingStore:
    """The real store, except that deliveries fail the way the test asks."""

    def __init__(self, store: Store, error: Exception) -> None:
        self._store = store
        self._error = error

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def deliver(self, data: bytes, targets: Sequence[DeliveryTarget],
                      internal_date: datetime | None = None) -> list[DeliveryResult]:
        raise self._error


@pytest.mark.parametrize("error", [TryLater("database busy"), RuntimeError("disk on fire")])
async def test_store_failure_is_451_and_nothing_acknowledged(users: Store,
                                                            error: Exception) -> None:
    services = make_services(FailingStore(users, error))  # type: ignore[arg-type]
    client = await connect(services)
    await client.code("MAIL FROM:<x@remote.example>")
    await client.code("RCPT TO:<alice@example.test>")
    assert (await client.command("DATA")).startswith("354")
    client.send(BODY + b".\r\n")
    reply = await client.reply()
    assert reply == "451 4.3.0 Local error in processing, try again later\r\n"  # no internals
    assert await client.code("NOOP") == "250 2.0.0"  # the session goes on
    await client.quit()
    assert await inbox(users, "alice@example.test") == []
