"""``postier store copy``: move a whole store to another backend (embedded ⇄ PostgreSQL).

How this works: rows go from the source's ``StoreTransfer`` to the target's in dependency order
— domains, accounts (password hashes included), aliases, mailboxes (UIDVALIDITY, UIDNEXT,
HIGHESTMODSEQ as they are), subscriptions, then each mailbox's messages in UID order, a page per
transaction (bodies fetched once per page and stored once per content), its expunge log, and
the outbound queue. Every id is kept, so clients resume where they were.

Resuming: each step skips what the target already has (the same ids), and messages continue
after the highest UID the target holds in each mailbox — an interrupted copy is run again with
the same arguments. Serve from neither store while copying: the source must not change.

Verification, at the end: every row is read back from both sides and compared (counts and a
SHA-256 digest over the rows; quota counters included), and every body in the target is hashed
and checked against its content address. Any difference raises ``Conflict``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import io
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from postier.errors import Conflict
from postier.store.transfer import MailboxRow, MessageRow, StoreTransfer
from postier.types import BlobId

__all__ = ["CopyReport", "ProgressBar", "copy_store", "verify_copy"]

PAGE = 200
CHUNK_BYTES = 32 * 1024 * 1024


@dataclass(slots=True)
class CopyReport:
    counts: dict[str, int] = field(default_factory=dict)  # rows in the source (= target)
    copied_messages: int = 0  # new in the target this run (less on a resumed copy)
    digest: str = ""  # SHA-256 over every compared row, the same on both sides


class ProgressBar:
    """One line on a terminal (redrawn), or a line every few seconds into a log."""

    def __init__(self, stream: TextIO | None = None, width: int = 30) -> None:
        self._stream = stream or sys.stderr
        self._width = width
        self._tty = self._stream.isatty()
        self._last = 0.0
        self._label = ""
        self._done = 0
        self._total = 0
        self._bytes = 0

    def phase(self, label: str, total: int = 0) -> None:
        self._end_line()
        self._label, self._done, self._total, self._bytes = label, 0, total, 0
        self._last = time.monotonic()
        if self._tty:
            self._draw(force=True)

    def advance(self, count: int, size: int = 0) -> None:
        self._done += count
        self._bytes += size
        self._draw()

    def finish(self) -> None:
        self._draw(force=True)
        self._end_line()
        self._label = ""

    def _end_line(self) -> None:
        if self._label and self._tty:
            self._stream.write("\n")
            self._stream.flush()

    def _draw(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < (0.1 if self._tty else 5.0):
            return
        self._last = now
        if self._total:
            share = min(1.0, self._done / self._total)
            bar = "#" * int(share * self._width)
            text = (f"{self._label:<10} [{bar:<{self._width}}] {share:4.0%}"
                    f"  {self._done:,}/{self._total:,}")
        else:
            text = f"{self._label:<10} {self._done:,}"
        if self._bytes:
            text += f"  {self._bytes / 1e6:,.1f} MB"
        self._stream.write(("\r" + text + "\x1b[K") if self._tty else text + "\n")
        self._stream.flush()


async def copy_store(source: StoreTransfer, target: StoreTransfer,
                     progress: ProgressBar | None = None) -> CopyReport:
    """Copy everything from ``source`` into ``target`` (resumable), then verify."""
    bar = progress or ProgressBar(io.StringIO())
    report = CopyReport()
    bar.phase("accounts")
    for domain in await source.domains():
        await target.put_domain(domain)
    accounts = await source.accounts()
    for account in accounts:
        await target.put_account(account)
        bar.advance(1)
    for alias in await source.aliases():
        await target.put_alias(alias)
    mailboxes = await source.mailboxes()
    for mailbox in mailboxes:
        await target.put_mailbox(mailbox)
    await target.put_subscriptions(await source.subscriptions())
    bar.finish()

    bar.phase("messages", sum(a.message_count for a in accounts))
    for mailbox in mailboxes:
        report.copied_messages += await _copy_mailbox(source, target, mailbox, bar)
    bar.finish()

    queued = await source.queue()
    bar.phase("queue", len(queued))
    for row in queued:
        await target.put_queue(row, await source.body(row.blob_id))
        bar.advance(1, row.size)
    await target.finish(await source.last_uidvalidity())
    bar.finish()

    verified = await verify_copy(source, target, bar)
    report.counts, report.digest = verified.counts, verified.digest
    return report


async def _copy_mailbox(source: StoreTransfer, target: StoreTransfer, mailbox: MailboxRow,
                        bar: ProgressBar) -> int:
    already = await target.last_uid(mailbox.id)
    skipped = await _count_until(source, mailbox, already)
    bar.advance(skipped)
    copied = 0
    after = already
    while True:
        rows = await source.messages(mailbox.id, after, PAGE)
        if not rows:
            break
        for chunk in _chunks(rows):
            bodies = await _bodies(source, {row.blob_id for row in chunk})
            copied += await target.put_messages([(row, bodies[row.blob_id]) for row in chunk])
            bar.advance(len(chunk), sum(row.size for row in chunk))
        after = rows[-1].uid
    await target.put_expunged(mailbox.id, await source.expunged(mailbox.id))
    return copied


async def _count_until(source: StoreTransfer, mailbox: MailboxRow, last_uid: int) -> int:
    """How many of the source's messages a resumed copy already has (for the progress bar)."""
    if not last_uid:
        return 0
    count, after = 0, 0
    while True:
        rows = await source.messages(mailbox.id, after, 1000)
        kept = [r for r in rows if r.uid <= last_uid]
        count += len(kept)
        if len(kept) < len(rows) or not rows:
            return count
        after = rows[-1].uid


def _chunks(rows: list[MessageRow]) -> list[list[MessageRow]]:
    """Split a page so one transaction carries at most about CHUNK_BYTES of bodies."""
    chunks: list[list[MessageRow]] = [[]]
    size = 0
    for row in rows:
        if chunks[-1] and size + row.size > CHUNK_BYTES:
            chunks.append([])
            size = 0
        chunks[-1].append(row)
        size += row.size
    return chunks


async def _bodies(source: StoreTransfer, blobs: set[BlobId]) -> dict[BlobId, bytes]:
    ordered = sorted(blobs)
    datas = await asyncio.gather(*(source.body(blob) for blob in ordered))
    return dict(zip(ordered, datas, strict=True))


# Verification -----------------------------------------------------------------------------------

class _Digest:
    """Row counts per kind and one SHA-256 over every row's canonical text."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self._hash = hashlib.sha256()

    def add(self, kind: str, rows: Sequence[Any]) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + len(rows)
        for row in rows:
            self._hash.update(f"{kind}:{_canonical(row)}\n".encode())

    @property
    def digest(self) -> str:
        return self._hash.hexdigest()


def _canonical(row: Any) -> str:
    if isinstance(row, MessageRow):
        # Flags in a stable order; dates compare as instants, so the zone a client gave with
        # APPEND is compared on its own.
        values = [sorted(v) if isinstance(v, frozenset) else v
                  for v in (getattr(row, f.name) for f in dataclasses.fields(row))]
        return repr((values, row.internal_date.utcoffset()))
    return repr(row)


async def verify_copy(source: StoreTransfer, target: StoreTransfer,
                      progress: ProgressBar | None = None) -> CopyReport:
    """Compare every row of both stores and hash every body of the target."""
    bar = progress or ProgressBar(io.StringIO())
    sides = (_Digest(), _Digest())
    for kind in ("domains", "accounts", "aliases", "mailboxes", "subscriptions", "queue"):
        rows = [await getattr(store, kind)() for store in (source, target)]
        _compare(kind, rows[0], rows[1])
        for digest, found in zip(sides, rows, strict=True):
            digest.add(kind, found)
    mailboxes = await source.mailboxes()
    bar.phase("verifying", sides[0].counts["accounts"] and sum(
        a.message_count for a in await source.accounts()))
    blobs: set[BlobId] = {row.blob_id for row in await target.queue()}
    for mailbox in mailboxes:
        after = 0
        while True:
            pages = [await store.messages(mailbox.id, after, 1000) for store in (source, target)]
            _compare(f"messages of mailbox {mailbox.id}", pages[0], pages[1])
            if not pages[0]:
                break
            for digest in sides:
                digest.add("messages", pages[0])
            blobs.update(row.blob_id for row in pages[0])
            bar.advance(len(pages[0]))
            after = pages[0][-1].uid
        logs = [await store.expunged(mailbox.id) for store in (source, target)]
        _compare(f"expunge log of mailbox {mailbox.id}", logs[0], logs[1])
        for digest in sides:
            digest.add("expunged", logs[0])
    bar.finish()
    bar.phase("checksums", len(blobs))
    for blob in sorted(blobs):
        data = await target.body(blob)
        if hashlib.sha256(data).hexdigest() != blob:
            raise Conflict(f"verification failed: body {blob} in the target has another checksum")
        bar.advance(1, len(data))
    sides[0].counts["bodies"] = sides[1].counts["bodies"] = len(blobs)
    bar.finish()
    if sides[0].digest != sides[1].digest:  # pragma: no cover - _compare catches it first
        raise Conflict("verification failed: the stores differ")
    return CopyReport(counts=sides[1].counts, digest=sides[1].digest)


def _compare(kind: str, source: Sequence[Any], target: Sequence[Any]) -> None:
    if len(source) != len(target):
        raise Conflict(f"verification failed: {kind}: {len(source)} in the source,"
                       f" {len(target)} in the target")
    for ours, theirs in zip(source, target, strict=True):
        if _canonical(ours) != _canonical(theirs):
            raise Conflict(f"verification failed: {kind} differ: {_short(ours)} became"
                           f" {_short(theirs)}")


def _short(row: Any) -> str:
    text = repr(row)
    return text if len(text) < 200 else text[:200] + "..."
