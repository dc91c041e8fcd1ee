"""The outbound queue in SQLite (blocking helpers run by the store's threads).

A queued message shares the blob store with mailboxes (its body is reference-counted like any
message), and each recipient carries its own delivery state, so one slow or failing domain never
holds back the others.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any

from postier.errors import NotFound
from postier.store.blobs_fs import FileBlobStore
from postier.store.bodies import StoredBody
from postier.store.interface import (
    OutboundEnvelope,
    OutboundRecipient,
    QueuedMessage,
    QueuedRecipient,
    QueueId,
    RecipientState,
)
from postier.store.sqlite.database import Transaction
from postier.store.sqlite.messages import ref_body, unref_bodies
from postier.types import AccountId, BlobId

_MESSAGE_COLUMNS = ("q.id, q.account_id, q.sender, b.sha256, q.size, q.envid, q.ret, q.body_type,"
                    " q.smtputf8, q.created_at")
_RECIPIENT_COLUMNS = ("id, address, state, attempts, next_attempt, last_error, remote_reply,"
                      " notify, orcpt")


def enqueue(tx: Transaction, blobs: FileBlobStore, body: StoredBody, envelope: OutboundEnvelope,
            now: datetime) -> QueueId:
    blob_rowid = ref_body(tx, blobs, body)
    stamp = now.isoformat()
    cursor = tx.conn.execute(
        "INSERT INTO queue_messages (account_id, sender, blob_rowid, size, envid, ret, body_type,"
        " smtputf8, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (envelope.account_id, envelope.sender, blob_rowid, body.size, envelope.envid,
         envelope.ret, envelope.body_type, int(envelope.smtputf8), stamp))
    queue_id = QueueId(int(cursor.lastrowid or 0))
    tx.conn.executemany(
        "INSERT INTO queue_recipients (message_id, address, notify, orcpt, next_attempt,"
        " updated_at) VALUES (?, ?, ?, ?, ?, ?)",
        [(queue_id, r.address, ",".join(r.notify), r.orcpt, stamp, stamp)
         for r in envelope.recipients])
    return queue_id


def _recipient(row: Any) -> QueuedRecipient:
    return QueuedRecipient(
        id=int(row[0]), address=str(row[1]), state=RecipientState(row[2]), attempts=int(row[3]),
        next_attempt=datetime.fromisoformat(row[4]), last_error=row[5], remote_reply=row[6],
        notify=tuple(n for n in str(row[7]).split(",") if n), orcpt=row[8])


def _message(conn: sqlite3.Connection, row: Any) -> QueuedMessage:
    recipients = tuple(_recipient(r) for r in conn.execute(
        f"SELECT {_RECIPIENT_COLUMNS} FROM queue_recipients WHERE message_id = ? ORDER BY id",
        (row[0],)))
    envelope = OutboundEnvelope(
        sender=str(row[2]),
        recipients=tuple(OutboundRecipient(r.address, r.notify, r.orcpt) for r in recipients),
        account_id=None if row[1] is None else AccountId(int(row[1])),
        envid=row[5], ret=row[6], body_type=row[7], smtputf8=bool(row[8]))
    return QueuedMessage(QueueId(int(row[0])), envelope, BlobId(str(row[3])), int(row[4]),
                         datetime.fromisoformat(row[9]), recipients)


def list_queue(conn: sqlite3.Connection) -> list[QueuedMessage]:
    rows = conn.execute(f"SELECT {_MESSAGE_COLUMNS} FROM queue_messages q"
                        " JOIN blobs b ON b.id = q.blob_rowid ORDER BY q.id").fetchall()
    return [_message(conn, row) for row in rows]


def get_queued(conn: sqlite3.Connection, queue_id: QueueId) -> QueuedMessage:
    row = conn.execute(f"SELECT {_MESSAGE_COLUMNS} FROM queue_messages q"
                       " JOIN blobs b ON b.id = q.blob_rowid WHERE q.id = ?",
                       (queue_id,)).fetchone()
    if row is None:
        raise NotFound(f"no queued message {queue_id}")
    return _message(conn, row)


def delete_queued(tx: Transaction, blobs: FileBlobStore, queue_id: QueueId) -> None:
    row = tx.conn.execute("DELETE FROM queue_messages WHERE id = ? RETURNING blob_rowid",
                          (queue_id,)).fetchone()
    if row is None:
        raise NotFound(f"no queued message {queue_id}")
    unref_bodies(tx, blobs, [int(row[0])])
