"""SEARCH, SORT and THREAD, with their UID forms (RFC 9051 §6.4.4, RFC 4731, RFC 5182, RFC 5256).

How this works
--------------
Only the messages the client can number are searched: the selected view's. What is read
depends on the criteria (``search.search_needs``):

* BODY/TEXT strings go to the store's full-text index (SQLite FTS5, PostgreSQL tsvector) once
  per string, never to the message files; the index covers subject, addresses and body text,
  so TEXT is answered from it alone. When the criteria cannot match outside the index's hits
  (``TEXT x``, ``BODY x SEEN``, ...), only the hits are looked at, and when nothing else is
  read (``TEXT x``, ``UID 1:500 BODY x``) the hits are the answer: no per-message read at all;
* flags, UIDs, sequence numbers and MODSEQ come from the light message states (one query);
* address, subject and Date-header keys, dates and sizes need the records with their stored
  summary, read ``BATCH`` messages at a time so memory stays bounded (when the index's hits are
  many, in runs of the whole mailbox rather than one lookup per scattered hit);
* HEADER on a field the summary does not keep needs the header block, which today means
  reading the message (the only per-message read of a search).

The answer is ``* SEARCH`` for IMAP4rev1 without RETURN, else ``* ESEARCH`` (RFC 9051 §6.4.4,
RFC 4731 §3.1; an empty RETURN means ALL). ``RETURN (SAVE)`` keeps the result as UIDs in the
view for ``$`` (RFC 5182) and, alone, sends no ESEARCH; a failed SEARCH with SAVE empties it.
SORT and THREAD search the same way and then order or thread the matches from the summaries.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass
from datetime import UTC, datetime

from postier.imap.commands import (
    Age,
    And,
    Contains,
    DateCompare,
    HasFlag,
    HeaderContains,
    ModSeqAtLeast,
    Not,
    Or,
    Search,
    SearchKey,
    SearchReturn,
    SizeCompare,
    Sort,
    TextField,
    Thread,
)
from postier.imap.context import Context
from postier.imap.handlers.common import load_records
from postier.imap.responses import Status, Tagged
from postier.imap.search import (
    SearchMessage,
    esearch_result,
    matches,
    saved_result,
    search_needs,
    search_response,
)
from postier.imap.sort_thread import SortMessage, sort, sort_response, thread, thread_response
from postier.store.interface import MessageState

__all__ = ["BATCH", "handle_search", "handle_sort", "handle_thread", "search_view"]

BATCH = 5000
_SCATTERED_SHARE = 8  # hits above 1/8 of the mailbox are read with it, in runs of UIDs
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SUMMARY_HEADERS = frozenset({"from", "to", "cc", "bcc", "subject", "message-id"})


@dataclass(frozen=True, slots=True)
class _Plan:
    records: bool  # dates, sizes or summary fields are read
    header_block: bool  # a HEADER key the summary cannot answer


def _walk(key: SearchKey) -> Iterable[SearchKey]:
    stack = [key]
    while stack:
        current = stack.pop()
        yield current
        if isinstance(current, Not):
            stack.append(current.key)
        elif isinstance(current, Or):
            stack += (current.left, current.right)
        elif isinstance(current, And):
            stack.extend(current.keys)


def _plan(criteria: SearchKey, summary: bool) -> _Plan:
    records, header_block = summary, False
    for key in _walk(criteria):
        if isinstance(key, DateCompare | SizeCompare | Age):
            records = True
        elif isinstance(key, HeaderContains):
            records = True
            header_block = header_block or key.name.lower() not in _SUMMARY_HEADERS
    return _Plan(records, header_block)


def _index_decides(criteria: SearchKey) -> bool:
    """Whether the full-text hits alone are the answer: BODY/TEXT keys, all of them required."""
    match criteria:
        case Contains(field=TextField.BODY | TextField.TEXT, value=value):
            return bool(value)
        case And(keys=keys):
            return bool(keys) and all(_index_decides(key) for key in keys)
    return False


def _reads_states(criteria: SearchKey) -> bool:
    """Whether a key reads a message's flags or mod-sequence."""
    return any(isinstance(key, HasFlag | ModSeqAtLeast) for key in _walk(criteria))


def _header(data: bytes) -> bytes:
    end = data.find(b"\r\n\r\n")
    if end >= 0:
        return data[: end + 4]
    end = data.find(b"\n\n")
    return data[: end + 2] if end >= 0 else data


def _required(key: SearchKey, text_hits: Mapping[tuple[str, str], Set[int]], *,
              text_is_indexed: bool) -> Set[int] | None:
    """UIDs outside which ``key`` cannot match, when the full-text hits decide that; None when
    any message might. TEXT also matches the header text when the summary is read, so it
    restricts only when it is not (``text_is_indexed``)."""
    match key:
        case Contains(field=TextField.BODY | TextField.TEXT, value=value) if value:
            if key.field is TextField.TEXT and not text_is_indexed:
                return None
            return text_hits[(key.field.value, value)]
        case And(keys=keys):
            found: Set[int] | None = None
            for part in keys:
                required = _required(part, text_hits, text_is_indexed=text_is_indexed)
                if required is not None:
                    found = required if found is None else found & required
            return found
        case Or(left=left, right=right):
            one = _required(left, text_hits, text_is_indexed=text_is_indexed)
            other = _required(right, text_hits, text_is_indexed=text_is_indexed)
            return None if one is None or other is None else one | other
    return None


async def search_view(ctx: Context, criteria: SearchKey, *,
                      want_records: bool = False) -> list[SearchMessage]:
    """The view's messages that match ``criteria``, in sequence order."""
    selection = ctx.selected
    view = selection.view
    needs = search_needs(criteria)
    plan = _plan(criteria, needs.summary or want_records)
    text_hits: dict[tuple[str, str], Set[int]] = {}
    for field, value in needs.text_queries:
        hits = await ctx.store.search_text(ctx.account, selection.mailbox.id, value)
        text_hits[(field, value)] = frozenset(hits)
    test = functools.partial(matches, criteria, text_hits=text_hits, max_seq=view.exists,
                             max_uid=view.last_uid, now=datetime.now(UTC),
                             saved=frozenset(view.saved))
    rev1 = not ctx.rev2
    candidates = _required(criteria, text_hits, text_is_indexed=not plan.records)
    if candidates is not None:  # only the index's hits can match: look at just those
        targets = sorted((number, uid) for uid in candidates
                         if (number := view.seq_of(uid)) is not None)
    else:
        targets = view.all_messages()
    if not plan.records and _index_decides(criteria):
        return [SearchMessage(seq, uid, 0, frozenset(), _EPOCH, 0, "{}",
                              recent=rev1 and view.is_recent(uid)) for seq, uid in targets]
    if not plan.records:
        # Flags, numbers and the index decide: the light states are enough, and when no key
        # reads flags or mod-sequences (``TEXT x``, ``UID 1:100 BODY y``), not even those: the
        # hits are messages the store has now, so nothing else needs to be read.
        states: dict[int, MessageState] | None = None
        if candidates is None or _reads_states(criteria):
            states = {s.uid: s for s in
                      await ctx.store.message_states(ctx.account, selection.mailbox.id)}
        found: list[SearchMessage] = []
        for seq, uid in targets:
            if states is None:
                message = SearchMessage(seq, uid, 0, frozenset(), _EPOCH, 0, "{}",
                                        recent=rev1 and view.is_recent(uid))
            elif (state := states.get(uid)) is not None:
                message = SearchMessage(seq, uid, state.modseq, state.flags, _EPOCH, 0, "{}",
                                        recent=rev1 and view.is_recent(uid))
            else:
                continue
            if test(message):
                found.append(message)
        return found
    if candidates is not None and len(targets) * _SCATTERED_SHARE > view.exists:
        # Many hits: reading the mailbox in runs of UIDs beats one lookup per scattered hit.
        wanted = frozenset(uid for _seq, uid in targets)
        everything = view.all_messages()
        batches = [everything[start : start + BATCH] for start in range(0, len(everything), BATCH)]
    else:
        wanted = None
        batches = [targets[start : start + BATCH] for start in range(0, len(targets), BATCH)]
    found = []
    for batch in batches:
        records = await load_records(ctx, batch)
        for seq, uid in batch:
            record = records.get(uid)
            if record is None or (wanted is not None and uid not in wanted):
                continue
            header = None
            if plan.header_block:
                header = _header(await ctx.store.read_message(ctx.account, record))
            message = SearchMessage(seq, uid, record.modseq, record.flags,
                                    record.internal_date, record.size, record.summary_json,
                                    recent=rev1 and view.is_recent(uid), header=header)
            if test(message):
                found.append(message)
    return found


async def handle_search(ctx: Context, tag: str, command: Search) -> Tagged:
    view = ctx.view
    returns = command.returns
    needs_modseq = search_needs(command.criteria).modseq
    if needs_modseq:
        await ctx.enable_condstore()  # RFC 7162 §3.1.5
    try:
        found = await search_view(ctx, command.criteria)
    except Exception:
        if returns is not None and SearchReturn.SAVE in returns:
            view.saved = ()
        raise
    numbers = [m.uid if command.uid else m.seq for m in found]
    modseq = max((m.modseq for m in found), default=0) if needs_modseq else None
    if returns is None and not ctx.rev2:
        await ctx.send(search_response(numbers, modseq=modseq))
        return Tagged(tag, Status.OK, "SEARCH completed")
    returns = returns or frozenset({SearchReturn.ALL})
    if SearchReturn.SAVE in returns:
        view.saved = tuple(saved_result([m.uid for m in found], returns - {SearchReturn.SAVE}))
        returns = returns - {SearchReturn.SAVE}
        if not returns:
            return Tagged(tag, Status.OK, "SEARCH completed, result saved")
    await ctx.send(esearch_result(tag, numbers, returns, command.uid, modseq=modseq))
    return Tagged(tag, Status.OK, "SEARCH completed")


def _sortable(found: list[SearchMessage]) -> list[SortMessage]:
    return [SortMessage(m.seq, m.uid, m.internal_date, m.size, m.summary_json) for m in found]


async def handle_sort(ctx: Context, tag: str, command: Sort) -> Tagged:
    found = await search_view(ctx, command.search, want_records=True)
    ordered = sort(_sortable(found), command.criteria)
    if command.returns is None:
        await ctx.send(sort_response(ordered, command.uid))
    else:
        numbers = [m.uid if command.uid else m.seq for m in ordered]
        returns = (command.returns - {SearchReturn.SAVE}) or frozenset({SearchReturn.ALL})
        if SearchReturn.SAVE in command.returns:
            ctx.view.saved = tuple(sorted(m.uid for m in ordered))
        await ctx.send(esearch_result(tag, numbers, returns, command.uid, ordered=True))
    return Tagged(tag, Status.OK, "SORT completed")


async def handle_thread(ctx: Context, tag: str, command: Thread) -> Tagged:
    found = await search_view(ctx, command.search, want_records=True)
    await ctx.send(thread_response(thread(_sortable(found), command.algorithm), command.uid))
    return Tagged(tag, Status.OK, "THREAD completed")
