"""Domains, accounts and aliases in PostgreSQL (async helpers run by the store)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from postier.addresses import SUBADDRESS_SEPARATOR, normalize_address, normalize_domain
from postier.errors import AlreadyExists, InvalidArgument, NotFound
from postier.store.interface import Recipient
from postier.store.postgres.database import Connection, Transaction
from postier.store.postgres.mailboxes import create_default_mailboxes
from postier.types import (
    Account,
    AccountId,
    Alias,
    Credentials,
    Domain,
    DomainId,
    Pop3DeletePolicy,
)

_ALIAS_DEPTH = 10
_ACCOUNT_COLUMNS = ("id, address, quota_bytes, used_bytes, message_count, pop3_delete_policy, "
                    "created_at, disabled")


def _domain(row: Any) -> Domain:
    return Domain(DomainId(int(row[0])), str(row[1]), None if row[2] is None else str(row[2]))


def _account(row: Any) -> Account:
    return Account(
        id=AccountId(int(row[0])),
        address=str(row[1]),
        quota_bytes=None if row[2] is None else int(row[2]),
        used_bytes=int(row[3]),
        message_count=int(row[4]),
        pop3_delete_policy=Pop3DeletePolicy(str(row[5])),
        created_at=row[6],
        disabled=bool(row[7]),
    )


# Domains ----------------------------------------------------------------------------------------

async def add_domain(tx: Transaction, name: str) -> Domain:
    domain = normalize_domain(name)
    row_id = await tx.conn.fetchval(
        "INSERT INTO domains (name) VALUES ($1) ON CONFLICT (name) DO NOTHING RETURNING id",
        domain)
    if row_id is None:
        raise AlreadyExists(f"domain {domain} already exists")
    return Domain(DomainId(int(row_id)), domain)


async def get_domain(conn: Connection, name: str) -> Domain | None:
    row = await conn.fetchrow("SELECT id, name, catch_all FROM domains WHERE name = $1",
                              normalize_domain(name))
    return None if row is None else _domain(row)


async def list_domains(conn: Connection) -> list[Domain]:
    rows = await conn.fetch("SELECT id, name, catch_all FROM domains ORDER BY name COLLATE \"C\"")
    return [_domain(r) for r in rows]


async def delete_domain(tx: Transaction, name: str) -> None:
    domain = await _require_domain(tx.conn, name, lock=True)
    users = await tx.conn.fetchval("SELECT count(*) FROM accounts WHERE domain_id = $1",
                                   domain.id)
    if users:
        raise InvalidArgument(
            f"domain {domain.name} still has {users} account(s): delete them first")
    await tx.conn.execute("DELETE FROM aliases WHERE address LIKE $1", f"%@{domain.name}")
    await tx.conn.execute("DELETE FROM domains WHERE id = $1", domain.id)


async def set_catch_all(tx: Transaction, name: str, address: str | None) -> None:
    domain = await _require_domain(tx.conn, name)
    target = None if address is None else normalize_address(address)
    await tx.conn.execute("UPDATE domains SET catch_all = $1 WHERE id = $2", target, domain.id)


async def _require_domain(conn: Connection, name: str, lock: bool = False) -> Domain:
    # FOR SHARE/UPDATE: a domain cannot disappear under an account being added on another node.
    row = await conn.fetchrow("SELECT id, name, catch_all FROM domains WHERE name = $1"
                              + (" FOR UPDATE" if lock else " FOR SHARE"),
                              normalize_domain(name))
    if row is None:
        raise NotFound(f"no such domain {name!r}: add it with 'postier domain add {name}'")
    return _domain(row)


# Accounts ---------------------------------------------------------------------------------------

async def add_account(tx: Transaction, address: str, password_hash: str, scram: str | None,
                      quota_bytes: int | None) -> Account:
    canonical = normalize_address(address)
    domain = await _require_domain(tx.conn, canonical.rpartition("@")[2])
    if await tx.conn.fetchval("SELECT 1 FROM aliases WHERE address = $1", canonical):
        raise AlreadyExists(f"{canonical} is already an alias")
    row_id = await tx.conn.fetchval(
        "INSERT INTO accounts (address, domain_id, password_hash, scram_sha256, quota_bytes,"
        " created_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (address) DO NOTHING"
        " RETURNING id",
        canonical, domain.id, password_hash, scram, quota_bytes, datetime.now(UTC))
    if row_id is None:
        raise AlreadyExists(f"account {canonical} already exists")
    account_id = AccountId(int(row_id))
    await create_default_mailboxes(tx, account_id)
    return await get_account_by_id(tx.conn, account_id)


async def get_account(conn: Connection, address: str) -> Account | None:
    try:
        canonical = normalize_address(address)
    except InvalidArgument:
        return None
    row = await conn.fetchrow(f"SELECT {_ACCOUNT_COLUMNS} FROM accounts WHERE address = $1",
                              canonical)
    return None if row is None else _account(row)


async def get_account_by_id(conn: Connection, account_id: AccountId) -> Account:
    row = await conn.fetchrow(f"SELECT {_ACCOUNT_COLUMNS} FROM accounts WHERE id = $1",
                              account_id)
    if row is None:
        raise NotFound(f"no account with id {account_id}")
    return _account(row)


async def require_account(conn: Connection, address: str) -> Account:
    account = await get_account(conn, address)
    if account is None:
        raise NotFound(f"no such account {address!r}")
    return account


async def list_accounts(conn: Connection, domain: str | None) -> list[Account]:
    if domain is None:
        rows = await conn.fetch(f"SELECT {_ACCOUNT_COLUMNS} FROM accounts"
                                " ORDER BY address COLLATE \"C\"")
    else:
        rows = await conn.fetch(f"SELECT {_ACCOUNT_COLUMNS} FROM accounts WHERE address LIKE $1"
                                " ORDER BY address COLLATE \"C\"",
                                f"%@{normalize_domain(domain)}")
    return [_account(r) for r in rows]


async def delete_account(tx: Transaction, address: str) -> list[int]:
    """Delete the account and its mail; return the blob rows whose references were dropped."""
    account = await require_account(tx.conn, address)
    # Lock the account's mailboxes first (in id order, like every writer) so no delivery is
    # half-way into one of them while it goes.
    await tx.conn.execute("SELECT 1 FROM mailboxes WHERE account_id = $1 ORDER BY id FOR UPDATE",
                          account.id)
    rows = await tx.conn.fetch(
        "DELETE FROM messages m USING mailboxes b WHERE b.id = m.mailbox_id"
        " AND b.account_id = $1 RETURNING m.blob_id", account.id)
    await tx.conn.execute("DELETE FROM accounts WHERE id = $1", account.id)
    return [int(r[0]) for r in rows]


async def update_account(tx: Transaction, address: str, column: str, value: object) -> None:
    assert column in {"password_hash", "quota_bytes", "pop3_delete_policy", "disabled"}
    account = await require_account(tx.conn, address)
    await tx.conn.execute(f"UPDATE accounts SET {column} = $1 WHERE id = $2", value, account.id)


async def set_password(tx: Transaction, address: str, password_hash: str,
                       scram: str | None) -> None:
    account = await require_account(tx.conn, address)
    await tx.conn.execute("UPDATE accounts SET password_hash = $1, scram_sha256 = $2"
                          " WHERE id = $3", password_hash, scram, account.id)


async def get_credentials(conn: Connection, address: str) -> Credentials | None:
    try:
        canonical = normalize_address(address)
    except InvalidArgument:
        return None
    row = await conn.fetchrow("SELECT id, address, password_hash, scram_sha256, disabled"
                              " FROM accounts WHERE address = $1", canonical)
    if row is None:
        return None
    return Credentials(AccountId(int(row[0])), row[1], row[2], row[3], bool(row[4]))


# Aliases ----------------------------------------------------------------------------------------

async def add_alias(tx: Transaction, address: str, targets: Sequence[str]) -> Alias:
    canonical = normalize_address(address)
    await _require_domain(tx.conn, canonical.rpartition("@")[2])
    if not targets:
        raise InvalidArgument("an alias needs at least one target address")
    normalized = tuple(dict.fromkeys(normalize_address(t) for t in targets))
    if canonical in normalized:
        raise InvalidArgument(f"alias {canonical} cannot point to itself")
    if await tx.conn.fetchval("SELECT 1 FROM accounts WHERE address = $1", canonical):
        raise AlreadyExists(f"{canonical} is already an account")
    inserted = await tx.conn.fetchval(
        "INSERT INTO aliases (address, targets) VALUES ($1, $2) ON CONFLICT (address) DO NOTHING"
        " RETURNING 1", canonical, list(normalized))
    if inserted is None:
        raise AlreadyExists(f"alias {canonical} already exists")
    return Alias(canonical, normalized)


async def delete_alias(tx: Transaction, address: str) -> None:
    canonical = normalize_address(address)
    if await tx.conn.fetchval("DELETE FROM aliases WHERE address = $1 RETURNING 1",
                              canonical) is None:
        raise NotFound(f"no such alias {canonical!r}")


async def list_aliases(conn: Connection) -> list[Alias]:
    return [Alias(r[0], tuple(r[1]))
            for r in await conn.fetch("SELECT address, targets FROM aliases"
                                      " ORDER BY address COLLATE \"C\"")]


async def resolve_recipient(conn: Connection, address: str) -> Recipient:
    """Expand aliases (recursively, bounded), sub-addresses and catch-all for one address."""
    canonical = normalize_address(address)
    domain = canonical.rpartition("@")[2]
    if await get_domain(conn, domain) is None:
        return Recipient(canonical, local_domain=False)
    accounts: dict[AccountId, None] = {}
    remote: dict[str, None] = {}
    await _expand(conn, canonical, accounts, remote, depth=0, seen=set())
    if not accounts and not remote:
        catch_all = await conn.fetchval("SELECT catch_all FROM domains WHERE name = $1", domain)
        if catch_all:
            await _expand(conn, catch_all, accounts, remote, depth=0, seen=set())
    return Recipient(canonical, tuple(accounts), tuple(remote))


async def _expand(conn: Connection, address: str, accounts: dict[AccountId, None],
                  remote: dict[str, None], depth: int, seen: set[str]) -> None:
    if address in seen or depth > _ALIAS_DEPTH:
        return
    seen.add(address)
    for candidate in _candidates(address):
        account_id = await conn.fetchval(
            "SELECT id FROM accounts WHERE address = $1 AND NOT disabled", candidate)
        if account_id is not None:
            accounts[AccountId(int(account_id))] = None
            return
        targets = await conn.fetchval("SELECT targets FROM aliases WHERE address = $1",
                                      candidate)
        if targets is not None:
            for target in targets:
                if await get_domain(conn, target.rpartition("@")[2]) is None:
                    remote[target] = None
                else:
                    await _expand(conn, target, accounts, remote, depth + 1, seen)
            return


def _candidates(address: str) -> list[str]:
    """``user+tag@d`` is tried as itself first, then as ``user@d`` (RFC 5233 sub-addressing)."""
    local, _, domain = address.rpartition("@")
    base, sep, _tag = local.partition(SUBADDRESS_SEPARATOR)
    return [address, f"{base}@{domain}"] if sep and base else [address]


async def addresses_of(conn: Connection, account_id: AccountId) -> list[str]:
    own = (await get_account_by_id(conn, account_id)).address
    rows = await conn.fetch("SELECT address FROM aliases WHERE $1 = ANY (targets)"
                            " ORDER BY address COLLATE \"C\"", own)
    return [own, *(str(r[0]) for r in rows)]
