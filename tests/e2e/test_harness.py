"""The end-to-end fixture itself: a real server with real users and a real authenticator."""

from __future__ import annotations

import json

import pytest

from postier.errors import AuthFailed
from tests.harness import RunningServer


async def test_server_fixture_has_users_and_checks_passwords(server: RunningServer) -> None:
    accounts = [a.address for a in await server.store.list_accounts()]
    assert accounts == ["alice@example.test", "bob@example.test"]
    authenticator = server.server.context.authenticator  # type: ignore[union-attr]
    principal = await authenticator.authenticate_password("Alice@Example.test",
                                                          "alice-password", "127.0.0.1")
    assert principal.address == "alice@example.test"
    with pytest.raises(AuthFailed):
        await authenticator.authenticate_password("alice@example.test", "wrong", "127.0.0.1")
    runtime = json.loads((server.directory / "data" / "run" / "listeners.json").read_text())
    assert {(e["name"], e["port"]) for e in runtime["listeners"]} == {
        (b.name, b.port) for b in server.server.listeners.bound}  # type: ignore[union-attr]
