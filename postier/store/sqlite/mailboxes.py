"""Mailboxes and subscriptions in SQLite (blocking helpers run by the store's threads).

Invariants: names are "/"-separated, INBOX is spelled "INBOX" whatever the client typed, a
mailbox's parents always exist (created on demand, RFC 9051 §6.3.4), and a (re)created name always
gets a UIDVALIDITY greater than any before it in this store, so clients never mistake a new
mailbox's UIDs for an old one's.
"""

from __future__ import annotations

import sqlite3
import time

from postier.errors import AlreadyExists, InvalidArgument, NotFound
from postier.store.changes import (
    MailboxCreated,
    MailboxDeleted,
    MailboxRenamed,
    SubscriptionChanged,
)
from postier.store.records import MAILBOX_COLUMNS, row_to_mailbox, validate_name
from postier.store.sqlite.database import Transaction
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


def get_mailbox(conn: sqlite3.Connection, account: AccountId, name: str) -> Mailbox:
    row = conn.execute(f"SELECT {MAILBOX_COLUMNS} FROM mailboxes b"
                       " WHERE b.account_id = ? AND b.name = ?",
                       (account, normalize_mailbox_name(name))).fetchone()
    if row is None:
        raise NotFound(f"no mailbox named {name!r}")
    return row_to_mailbox(row)


def get_mailbox_by_id(conn: sqlite3.Connection, account: AccountId, mailbox: MailboxId) -> Mailbox:
    row = conn.execute(f"SELECT {MAILBOX_COLUMNS} FROM mailboxes b"
                       " WHERE b.account_id = ? AND b.id = ?", (account, mailbox)).fetchone()
    if row is None:
        raise NotFound("the mailbox no longer exists")
    return row_to_mailbox(row)


def list_mailboxes(conn: sqlite3.Connection, account: AccountId) -> list[Mailbox]:
    return [row_to_mailbox(r) for r in conn.execute(
        f"SELECT {MAILBOX_COLUMNS} FROM mailboxes b WHERE b.account_id = ? ORDER BY b.name",
        (account,))]


def find_special_use(conn: sqlite3.Connection, account: AccountId,
                     use: SpecialUse) -> Mailbox | None:
    row = conn.execute(f"SELECT {MAILBOX_COLUMNS} FROM mailboxes b WHERE b.account_id = ?"
                       " AND b.special_use = ? ORDER BY b.id LIMIT 1",
                       (account, use.value)).fetchone()
    return None if row is None else row_to_mailbox(row)


def next_uidvalidity(conn: sqlite3.Connection) -> UidValidity:
    row = conn.execute("SELECT value FROM meta WHERE key = 'last_uidvalidity'").fetchone()
    last = int(row[0]) if row else 0
    value = max(int(time.time()), last + 1) & 0xFFFFFFFF or 1
    conn.execute("INSERT INTO meta (key, value) VALUES ('last_uidvalidity', ?)"
                 " ON CONFLICT (key) DO UPDATE SET value = excluded.value", (str(value),))
    return UidValidity(value)


def create_mailbox(tx: Transaction, account: AccountId, name: str,
                   special_use: SpecialUse | None = None, subscribe: bool = False) -> Mailbox:
    name = validate_name(name)
    if tx.conn.execute("SELECT 1 FROM mailboxes WHERE account_id = ? AND name = ?",
                       (account, name)).fetchone():
        raise AlreadyExists(f"mailbox {name!r} already exists")
    parts = name.split(HIERARCHY_SEPARATOR)
    for depth in range(1, len(parts)):
        parent = HIERARCHY_SEPARATOR.join(parts[:depth])
        if not tx.conn.execute("SELECT 1 FROM mailboxes WHERE account_id = ? AND name = ?",
                               (account, parent)).fetchone():
            _insert(tx, account, parent, None)
    mailbox_id = _insert(tx, account, name, special_use)
    if subscribe:
        set_subscribed(tx, account, name, True)
    return get_mailbox_by_id(tx.conn, account, mailbox_id)


def _insert(tx: Transaction, account: AccountId, name: str,
            special_use: SpecialUse | None) -> MailboxId:
    cursor = tx.conn.execute(
        "INSERT INTO mailboxes (account_id, name, special_use, uidvalidity) VALUES (?, ?, ?, ?)",
        (account, name, None if special_use is None else special_use.value,
         next_uidvalidity(tx.conn)))
    mailbox_id = MailboxId(int(cursor.lastrowid or 0))
    tx.changes.append(MailboxCreated(account, mailbox_id, name))
    return mailbox_id


def create_default_mailboxes(tx: Transaction, account: AccountId) -> None:
    for name, use in DEFAULT_MAILBOXES:
        create_mailbox(tx, account, name, use, subscribe=True)


def children_of(conn: sqlite3.Connection, account: AccountId, name: str) -> list[tuple[int, str]]:
    prefix = name + HIERARCHY_SEPARATOR
    return [(int(r[0]), str(r[1])) for r in conn.execute(
        "SELECT id, name FROM mailboxes WHERE account_id = ? AND substr(name, 1, ?) = ?",
        (account, len(prefix), prefix))]


def delete_mailbox(tx: Transaction, account: AccountId, name: str) -> list[int]:
    """Delete a mailbox and its messages; return the blob rows whose references were dropped."""
    mailbox = get_mailbox(tx.conn, account, name)
    if mailbox.name == INBOX:
        raise InvalidArgument("INBOX cannot be deleted")
    if children_of(tx.conn, account, mailbox.name):
        # Dovecot and Cyrus refuse too: deleting a parent silently would orphan its children's
        # place in the hierarchy, and RFC 9051 §6.3.5 forbids deleting the children with it.
        raise InvalidArgument(f"mailbox {mailbox.name!r} has child mailboxes: delete them first")
    blob_rows = [int(r[0]) for r in tx.conn.execute(
        "SELECT blob_rowid FROM messages WHERE mailbox_id = ?", (mailbox.id,))]
    size, count = tx.conn.execute("SELECT coalesce(sum(size), 0), count(*) FROM messages"
                                  " WHERE mailbox_id = ?", (mailbox.id,)).fetchone()
    tx.conn.execute("UPDATE accounts SET used_bytes = used_bytes - ?,"
                    " message_count = message_count - ? WHERE id = ?", (size, count, account))
    tx.conn.execute("DELETE FROM mailboxes WHERE id = ?", (mailbox.id,))
    tx.changes.append(MailboxDeleted(account, mailbox.id, mailbox.name))
    return blob_rows


def rename_mailbox(tx: Transaction, account: AccountId, old: str, new: str) -> None:
    source = get_mailbox(tx.conn, account, old)
    new = validate_name(new)
    if tx.conn.execute("SELECT 1 FROM mailboxes WHERE account_id = ? AND name = ?",
                       (account, new)).fetchone():
        raise AlreadyExists(f"mailbox {new!r} already exists")
    if new.startswith(source.name + HIERARCHY_SEPARATOR):
        raise InvalidArgument("a mailbox cannot be renamed into its own child")
    if source.name == INBOX:
        _rename_inbox(tx, account, source, new)
        return
    parts = new.split(HIERARCHY_SEPARATOR)
    renames = [(source.id, source.name, new)] + [
        (child_id, child, new + child[len(source.name):])
        for child_id, child in children_of(tx.conn, account, source.name)]
    for mailbox_id, old_name, new_name in renames:
        tx.conn.execute("UPDATE mailboxes SET name = ? WHERE id = ?", (new_name, mailbox_id))
        tx.conn.execute("UPDATE subscriptions SET name = ? WHERE account_id = ? AND name = ?",
                        (new_name, account, old_name))
        tx.changes.append(MailboxRenamed(account, MailboxId(mailbox_id), old_name, new_name))
    for depth in range(1, len(parts)):
        parent = HIERARCHY_SEPARATOR.join(parts[:depth])
        if not tx.conn.execute("SELECT 1 FROM mailboxes WHERE account_id = ? AND name = ?",
                               (account, parent)).fetchone():
            _insert(tx, account, parent, None)


def _rename_inbox(tx: Transaction, account: AccountId, inbox: Mailbox, new: str) -> None:
    """RFC 9051 §6.3.6: renaming INBOX moves its messages to the new name; INBOX stays, empty."""
    target = create_mailbox(tx, account, new)
    rows = tx.conn.execute("SELECT id FROM messages WHERE mailbox_id = ? ORDER BY uid",
                           (inbox.id,)).fetchall()
    from postier.store.sqlite.messages import relocate  # local: messages imports this module

    relocate(tx, account, inbox.id, target.id, [int(r[0]) for r in rows])


def set_subscribed(tx: Transaction, account: AccountId, name: str, subscribed: bool) -> None:
    name = normalize_mailbox_name(name)
    if subscribed:
        # RFC 9051 §6.3.7 allows subscribing to names that do not exist (yet).
        validate_name(name)
        cursor = tx.conn.execute("INSERT OR IGNORE INTO subscriptions (account_id, name)"
                                 " VALUES (?, ?)", (account, name))
    else:
        cursor = tx.conn.execute("DELETE FROM subscriptions WHERE account_id = ? AND name = ?",
                                 (account, name))
    if cursor.rowcount:
        tx.changes.append(SubscriptionChanged(account, name, subscribed))


def list_subscriptions(conn: sqlite3.Connection, account: AccountId) -> list[str]:
    return [str(r[0]) for r in conn.execute(
        "SELECT name FROM subscriptions WHERE account_id = ? ORDER BY name", (account,))]
