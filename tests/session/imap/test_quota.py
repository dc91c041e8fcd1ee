"""GETQUOTAROOT, GETQUOTA, SETQUOTA (RFC 9208)."""

from __future__ import annotations

from postier.store.interface import Store
from tests.session.imap.client import ImapClient, deliver, message


async def test_quota_of_an_unlimited_account(client: ImapClient) -> None:
    assert (await client.ok("GETQUOTAROOT INBOX"))[:-1] == ["* QUOTAROOT INBOX"]
    assert (await client.command('GETQUOTA ""'))[-1].startswith("a3 NO [NONEXISTENT]")


async def test_quota_of_a_limited_account(client: ImapClient, users: Store) -> None:
    await users.set_quota("alice@example.test", 10 * 1024 * 1024)
    await deliver(users)
    used = -(-len(message()) // 1024)
    lines = await client.ok("GETQUOTAROOT INBOX")
    assert lines[:-1] == ['* QUOTAROOT INBOX ""', f'* QUOTA "" (STORAGE {used} 10240)']
    assert (await client.ok('GETQUOTA ""'))[0] == f'* QUOTA "" (STORAGE {used} 10240)'
    assert (await client.command("GETQUOTAROOT Nope"))[-1].startswith("a4 NO [NONEXISTENT]")
    lines = await client.command('SETQUOTA "" (STORAGE 1)')
    assert lines[-1].startswith("a5 NO [NOPERM]")
