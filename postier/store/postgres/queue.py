"""The outbound queue in PostgreSQL, shared by every node (async helpers run by the store).

The semantics are the embedded store's (``store/sqlite/queue.py``). What changes with several
nodes is the claim: ``claim_due`` selects due recipients with ``FOR UPDATE SKIP LOCKED`` and
stamps their lease in the same statement, so two nodes' runners never take the same recipient
(one skips the rows the other is claiming) and neither waits for the other. A node that dies
mid-delivery leaves its leases; once they end the recipients are due again and any node
retries them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from postier.errors import NotFound
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
from postier.store.postgres.database import Connection, Transaction
from postier.store.postgres.messages import Body, ref_body, unref_bodies
from postier.types import AccountId, BlobId

_MESSAGE_COLUMNS = ("q.id, q.account_id, q.sender, b.sha256, q.size, q.envid, q.ret, q.body_type,"
                    " q.smtputf8, q.created_at, q.message_id")
_MESSAGE_FROM = "FROM queue_messages q JOIN blobs b ON b.id = q.blob_id"
_RECIPIENT_COLUMNS = ("id, address, state, attempts, next_attempt, last_error, remote_reply,"
                      " notify, orcpt, status, remote_mta, last_attempt, lease_until, notice,"
                      " delay_notified, message_id")
_UNFINISHED = "state IN ('pending', 'deferred')"


async def enqueue(tx: Transaction, body: Body, envelope: OutboundEnvelope,
                  now: datetime) -> QueueId:
    blob_row = await ref_body(tx.conn, body)
    message_id = json.loads(body.parsed.summary_json).get("message_id") or None
    queue_id = QueueId(int(await tx.conn.fetchval(
        "INSERT INTO queue_messages (account_id, sender, blob_id, size, envid, ret, body_type,"
        " smtputf8, message_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        " RETURNING id",
        envelope.account_id, envelope.sender, blob_row, body.size, envelope.envid,
        envelope.ret, envelope.body_type, envelope.smtputf8, message_id, now)))
    await tx.conn.executemany(
        "INSERT INTO queue_recipients (message_id, address, notify, orcpt, next_attempt,"
        " updated_at) VALUES ($1, $2, $3, $4, $5, $5)",
        [(queue_id, r.address, ",".join(r.notify), r.orcpt, now) for r in envelope.recipients])
    return queue_id


def _recipient(row: Any) -> QueuedRecipient:
    return QueuedRecipient(
        id=int(row[0]), address=str(row[1]), state=RecipientState(row[2]), attempts=int(row[3]),
        next_attempt=row[4], last_error=row[5], remote_reply=row[6],
        notify=tuple(n for n in str(row[7]).split(",") if n), orcpt=row[8], status=row[9],
        remote_mta=row[10], last_attempt=row[11], lease_until=row[12],
        notice=None if row[13] is None else Notice(row[13]), delay_notified=bool(row[14]))


async def _messages(conn: Connection, rows: Sequence[Any],
                    only: str = "", ids: Sequence[int] | None = None) -> list[QueuedMessage]:
    """Messages with their recipients; ``only`` (SQL) or ``ids`` restrict the recipients."""
    if not rows:
        return []
    params: list[Any] = [[int(r[0]) for r in rows]]
    where = "message_id = ANY($1::bigint[])"
    if only:
        where += f" AND {only}"
    if ids is not None:
        params.append(list(ids))
        where += " AND id = ANY($2::bigint[])"
    by_message: dict[int, list[QueuedRecipient]] = {}
    for r in await conn.fetch(f"SELECT {_RECIPIENT_COLUMNS} FROM queue_recipients"
                              f" WHERE {where} ORDER BY id", *params):
        by_message.setdefault(int(r[15]), []).append(_recipient(r))
    result = []
    for row in rows:
        recipients = tuple(by_message.get(int(row[0]), ()))
        envelope = OutboundEnvelope(
            sender=str(row[2]),
            recipients=tuple(OutboundRecipient(r.address, r.notify, r.orcpt) for r in recipients),
            account_id=None if row[1] is None else AccountId(int(row[1])),
            envid=row[5], ret=row[6], body_type=row[7], smtputf8=bool(row[8]))
        result.append(QueuedMessage(QueueId(int(row[0])), envelope, BlobId(str(row[3])),
                                    int(row[4]), row[9], recipients, row[10]))
    return result


async def list_queue(conn: Connection) -> list[QueuedMessage]:
    rows = await conn.fetch(f"SELECT {_MESSAGE_COLUMNS} {_MESSAGE_FROM} ORDER BY q.id")
    return await _messages(conn, rows)


async def get_queued(conn: Connection, queue_id: QueueId) -> QueuedMessage:
    row = await conn.fetchrow(f"SELECT {_MESSAGE_COLUMNS} {_MESSAGE_FROM} WHERE q.id = $1",
                              queue_id)
    if row is None:
        raise NotFound(f"no queued message {queue_id}")
    return (await _messages(conn, [row]))[0]


async def delete_queued(tx: Transaction, queue_id: QueueId) -> None:
    blob_row = await tx.conn.fetchval("DELETE FROM queue_messages WHERE id = $1"
                                      " RETURNING blob_id", queue_id)
    if blob_row is None:
        raise NotFound(f"no queued message {queue_id}")
    await unref_bodies(tx.conn, [int(blob_row)])


async def claim_due(tx: Transaction, now: datetime, lease_until: datetime,
                    limit: int) -> list[QueuedMessage]:
    rows = await tx.conn.fetch(
        "UPDATE queue_recipients r SET lease_until = $2 FROM ("
        f" SELECT id FROM queue_recipients WHERE {_UNFINISHED} AND next_attempt <= $1"
        " AND (lease_until IS NULL OR lease_until <= $1) ORDER BY next_attempt, id LIMIT $3"
        " FOR UPDATE SKIP LOCKED) AS due WHERE r.id = due.id RETURNING r.id, r.message_id",
        now, lease_until, limit)
    if not rows:
        return []
    message_ids = sorted({int(r[1]) for r in rows})
    messages = await tx.conn.fetch(f"SELECT {_MESSAGE_COLUMNS} {_MESSAGE_FROM}"
                                   " WHERE q.id = ANY($1::bigint[]) ORDER BY q.id", message_ids)
    return await _messages(tx.conn, messages, ids=[int(r[0]) for r in rows])


async def next_due(conn: Connection) -> datetime | None:
    value: datetime | None = await conn.fetchval(
        "SELECT min(greatest(next_attempt, coalesce(lease_until, next_attempt)))"
        f" FROM queue_recipients WHERE {_UNFINISHED}")
    return value


async def record_attempt(tx: Transaction, queue_id: QueueId, updates: Sequence[RecipientUpdate],
                         now: datetime) -> None:
    await tx.conn.executemany(
        "UPDATE queue_recipients SET state = $1, next_attempt = $2, last_error = $3,"
        " remote_reply = $4, status = $5, remote_mta = $6,"
        " notice = coalesce($7, notice), delay_notified = delay_notified OR $8,"
        " attempts = attempts + 1, last_attempt = $9, lease_until = NULL, updated_at = $9"
        " WHERE id = $10 AND message_id = $11",
        [(u.state.value, u.next_attempt, u.last_error, u.remote_reply, u.status, u.remote_mta,
          None if u.notice is None else u.notice.value, u.delay_notified, now, u.recipient_id,
          queue_id) for u in updates])


async def release(tx: Transaction, queue_id: QueueId, recipient_ids: Sequence[int]) -> None:
    await tx.conn.execute("UPDATE queue_recipients SET lease_until = NULL"
                          " WHERE id = ANY($1::bigint[]) AND message_id = $2",
                          list(recipient_ids), queue_id)


async def retry_now(tx: Transaction, queue_id: QueueId, now: datetime) -> int:
    if await tx.conn.fetchval("SELECT 1 FROM queue_messages WHERE id = $1", queue_id) is None:
        raise NotFound(f"no queued message {queue_id}")
    rows = await tx.conn.fetch(
        "UPDATE queue_recipients SET next_attempt = $1, updated_at = $1 WHERE message_id = $2"
        f" AND {_UNFINISHED} RETURNING id", now, queue_id)
    return len(rows)


async def pending_notices(conn: Connection, limit: int) -> list[QueuedMessage]:
    rows = await conn.fetch(
        f"SELECT {_MESSAGE_COLUMNS} {_MESSAGE_FROM} WHERE q.id IN (SELECT DISTINCT message_id"
        " FROM queue_recipients WHERE notice IS NOT NULL ORDER BY message_id LIMIT $1)"
        " ORDER BY q.id", limit)
    return await _messages(conn, rows, "notice IS NOT NULL")


async def clear_notices(tx: Transaction, queue_id: QueueId, recipient_ids: Sequence[int]) -> None:
    await tx.conn.execute("UPDATE queue_recipients SET notice = NULL"
                          " WHERE id = ANY($1::bigint[]) AND message_id = $2",
                          list(recipient_ids), queue_id)


async def purge(tx: Transaction, finished_before: datetime) -> int:
    rows = await tx.conn.fetch(
        "DELETE FROM queue_messages q WHERE NOT EXISTS (SELECT 1 FROM queue_recipients r"
        f" WHERE r.message_id = q.id AND (r.{_UNFINISHED} OR r.notice IS NOT NULL"
        " OR r.updated_at >= $1)) RETURNING blob_id", finished_before)
    await unref_bodies(tx.conn, (int(r[0]) for r in rows))
    return len(rows)


async def queue_status(conn: Connection, account: AccountId,
                       message_ids: Sequence[str] | None, limit: int) -> list[QueuedMessage]:
    where = "q.account_id = $1"
    params: list[object] = [account, limit]
    if message_ids is not None:
        wanted = [m.strip().strip("<>") for m in message_ids]
        if not wanted:
            return []
        where += " AND q.message_id = ANY($3::text[])"
        params.append(wanted)
    rows = await conn.fetch(f"SELECT {_MESSAGE_COLUMNS} {_MESSAGE_FROM} WHERE {where}"
                            " ORDER BY q.id DESC LIMIT $2", *params)
    return await _messages(conn, rows)
