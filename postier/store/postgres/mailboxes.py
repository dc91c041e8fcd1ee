"""Mailboxes and subscriptions in PostgreSQL (async helpers run by the store).

The invariants are the embedded store's (``store/sqlite/mailboxes.py``): "/"-separated names,
"INBOX" whatever the client typed, parents created on demand, and a (re)created name always gets
a UIDVALIDITY greater than any before it — taken from one counter row, so two nodes creating
mailboxes at the same second still get different values.
"""

from __future__ import annotations

from postier.errors import AlreadyExists, InvalidArgument, NotFound
from postier.store.changes import (
    MailboxCreated,
    MailboxDeleted,
    MailboxRenamed,
    SubscriptionChanged,
)
from postier.store.postgres.database import Connection, Transaction
from postier.store.records import MAILBOX_COLUMNS, row_to_mailbox, validate_name
from postier.types import (
    DEFAULT_MAILBOXES,
    HIERARCHY_SEPARATOR,
    INBOX,
    AccountId,
    Mailbox,
    MailboxId,
    SpecialUse,
    UidValidity,
    normalize_mailbox_name,
)


async def get_mailbox(conn: Connection, account: AccountId, name: str) -> Mailbox:
    row = await conn.fetchrow(f"SELECT {MAILBOX_COLUMNS} FROM mailboxes b"
                              " WHERE b.account_id = $1 AND b.name = $2",
                              account, normalize_mailbox_name(name))
    if row is None:
        raise NotFound(f"no mailbox named {name!r}")
    return row_to_mailbox(row)


async def get_mailbox_by_id(conn: Connection, account: AccountId,
                            mailbox: MailboxId) -> Mailbox:
    row = await conn.fetchrow(f"SELECT {MAILBOX_COLUMNS} FROM mailboxes b"
                              " WHERE b.account_id = $1 AND b.id = $2", account, mailbox)
    if row is None:
        raise NotFound("the mailbox no longer exists")
    return row_to_mailbox(row)


async def list_mailboxes(conn: Connection, account: AccountId) -> list[Mailbox]:
    return [row_to_mailbox(r) for r in await conn.fetch(
        f"SELECT {MAILBOX_COLUMNS} FROM mailboxes b WHERE b.account_id = $1"
        " ORDER BY b.name COLLATE \"C\"", account)]


async def find_special_use(conn: Connection, account: AccountId,
                           use: SpecialUse) -> Mailbox | None:
    row = await conn.fetchrow(f"SELECT {MAILBOX_COLUMNS} FROM mailboxes b"
                              " WHERE b.account_id = $1 AND b.special_use = $2"
                              " ORDER BY b.id LIMIT 1", account, use.value)
    return None if row is None else row_to_mailbox(row)


async def next_uidvalidity(conn: Connection) -> UidValidity:
    value = await conn.fetchval(
        "UPDATE meta SET value = greatest(extract(epoch FROM clock_timestamp())::bigint,"
        " value + 1) & 4294967295 WHERE key = 'last_uidvalidity' RETURNING value")
    return UidValidity(int(value) or 1)


async def create_mailbox(tx: Transaction, account: AccountId, name: str,
                         special_use: SpecialUse | None = None,
                         subscribe: bool = False) -> Mailbox:
    name = validate_name(name)
    await _lock_account(tx.conn, account)
    if await _exists(tx.conn, account, name):
        raise AlreadyExists(f"mailbox {name!r} already exists")
    parts = name.split(HIERARCHY_SEPARATOR)
    for depth in range(1, len(parts)):
        parent = HIERARCHY_SEPARATOR.join(parts[:depth])
        if not await _exists(tx.conn, account, parent):
            await _insert(tx, account, parent, None)
    mailbox_id = await _insert(tx, account, name, special_use)
    if subscribe:
        await set_subscribed(tx, account, name, True)
    return await get_mailbox_by_id(tx.conn, account, mailbox_id)


async def _lock_account(conn: Connection, account: AccountId) -> None:
    """Serialise changes to one account's mailbox tree (names, hierarchy) across nodes."""
    if await conn.fetchval("SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE", account) is None:
        raise NotFound("the account no longer exists")


async def _exists(conn: Connection, account: AccountId, name: str) -> bool:
    return bool(await conn.fetchval(
        "SELECT 1 FROM mailboxes WHERE account_id = $1 AND name = $2", account, name))


async def _insert(tx: Transaction, account: AccountId, name: str,
                  special_use: SpecialUse | None) -> MailboxId:
    row_id = await tx.conn.fetchval(
        "INSERT INTO mailboxes (account_id, name, special_use, uidvalidity)"
        " VALUES ($1, $2, $3, $4) RETURNING id",
        account, name, None if special_use is None else special_use.value,
        await next_uidvalidity(tx.conn))
    mailbox_id = MailboxId(int(row_id))
    tx.changes.append(MailboxCreated(account, mailbox_id, name))
    return mailbox_id


async def create_default_mailboxes(tx: Transaction, account: AccountId) -> None:
    for name, use in DEFAULT_MAILBOXES:
        await create_mailbox(tx, account, name, use, subscribe=True)


async def children_of(conn: Connection, account: AccountId,
                      name: str) -> list[tuple[int, str]]:
    prefix = name + HIERARCHY_SEPARATOR
    return [(int(r[0]), str(r[1])) for r in await conn.fetch(
        "SELECT id, name FROM mailboxes WHERE account_id = $1 AND left(name, $2) = $3"
        " ORDER BY id", account, len(prefix), prefix)]


async def delete_mailbox(tx: Transaction, account: AccountId, name: str) -> list[int]:
    """Delete a mailbox and its messages; return the blob rows whose references were dropped."""
    await _lock_account(tx.conn, account)
    mailbox = await get_mailbox(tx.conn, account, name)
    if mailbox.name == INBOX:
        raise InvalidArgument("INBOX cannot be deleted")
    if await children_of(tx.conn, account, mailbox.name):
        # As in the embedded store: RFC 9051 §6.3.5 forbids deleting the children with it.
        raise InvalidArgument(f"mailbox {mailbox.name!r} has child mailboxes: delete them first")
    await tx.conn.execute("SELECT 1 FROM mailboxes WHERE id = $1 FOR UPDATE", mailbox.id)
    rows = await tx.conn.fetch("DELETE FROM messages WHERE mailbox_id = $1"
                               " RETURNING blob_id, size", mailbox.id)
    await tx.conn.execute("UPDATE accounts SET used_bytes = used_bytes - $1,"
                          " message_count = message_count - $2 WHERE id = $3",
                          sum(int(r[1]) for r in rows), len(rows), account)
    await tx.conn.execute("DELETE FROM mailboxes WHERE id = $1", mailbox.id)
    tx.changes.append(MailboxDeleted(account, mailbox.id, mailbox.name))
    return [int(r[0]) for r in rows]


async def rename_mailbox(tx: Transaction, account: AccountId, old: str, new: str) -> None:
    await _lock_account(tx.conn, account)
    source = await get_mailbox(tx.conn, account, old)
    new = validate_name(new)
    if await _exists(tx.conn, account, new):
        raise AlreadyExists(f"mailbox {new!r} already exists")
    if new.startswith(source.name + HIERARCHY_SEPARATOR):
        raise InvalidArgument("a mailbox cannot be renamed into its own child")
    if source.name == INBOX:
        await _rename_inbox(tx, account, source, new)
        return
    parts = new.split(HIERARCHY_SEPARATOR)
    renames = [(source.id, source.name, new)] + [
        (child_id, child, new + child[len(source.name):])
        for child_id, child in await children_of(tx.conn, account, source.name)]
    for mailbox_id, old_name, new_name in renames:
        await tx.conn.execute("UPDATE mailboxes SET name = $1 WHERE id = $2",
                              new_name, mailbox_id)
        await tx.conn.execute("UPDATE subscriptions SET name = $1 WHERE account_id = $2"
                              " AND name = $3", new_name, account, old_name)
        tx.changes.append(MailboxRenamed(account, MailboxId(mailbox_id), old_name, new_name))
    for depth in range(1, len(parts)):
        parent = HIERARCHY_SEPARATOR.join(parts[:depth])
        if not await _exists(tx.conn, account, parent):
            await _insert(tx, account, parent, None)


async def _rename_inbox(tx: Transaction, account: AccountId, inbox: Mailbox, new: str) -> None:
    """RFC 9051 §6.3.6: renaming INBOX moves its messages to the new name; INBOX stays, empty."""
    target = await create_mailbox(tx, account, new)
    from postier.store.postgres.messages import relocate  # local: messages imports this module

    await relocate(tx, account, inbox.id, target.id, None)


async def set_subscribed(tx: Transaction, account: AccountId, name: str,
                         subscribed: bool) -> None:
    name = normalize_mailbox_name(name)
    if subscribed:
        # RFC 9051 §6.3.7 allows subscribing to names that do not exist (yet).
        validate_name(name)
        changed = await tx.conn.fetchval(
            "INSERT INTO subscriptions (account_id, name) VALUES ($1, $2)"
            " ON CONFLICT DO NOTHING RETURNING 1", account, name)
    else:
        changed = await tx.conn.fetchval(
            "DELETE FROM subscriptions WHERE account_id = $1 AND name = $2 RETURNING 1",
            account, name)
    if changed:
        tx.changes.append(SubscriptionChanged(account, name, subscribed))


async def list_subscriptions(conn: Connection, account: AccountId) -> list[str]:
    return [str(r[0]) for r in await conn.fetch(
        "SELECT name FROM subscriptions WHERE account_id = $1 ORDER BY name COLLATE \"C\"",
        account)]
