"""Fixtures for POP3 sessions over net.memory with a real SQLite store."""

from __future__ import annotations

import pytest

from postier.services import Services
from postier.store.interface import Store
from tests.harness import add_users
from tests.session.pop3.conversation import make_services


@pytest.fixture
async def users(store: Store) -> Store:
    """The store with example.test, alice@ and bob@ (passwords alice-password, bob-password)."""
    await add_users(store)
    return store


@pytest.fixture
def services(users: Store) -> Services:
    return make_services(users)
