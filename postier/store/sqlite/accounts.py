"""Domains, accounts and aliases in SQLite (blocking helpers run by the store's threads)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from postier.addresses import SUBADDRESS_SEPARATOR, normalize_address, normalize_domain
from postier.errors import AlreadyExists, InvalidArgument, NotFound
from postier.store.interface import Recipient
from postier.store.sqlite.database import Transaction
from postier.store.sqlite.mailboxes import create_default_mailboxes
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
        created_at=datetime.fromisoformat(str(row[6])),
        disabled=bool(row[7]),
    )


# Domains ----------------------------------------------------------------------------------------

def add_domain(tx: Transaction, name: str) -> Domain:
    domain = normalize_domain(name)
    try:
        cursor = tx.conn.execute("INSERT INTO domains (name) VALUES (?)", (domain,))
    except sqlite3.IntegrityError as exc:
        raise AlreadyExists(f"domain {domain} already exists") from exc
    return Domain(DomainId(int(cursor.lastrowid or 0)), domain)


def get_domain(conn: sqlite3.Connection, name: str) -> Domain | None:
    row = conn.execute("SELECT id, name, catch_all FROM domains WHERE name = ?",
                       (normalize_domain(name),)).fetchone()
    return None if row is None else _domain(row)


def list_domains(conn: sqlite3.Connection) -> list[Domain]:
    rows = conn.execute("SELECT id, name, catch_all FROM domains ORDER BY name")
    return [_domain(r) for r in rows]


def delete_domain(tx: Transaction, name: str) -> None:
    domain = _require_domain(tx.conn, name)
    users = tx.conn.execute("SELECT count(*) FROM accounts WHERE domain_id = ?",
                            (domain.id,)).fetchone()[0]
    if users:
        raise InvalidArgument(
            f"domain {domain.name} still has {users} account(s): delete them first")
    tx.conn.execute("DELETE FROM aliases WHERE address LIKE ?", (f"%@{domain.name}",))
    tx.conn.execute("DELETE FROM domains WHERE id = ?", (domain.id,))


def set_catch_all(tx: Transaction, name: str, address: str | None) -> None:
    domain = _require_domain(tx.conn, name)
    target = None if address is None else normalize_address(address)
    tx.conn.execute("UPDATE domains SET catch_all = ? WHERE id = ?", (target, domain.id))


def _require_domain(conn: sqlite3.Connection, name: str) -> Domain:
    domain = get_domain(conn, name)
    if domain is None:
        raise NotFound(f"no such domain {name!r}: add it with 'postier domain add {name}'")
    return domain


# Accounts ---------------------------------------------------------------------------------------

def add_account(tx: Transaction, address: str, password_hash: str, scram: str | None,
                quota_bytes: int | None) -> Account:
    canonical = normalize_address(address)
    domain = _require_domain(tx.conn, canonical.rpartition("@")[2])
    if tx.conn.execute("SELECT 1 FROM aliases WHERE address = ?", (canonical,)).fetchone():
        raise AlreadyExists(f"{canonical} is already an alias")
    now = datetime.now(UTC).isoformat()
    try:
        cursor = tx.conn.execute(
            "INSERT INTO accounts (address, domain_id, password_hash, scram_sha256, quota_bytes,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (canonical, domain.id, password_hash, scram, quota_bytes, now))
    except sqlite3.IntegrityError as exc:
        raise AlreadyExists(f"account {canonical} already exists") from exc
    account_id = AccountId(int(cursor.lastrowid or 0))
    create_default_mailboxes(tx, account_id)
    return get_account_by_id(tx.conn, account_id)


def get_account(conn: sqlite3.Connection, address: str) -> Account | None:
    try:
        canonical = normalize_address(address)
    except InvalidArgument:
        return None
    row = conn.execute(f"SELECT {_ACCOUNT_COLUMNS} FROM accounts WHERE address = ?",
                       (canonical,)).fetchone()
    return None if row is None else _account(row)


def get_account_by_id(conn: sqlite3.Connection, account_id: AccountId) -> Account:
    row = conn.execute(f"SELECT {_ACCOUNT_COLUMNS} FROM accounts WHERE id = ?",
                       (account_id,)).fetchone()
    if row is None:
        raise NotFound(f"no account with id {account_id}")
    return _account(row)


def require_account(conn: sqlite3.Connection, address: str) -> Account:
    account = get_account(conn, address)
    if account is None:
        raise NotFound(f"no such account {address!r}")
    return account


def list_accounts(conn: sqlite3.Connection, domain: str | None) -> list[Account]:
    if domain is None:
        rows = conn.execute(f"SELECT {_ACCOUNT_COLUMNS} FROM accounts ORDER BY address")
    else:
        rows = conn.execute(f"SELECT {_ACCOUNT_COLUMNS} FROM accounts WHERE address LIKE ?"
                            " ORDER BY address", (f"%@{normalize_domain(domain)}",))
    return [_account(r) for r in rows]


def delete_account(tx: Transaction, address: str) -> list[int]:
    """Delete the account and its mail; return the blob rows whose references were dropped."""
    account = require_account(tx.conn, address)
    blob_rows = [int(r[0]) for r in tx.conn.execute(
        "SELECT m.blob_rowid FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id"
        " WHERE b.account_id = ?", (account.id,))]
    tx.conn.execute("DELETE FROM accounts WHERE id = ?", (account.id,))
    return blob_rows


def update_account(tx: Transaction, address: str, column: str, value: object) -> None:
    assert column in {"password_hash", "quota_bytes", "pop3_delete_policy", "disabled"}
    account = require_account(tx.conn, address)
    tx.conn.execute(f"UPDATE accounts SET {column} = ? WHERE id = ?", (value, account.id))


def set_password(tx: Transaction, address: str, password_hash: str, scram: str | None) -> None:
    account = require_account(tx.conn, address)
    tx.conn.execute("UPDATE accounts SET password_hash = ?, scram_sha256 = ? WHERE id = ?",
                    (password_hash, scram, account.id))


def get_credentials(conn: sqlite3.Connection, address: str) -> Credentials | None:
    try:
        canonical = normalize_address(address)
    except InvalidArgument:
        return None
    row = conn.execute("SELECT id, address, password_hash, scram_sha256, disabled FROM accounts"
                       " WHERE address = ?", (canonical,)).fetchone()
    if row is None:
        return None
    return Credentials(AccountId(row[0]), row[1], row[2], row[3], bool(row[4]))


# Aliases ----------------------------------------------------------------------------------------

def add_alias(tx: Transaction, address: str, targets: Sequence[str]) -> Alias:
    canonical = normalize_address(address)
    _require_domain(tx.conn, canonical.rpartition("@")[2])
    if not targets:
        raise InvalidArgument("an alias needs at least one target address")
    normalized = tuple(dict.fromkeys(normalize_address(t) for t in targets))
    if canonical in normalized:
        raise InvalidArgument(f"alias {canonical} cannot point to itself")
    if tx.conn.execute("SELECT 1 FROM accounts WHERE address = ?", (canonical,)).fetchone():
        raise AlreadyExists(f"{canonical} is already an account")
    try:
        tx.conn.execute("INSERT INTO aliases (address, targets) VALUES (?, ?)",
                        (canonical, json.dumps(list(normalized))))
    except sqlite3.IntegrityError as exc:
        raise AlreadyExists(f"alias {canonical} already exists") from exc
    return Alias(canonical, normalized)


def delete_alias(tx: Transaction, address: str) -> None:
    canonical = normalize_address(address)
    if tx.conn.execute("DELETE FROM aliases WHERE address = ?", (canonical,)).rowcount == 0:
        raise NotFound(f"no such alias {canonical!r}")


def list_aliases(conn: sqlite3.Connection) -> list[Alias]:
    return [Alias(r[0], tuple(json.loads(r[1])))
            for r in conn.execute("SELECT address, targets FROM aliases ORDER BY address")]


def resolve_recipient(conn: sqlite3.Connection, address: str) -> Recipient:
    """Expand aliases (recursively, bounded), sub-addresses and catch-all for one address."""
    canonical = normalize_address(address)
    domain = canonical.rpartition("@")[2]
    if get_domain(conn, domain) is None:
        return Recipient(canonical, local_domain=False)
    accounts: dict[AccountId, None] = {}
    remote: dict[str, None] = {}
    _expand(conn, canonical, accounts, remote, depth=0, seen=set())
    if not accounts and not remote:
        row = conn.execute("SELECT catch_all FROM domains WHERE name = ?", (domain,)).fetchone()
        if row and row[0]:
            _expand(conn, row[0], accounts, remote, depth=0, seen=set())
    return Recipient(canonical, tuple(accounts), tuple(remote))


def _expand(conn: sqlite3.Connection, address: str, accounts: dict[AccountId, None],
            remote: dict[str, None], depth: int, seen: set[str]) -> None:
    if address in seen or depth > _ALIAS_DEPTH:
        return
    seen.add(address)
    for candidate in _candidates(address):
        row = conn.execute("SELECT id FROM accounts WHERE address = ? AND disabled = 0",
                           (candidate,)).fetchone()
        if row is not None:
            accounts[AccountId(row[0])] = None
            return
        row = conn.execute("SELECT targets FROM aliases WHERE address = ?",
                           (candidate,)).fetchone()
        if row is not None:
            for target in json.loads(row[0]):
                domain = target.rpartition("@")[2]
                if get_domain(conn, domain) is None:
                    remote[target] = None
                else:
                    _expand(conn, target, accounts, remote, depth + 1, seen)
            return


def _candidates(address: str) -> list[str]:
    """``user+tag@d`` is tried as itself first, then as ``user@d`` (RFC 5233 sub-addressing)."""
    local, _, domain = address.rpartition("@")
    base, sep, _tag = local.partition(SUBADDRESS_SEPARATOR)
    return [address, f"{base}@{domain}"] if sep and base else [address]


def addresses_of(conn: sqlite3.Connection, account_id: AccountId) -> list[str]:
    own = get_account_by_id(conn, account_id).address
    result = [own]
    for alias in list_aliases(conn):
        if own in alias.targets:
            result.append(alias.address)
    return result


def now_utc() -> datetime:
    return datetime.now(UTC)
