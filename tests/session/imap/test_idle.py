"""IDLE: live updates, DONE, keepalive, the server-side limit, bad continuation."""

from __future__ import annotations

import pytest

from postier.config import LimitsSection
from postier.imap.handlers import idle
from postier.services import Services
from postier.store.interface import Store
from tests.session.imap.client import ImapClient, connect, deliver, make_services


async def test_idle_reports_new_messages_and_expunges(services: Services, users: Store) -> None:
    await deliver(users)
    watcher, _ = await connect(services)
    other, _ = await connect(services)
    await watcher.login()
    await other.login()
    await watcher.ok("SELECT INBOX")
    await other.ok("SELECT INBOX")
    watcher.send("a3 IDLE\r\n")
    assert await watcher.line() == "+ idling"
    await deliver(users)
    assert await watcher.line() == "* 2 EXISTS"
    assert await watcher.line() == "* 2 RECENT"
    await other.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
    assert await watcher.line() == "* 1 FETCH (UID 1 FLAGS (\\Deleted \\Recent))"
    await other.ok("EXPUNGE")
    assert await watcher.line() == "* 1 EXPUNGE"
    watcher.send("DONE\r\n")
    assert await watcher.line() == "a3 OK IDLE terminated"
    assert (await watcher.ok("FETCH 1 UID"))[0] == "* 1 FETCH (UID 2)"
    await watcher.stop()
    await other.stop()


async def test_idle_without_a_selected_mailbox(client: ImapClient, users: Store) -> None:
    client.send("a2 IDLE\r\n")
    assert await client.line() == "+ idling"
    await deliver(users)  # nothing to report: no mailbox selected
    client.send("done\r\n")
    assert await client.line() == "a2 OK IDLE terminated"


async def test_idle_pipelined_done(client: ImapClient) -> None:
    await client.ok("SELECT INBOX")
    client.send("a3 IDLE\r\nDONE\r\na4 NOOP\r\n")
    assert await client.line() == "+ idling"
    assert await client.line() == "a3 OK IDLE terminated"
    assert await client.line() == "a4 OK NOOP completed"


async def test_idle_anything_but_done_is_bad(client: ImapClient) -> None:
    client.send("a2 IDLE\r\n")
    assert await client.line() == "+ idling"
    client.send("a3 NOOP\r\n")
    assert (await client.line()).startswith("a2 BAD")
    await client.ok("NOOP")


async def test_idle_keepalive_and_limit(users: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(idle, "KEEPALIVE", 0.05)
    services = make_services(users, limits=LimitsSection(imap_idle_timeout=0.5))
    client, _ = await connect(services)
    await client.login()
    client.send("a2 IDLE\r\n")
    assert await client.line() == "+ idling"
    assert await client.line() == "* OK still here"
    output = await client.closed()
    assert "* BYE IDLE for too long" in output


async def test_idle_ends_when_the_client_goes_away(client: ImapClient) -> None:
    client.send("a2 IDLE\r\n")
    assert await client.line() == "+ idling"
    client.peer.close()
    await client.closed()


async def test_many_idle_sessions_one_delivery_recent_in_exactly_one(
        services: Services, users: Store) -> None:
    """All sessions of a mailbox hear of a new message at once; only one of them may call it
    \\Recent (RFC 3501 §2.3.2), and a later SELECT finds it claimed."""
    watchers = []
    for _ in range(5):
        watcher, _ = await connect(services)
        await watcher.login()
        await watcher.ok("SELECT INBOX")
        watcher.send("i IDLE\r\n")
        assert await watcher.line() == "+ idling"
        watchers.append(watcher)
    await deliver(users)
    recent = []
    for watcher in watchers:
        assert await watcher.line() == "* 1 EXISTS"
        recent.append(await watcher.line())
    assert sorted(recent) == ["* 0 RECENT"] * 4 + ["* 1 RECENT"]
    await deliver(users)
    recent = []
    for watcher in watchers:
        assert await watcher.line() == "* 2 EXISTS"
        recent.append(await watcher.line())
    assert sorted(recent) == ["* 0 RECENT"] * 3 + ["* 1 RECENT"] * 2 or sorted(recent) == [
        "* 0 RECENT"] * 4 + ["* 2 RECENT"]
    for watcher in watchers:
        watcher.send("DONE\r\n")
        assert await watcher.line() == "i OK IDLE terminated"
        assert await watcher.ok("FETCH 1:2 FLAGS")
    late, _ = await connect(services)
    await late.login()
    assert "* 0 RECENT" in await late.ok("SELECT INBOX")
    for watcher in [*watchers, late]:
        await watcher.stop()
