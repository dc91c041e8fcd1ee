"""FETCH and UID FETCH (RFC 9051 §6.4.5, §6.4.9).

How this works
--------------
The messages are handled in batches of ``BATCH`` sequence numbers: one ``get_messages`` query
per batch (``common.load_records``), then, only when an item needs it, the bodies, read
``READ_AHEAD`` at a time in one store read (at most ``READ_AHEAD_BYTES`` in memory). Each message is
rendered by ``imap/fetch.py`` and written as it goes, so memory stays bounded and a slow
client slows the FETCH down rather than filling the server (the context flushes with
back-pressure). A listing of metadata items only (``imap.fetch.LinePlan``: the usual first
sync) reads the store's narrow rows instead of records (``store.list_messages``: no body
location, no part tree unless BODY/BODYSTRUCTURE is asked for), writes each line with one
string format, and reads the next batch's rows while it writes the current one.

Items that set \\Seen (BODY[...] without .PEEK, RFC822, RFC822.TEXT, BINARY[...]) set it for
the batch in one store call before rendering, and the changed messages get FLAGS in their
response (RFC 9051 §6.4.5); the view records the change so the hub's echo is not sent again.
In IMAP4rev1, FLAGS include \\Recent for this session's recent messages. CHANGEDSINCE and
the MODSEQ item (RFC 7162 §3.1.4) turn CONDSTORE on; CHANGEDSINCE then skips messages whose
MODSEQ is not above it and adds MODSEQ to the rest; with VANISHED (UID FETCH after ENABLE
QRESYNC, RFC 7162 §3.2.6) a ``* VANISHED (EARLIER)`` for the expunged UIDs comes first.

A message that was expunged by another session but whose EXPUNGE the client has not seen yet
has no record any more: it is left out, and a non-UID FETCH ends with
``NO [EXPUNGEISSUED]`` (RFC 9051 §7.1, as Dovecot does), a UID FETCH with OK (RFC 9051
§6.4.9: nonexistent UIDs are ignored).
"""

from __future__ import annotations

import asyncio

from postier.imap.commands import Fetch, FetchAttribute
from postier.imap.context import FLUSH_SIZE, Context
from postier.imap.errors import bad, no
from postier.imap.fetch import (
    FetchContext,
    FetchError,
    LinePlan,
    fetch_response,
    line_plan,
    needs_body,
    sets_seen,
)
from postier.imap.handlers.common import load_listing, load_records, select_messages
from postier.imap.qresync import clip, intersect, missing, uid_ranges
from postier.imap.responses import SimpleCode, Status, Tagged
from postier.imap.selected import RECENT, vanished_response
from postier.store.interface import MessageState
from postier.types import SEEN, FlagOp, ListedMessage, MessageRecord, ModSeq, UidSet

__all__ = ["BATCH", "handle_fetch"]

BATCH = 1000
READ_AHEAD = 16  # message bodies read concurrently
READ_AHEAD_BYTES = 8 * 1024 * 1024


def _code(name: str) -> SimpleCode | None:
    try:
        return SimpleCode(name)
    except ValueError:
        return None


async def handle_fetch(ctx: Context, tag: str, command: Fetch) -> Tagged:
    if command.vanished and not ctx.qresync:
        raise bad("VANISHED needs ENABLE QRESYNC")  # RFC 7162 §3.2.6
    messages = select_messages(ctx, command.sequence, uid=command.uid)
    if command.vanished and command.changed_since is not None:
        await _send_vanished(ctx, command, command.changed_since)
    if command.changed_since is not None or FetchAttribute.MODSEQ in command.items:
        await ctx.enable_condstore()  # RFC 7162 §3.1: a CONDSTORE enabling command
    missing = False
    plan = line_plan(command.items, utf8=ctx.rev2, include_uid=command.uid,
                     include_modseq=command.changed_since is not None)
    batches = [messages[start : start + BATCH] for start in range(0, len(messages), BATCH)]
    if plan is not None:
        missing = await _list(ctx, command, plan, batches)
    else:
        for batch in batches:
            missing |= await _fetch_batch(ctx, command, batch)
    if missing and not command.uid:
        return Tagged(tag, Status.NO, "some of the requested messages no longer exist",
                      SimpleCode.EXPUNGEISSUED)
    return Tagged(tag, Status.OK, "FETCH completed")


async def _send_vanished(ctx: Context, command: Fetch, changed_since: int) -> None:
    """UID FETCH ... (CHANGEDSINCE n VANISHED): ``* VANISHED (EARLIER)`` with the requested
    UIDs expunged since n (RFC 7162 §3.2.6), before the FETCH responses. UIDs the client still
    numbers are left out: their removal comes as a plain VANISHED when it may (§3.2.10). When
    the expunge history does not reach back to n, every requested UID that is in neither the
    store nor the view is reported — the honest over-approximation."""
    selection = ctx.selected
    view = selection.view
    if command.sequence.saved:
        requested = UidSet.of(view.saved)
    else:
        requested = uid_ranges(command.sequence, view.last_uid)
    requested = clip(requested, max(view.last_uid, selection.mailbox.uidnext - 1))
    expunged = await ctx.store.vanished_since(ctx.account, selection.mailbox.id,
                                              ModSeq(changed_since))
    if expunged is None:
        states = await ctx.store.message_states(ctx.account, selection.mailbox.id)
        present = sorted({s.uid for s in states}.union(view.numbered))
        vanished = missing(requested, present)
    else:
        vanished = missing(intersect(expunged, requested), view.numbered)
    if vanished:
        await ctx.send(vanished_response(vanished, earlier=True))


async def _list(ctx: Context, command: Fetch, plan: LinePlan,
                batches: list[list[tuple[int, int]]]) -> bool:
    """A listing: while one batch is written, the next one's records are read (the reader
    thread runs while the event loop formats lines), at most two batches in memory."""
    missing = False
    structure = plan.needs_structure

    def read(batch: list[tuple[int, int]]) -> asyncio.Future[dict[int, ListedMessage]]:
        return asyncio.ensure_future(load_listing(ctx, batch, structure=structure))

    pending = read(batches[0]) if batches else None
    try:
        for index, batch in enumerate(batches):
            assert pending is not None
            rows = await pending
            pending = read(batches[index + 1]) if index + 1 < len(batches) else None
            missing |= await _list_batch(ctx, command, plan, batch, rows)
    finally:
        if pending is not None:  # the client went away mid-listing: drop the read ahead
            pending.cancel()
            pending.add_done_callback(_retrieve)
    return missing


def _retrieve(task: asyncio.Future[dict[int, ListedMessage]]) -> None:
    """Mark an abandoned read's outcome as seen (no "exception was never retrieved")."""
    if not task.cancelled():
        task.exception()


async def _list_batch(ctx: Context, command: Fetch, plan: LinePlan,
                      batch: list[tuple[int, int]], rows: dict[int, ListedMessage]) -> bool:
    """``_fetch_batch`` for metadata items only (no \\Seen to set, no body to read): each
    line is written by the plan, and lines leave in writes of about ``FLUSH_SIZE``."""
    view = ctx.selected.view
    asks_flags = FetchAttribute.FLAGS in command.items
    add_recent = not ctx.rev2
    changed_since = command.changed_since
    missing = False
    lines: list[bytes] = []
    size = 0
    for seq, uid in batch:
        row = rows.get(uid)
        if row is None:
            missing = True
            continue
        modseq = row[1]
        if changed_since is not None and modseq <= changed_since:
            continue
        flags = row[2]
        if asks_flags:
            view.note_own_flags(uid, modseq)  # the client now knows these flags
        if add_recent and view.is_recent(uid):
            flags = flags | {RECENT}
        line = plan.line(seq, row, flags, modseq)
        lines.append(line)
        size += len(line)
        if size >= FLUSH_SIZE:
            await ctx.send_encoded(b"".join(lines))
            lines, size = [], 0
    if lines:
        await ctx.send_encoded(b"".join(lines))
    return missing


async def _fetch_batch(ctx: Context, command: Fetch, batch: list[tuple[int, int]]) -> bool:
    """Send FETCH responses for ``batch``; True if some message no longer exists."""
    selection = ctx.selected
    view = selection.view
    records = await load_records(ctx, batch)
    changed: dict[int, MessageState] = {}
    if sets_seen(command.items) and not view.readonly:
        unseen = [uid for uid, record in records.items() if SEEN not in record.flags]
        if unseen:
            result = await ctx.store.set_flags(ctx.account, selection.mailbox.id,
                                               UidSet.of(unseen), FlagOp.ADD,
                                               frozenset({SEEN}))
            for state in result.changed:
                view.note_own_flags(state.uid, state.modseq)
                changed[state.uid] = state
    with_body = needs_body(command.items)
    asks_flags = FetchAttribute.FLAGS in command.items
    missing = False
    changed_since = command.changed_since
    # The cache pays off for a few messages fetched piece by piece, not for a bulk listing.
    cache = ctx.structure_cache if len(batch) <= 64 else None
    wanted: list[tuple[int, MessageRecord]] = []
    for seq, uid in batch:
        record = records.get(uid)
        if record is None:
            missing = True
        elif changed_since is None or record.modseq > changed_since or uid in changed:
            wanted.append((seq, record))  # CHANGEDSINCE: only messages changed since
    bodies: dict[int, bytes | None] = {}  # None: the body is gone
    for position, (seq, record) in enumerate(wanted):
        uid = record.uid
        body = None
        if with_body:
            if uid not in bodies:
                bodies = await _read_ahead(ctx, wanted[position:])
            body = bodies.pop(uid, None)
            if body is None:
                missing = True
                continue
        seen_now = changed.get(uid)
        flags, modseq = ((seen_now.flags, seen_now.modseq) if seen_now
                         else (record.flags, record.modseq))
        if asks_flags:
            view.note_own_flags(uid, modseq)  # the client now knows these flags
        if not ctx.rev2 and view.is_recent(uid):
            flags = flags | {RECENT}
        fetch_context = FetchContext(seq, record, body, utf8=ctx.rev2, rev2=ctx.rev2)
        try:
            # With CONDSTORE, a FETCH that reports a flag change carries UID and MODSEQ
            # (RFC 7162 §3.1); CHANGEDSINCE implies MODSEQ (§3.1.4.1).
            reports_change = ctx.condstore and seen_now is not None
            response = fetch_response(
                command.items, fetch_context, flags=flags, modseq=modseq,
                include_uid=command.uid or reports_change, include_flags=seen_now is not None,
                include_modseq=reports_change or changed_since is not None,
                cache=cache)
        except FetchError as error:
            raise no(error.text, _code(error.code)) from None
        await ctx.send(response)
    return missing


async def _read_ahead(ctx: Context,
                      upcoming: list[tuple[int, MessageRecord]]) -> dict[int, bytes | None]:
    """The bodies of the next few messages, read concurrently (reader threads in parallel),
    at most ``READ_AHEAD`` messages or ``READ_AHEAD_BYTES`` (at least one message)."""
    group: list[MessageRecord] = []
    size = 0
    for _seq, record in upcoming:
        if group and (len(group) >= READ_AHEAD or size + record.size > READ_AHEAD_BYTES):
            break
        group.append(record)
        size += record.size

    data = await ctx.store.read_messages(ctx.account, group)  # one query for the group
    return {record.uid: body for record, body in zip(group, data, strict=True)}
