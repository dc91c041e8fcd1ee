"""The outbound queue in SQLite (blocking helpers run by the store's threads).

A queued message shares the blob store with mailboxes (its body is reference-counted like any
message), and each recipient carries its own delivery state, so one slow or failing domain never
holds back the others.

Leases: ``claim_due`` stamps ``lease_until`` on the recipients it hands to the runner, in the
same transaction that selects them, so two runners (or two loops of one) never take the same
recipient; ``record_attempt`` clears it with the outcome. A runner that dies leaves the lease,
and the recipient becomes due again when it ends: retried, never lost.

Times are stored as ISO 8601 UTC strings with microseconds, so that text order is time order.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from postier.errors import NotFound
from postier.store.blobs_fs import FileBlobStore
from postier.store.bodies import StoredBody
from postier.store.interface import (
    Notice,
    OutboundEnvelope,
    OutboundRecipient,
    QueuedMessage,
    QueuedRecipient,
    QueueId,
    RecipientState,
    RecipientUpdate,
)
from postier.store.sqlite.database import Transaction, stamp
from postier.store.sqlite.messages import ref_body, unref_bodies
from postier.types import AccountId, BlobId

_MESSAGE_COLUMNS = ("q.id, q.account_id, q.sender, b.sha256, q.size, q.envid, q.ret, q.body_type,"
                    " q.smtputf8, q.created_at, q.message_id")
_MESSAGE_FROM = "FROM queue_messages q JOIN blobs b ON b.id = q.blob_rowid"
_RECIPIENT_COLUMNS = ("id, address, state, attempts, next_attempt, last_error, remote_reply,"
                      " notify, orcpt, status, remote_mta, last_attempt, lease_until, notice,"
                      " delay_notified")
_UNFINISHED = "state IN ('pending', 'deferred')"


def _time(value: Any) -> datetime | None:
    return None if value is None else datetime.fromisoformat(str(value))


def enqueue(tx: Transaction, blobs: FileBlobStore, body: StoredBody, envelope: OutboundEnvelope,
            now: datetime) -> QueueId:
    blob_rowid = ref_body(tx, blobs, body)
    created = stamp(now)
    message_id = json.loads(body.parsed.summary_json).get("message_id") or None
    cursor = tx.conn.execute(
        "INSERT INTO queue_messages (account_id, sender, blob_rowid, size, envid, ret, body_type,"
        " smtputf8, message_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (envelope.account_id, envelope.sender, blob_rowid, body.size, envelope.envid,
         envelope.ret, envelope.body_type, int(envelope.smtputf8), message_id, created))
    queue_id = QueueId(int(cursor.lastrowid or 0))
    tx.conn.executemany(
        "INSERT INTO queue_recipients (message_id, address, notify, orcpt, next_attempt,"
        " updated_at) VALUES (?, ?, ?, ?, ?, ?)",
        [(queue_id, r.address, ",".join(r.notify), r.orcpt, created, created)
         for r in envelope.recipients])
    return queue_id


def _recipient(row: Any) -> QueuedRecipient:
    return QueuedRecipient(
        id=int(row[0]), address=str(row[1]), state=RecipientState(row[2]), attempts=int(row[3]),
        next_attempt=datetime.fromisoformat(row[4]), last_error=row[5], remote_reply=row[6],
        notify=tuple(n for n in str(row[7]).split(",") if n), orcpt=row[8], status=row[9],
        remote_mta=row[10], last_attempt=_time(row[11]), lease_until=_time(row[12]),
        notice=None if row[13] is None else Notice(row[13]), delay_notified=bool(row[14]))


def _message(conn: sqlite3.Connection, row: Any, only: str = "") -> QueuedMessage:
    """One message with its recipients; ``only`` restricts them (an SQL condition)."""
    recipients = tuple(_recipient(r) for r in conn.execute(
        f"SELECT {_RECIPIENT_COLUMNS} FROM queue_recipients WHERE message_id = ?"
        f"{' AND ' + only if only else ''} ORDER BY id", (row[0],)))
    envelope = OutboundEnvelope(
        sender=str(row[2]),
        recipients=tuple(OutboundRecipient(r.address, r.notify, r.orcpt) for r in recipients),
        account_id=None if row[1] is None else AccountId(int(row[1])),
        envid=row[5], ret=row[6], body_type=row[7], smtputf8=bool(row[8]))
    return QueuedMessage(QueueId(int(row[0])), envelope, BlobId(str(row[3])), int(row[4]),
                         datetime.fromisoformat(row[9]), recipients, row[10])


def list_queue(conn: sqlite3.Connection) -> list[QueuedMessage]:
    rows = conn.execute(f"SELECT {_MESSAGE_COLUMNS} {_MESSAGE_FROM} ORDER BY q.id").fetchall()
    return [_message(conn, row) for row in rows]


def get_queued(conn: sqlite3.Connection, queue_id: QueueId) -> QueuedMessage:
    row = conn.execute(f"SELECT {_MESSAGE_COLUMNS} {_MESSAGE_FROM} WHERE q.id = ?",
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


def claim_due(tx: Transaction, now: datetime, lease_until: datetime,
              limit: int) -> list[QueuedMessage]:
    moment = stamp(now)
    rows = tx.conn.execute(
        f"SELECT id, message_id FROM queue_recipients WHERE {_UNFINISHED} AND next_attempt <= ?"
        " AND (lease_until IS NULL OR lease_until <= ?) ORDER BY next_attempt, id LIMIT ?",
        (moment, moment, limit)).fetchall()
    if not rows:
        return []
    claimed: dict[int, list[int]] = {}
    for recipient_id, message_id in rows:
        claimed.setdefault(int(message_id), []).append(int(recipient_id))
    tx.conn.executemany("UPDATE queue_recipients SET lease_until = ? WHERE id = ?",
                        [(stamp(lease_until), int(row[0])) for row in rows])
    messages = []
    for message_id, ids in sorted(claimed.items()):
        row = tx.conn.execute(f"SELECT {_MESSAGE_COLUMNS} {_MESSAGE_FROM} WHERE q.id = ?",
                              (message_id,)).fetchone()
        messages.append(_message(tx.conn, row, f"id IN ({','.join(map(str, ids))})"))
    return messages


def next_due(conn: sqlite3.Connection) -> datetime | None:
    row = conn.execute(
        "SELECT min(max(next_attempt, coalesce(lease_until, next_attempt)))"
        f" FROM queue_recipients WHERE {_UNFINISHED}").fetchone()
    return _time(row[0])


def record_attempt(tx: Transaction, queue_id: QueueId, updates: Sequence[RecipientUpdate],
                   now: datetime) -> None:
    moment = stamp(now)
    tx.conn.executemany(
        "UPDATE queue_recipients SET state = ?, next_attempt = ?, last_error = ?,"
        " remote_reply = ?, status = ?, remote_mta = ?,"
        " notice = coalesce(?, notice), delay_notified = max(delay_notified, ?),"
        " attempts = attempts + 1, last_attempt = ?, lease_until = NULL, updated_at = ?"
        " WHERE id = ? AND message_id = ?",
        [(u.state.value, stamp(u.next_attempt), u.last_error, u.remote_reply, u.status,
          u.remote_mta, None if u.notice is None else u.notice.value, int(u.delay_notified),
          moment, moment, u.recipient_id, queue_id) for u in updates])


def release(tx: Transaction, queue_id: QueueId, recipient_ids: Sequence[int]) -> None:
    tx.conn.executemany(
        "UPDATE queue_recipients SET lease_until = NULL WHERE id = ? AND message_id = ?",
        [(recipient_id, queue_id) for recipient_id in recipient_ids])


def retry_now(tx: Transaction, queue_id: QueueId, now: datetime) -> int:
    if tx.conn.execute("SELECT 1 FROM queue_messages WHERE id = ?", (queue_id,)).fetchone() is None:
        raise NotFound(f"no queued message {queue_id}")
    cursor = tx.conn.execute(
        f"UPDATE queue_recipients SET next_attempt = ?, updated_at = ? WHERE message_id = ?"
        f" AND {_UNFINISHED}", (stamp(now), stamp(now), queue_id))
    return cursor.rowcount


def pending_notices(conn: sqlite3.Connection, limit: int) -> list[QueuedMessage]:
    ids = [int(row[0]) for row in conn.execute(
        "SELECT DISTINCT message_id FROM queue_recipients WHERE notice IS NOT NULL"
        " ORDER BY message_id LIMIT ?", (limit,))]
    messages = []
    for message_id in ids:
        row = conn.execute(f"SELECT {_MESSAGE_COLUMNS} {_MESSAGE_FROM} WHERE q.id = ?",
                           (message_id,)).fetchone()
        messages.append(_message(conn, row, "notice IS NOT NULL"))
    return messages


def clear_notices(tx: Transaction, queue_id: QueueId, recipient_ids: Sequence[int]) -> None:
    tx.conn.executemany(
        "UPDATE queue_recipients SET notice = NULL WHERE id = ? AND message_id = ?",
        [(recipient_id, queue_id) for recipient_id in recipient_ids])


def purge(tx: Transaction, blobs: FileBlobStore, finished_before: datetime) -> int:
    rows = tx.conn.execute(
        "SELECT q.id FROM queue_messages q WHERE NOT EXISTS (SELECT 1 FROM queue_recipients r"
        f" WHERE r.message_id = q.id AND (r.{_UNFINISHED} OR r.notice IS NOT NULL"
        " OR r.updated_at >= ?))", (stamp(finished_before),)).fetchall()
    for (queue_id,) in rows:
        delete_queued(tx, blobs, QueueId(int(queue_id)))
    return len(rows)


def queue_status(conn: sqlite3.Connection, account: AccountId,
                 message_ids: Sequence[str] | None, limit: int) -> list[QueuedMessage]:
    where = "q.account_id = ?"
    params: list[object] = [account]
    if message_ids is not None:
        wanted = [m.strip().strip("<>") for m in message_ids]
        if not wanted:
            return []
        where += f" AND q.message_id IN ({','.join('?' * len(wanted))})"
        params += wanted
    rows = conn.execute(f"SELECT {_MESSAGE_COLUMNS} {_MESSAGE_FROM} WHERE {where}"
                        " ORDER BY q.id DESC LIMIT ?", (*params, limit)).fetchall()
    return [_message(conn, row) for row in rows]
