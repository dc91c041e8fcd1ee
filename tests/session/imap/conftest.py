"""Fixtures for IMAP sessions over net.memory with a real SQLite store."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from postier.services import Services
from postier.store.interface import Store
from tests.harness import add_users
from tests.session.imap.client import ImapClient, connect, make_services


@pytest.fixture
async def users(store: Store) -> Store:
    """The store with example.test, alice@ and bob@ (passwords alice-password, bob-password)."""
    await add_users(store)
    return store


@pytest.fixture
async def services(users: Store) -> Services:
    return make_services(users)


@pytest.fixture
async def client(services: Services) -> AsyncIterator[ImapClient]:
    """A session logged in as alice over (simulated) TLS."""
    connected, _greeting = await connect(services)
    await connected.login()
    try:
        yield connected
    finally:
        await connected.stop()
