"""STORE and UID STORE (RFC 9051 §6.4.6, RFC 7162 §3.1.3).

How this works
--------------
The flags change in one store call per run of consecutive messages (usually one). Unless
``.SILENT``, every addressed message that still exists gets ``* n FETCH (FLAGS (...))`` with its
flags after the change — the changed ones from the store's answer, the unchanged ones from one
read — and with UID for UID STORE (RFC 9051 §6.4.9). Either way the view learns the new MODSEQ,
so the change hub's echo of the session's own change is never sent again as an unsolicited
FETCH; changes by others still arrive (.SILENT only silences the own update).

CONDSTORE (RFC 7162 §3.1.3): ``UNCHANGEDSINCE n`` changes only messages whose MODSEQ is not
above n; the others are listed in ``OK [MODIFIED set]`` (sequence numbers, or UIDs for UID
STORE) and get no FETCH. Once CONDSTORE is on, each FETCH carries UID and MODSEQ, and even with
.SILENT the changed messages are reported with their new MODSEQ (RFC 7162 §3.1.3).

\\Recent cannot be stored (RFC 3501 §2.3.2); the store ignores it. In a mailbox selected with
EXAMINE the command fails with ``NO [READ-ONLY]``.
"""

from __future__ import annotations

from postier.imap.commands import Store
from postier.imap.context import Context
from postier.imap.handlers.common import load_records, require_writable, select_messages, spans
from postier.imap.responses import Atom, ModifiedCode, Status, Tagged, Untagged, Value
from postier.imap.selected import RECENT, flag_atoms
from postier.store.interface import MessageState
from postier.types import FlagOp, ModSeq, UidSet, normalize_flags

__all__ = ["handle_store"]

_FEW = 200  # up to this many unchanged messages, read their records; beyond, all states


async def handle_store(ctx: Context, tag: str, command: Store) -> Tagged:
    messages = select_messages(ctx, command.sequence, uid=command.uid)
    require_writable(ctx)
    if command.unchanged_since is not None:
        await ctx.enable_condstore()
    selection = ctx.selected
    view = selection.view
    flags = normalize_flags(command.flags) - {RECENT}
    unchanged_since = None if command.unchanged_since is None else ModSeq(
        command.unchanged_since)
    changed: dict[int, MessageState] = {}
    conflicts: set[int] = set()
    for uids in spans(messages):
        result = await ctx.store.set_flags(ctx.account, selection.mailbox.id, uids,
                                           command.operation, flags, unchanged_since)
        conflicts.update(result.conflicts)
        for state in result.changed:
            view.note_own_flags(state.uid, state.modseq)
            changed[state.uid] = state
    if command.silent:
        reported = dict(changed) if ctx.condstore else {}
    else:
        reported = await _unchanged_states(
            ctx, [(s, u) for s, u in messages if u not in changed and u not in conflicts])
        reported.update(changed)
    if command.operation is not FlagOp.REMOVE:
        view.learn_keywords(flags)
    # A new keyword: FLAGS and PERMANENTFLAGS before the FETCHes that show it (as Dovecot).
    await ctx.send(*view.take_flags_change())
    for seq, uid in messages:
        found = reported.get(uid)
        if found is None:
            continue  # conflicting, or expunged meanwhile (the EXPUNGE comes later)
        view.note_own_flags(uid, found.modseq)
        await ctx.send(_fetch(ctx, command, seq, found))
    if conflicts:
        numbers = conflicts if command.uid else {
            seq for seq, uid in messages if uid in conflicts}
        return Tagged(tag, Status.OK, "conditional STORE failed for some messages",
                      ModifiedCode(UidSet.of(numbers)))
    return Tagged(tag, Status.OK, "STORE completed")


def _fetch(ctx: Context, command: Store, seq: int, state: MessageState) -> Untagged:
    items: list[Value] = []
    if command.uid or ctx.condstore:
        items += [Atom("UID"), state.uid]
    if ctx.condstore:
        items += [Atom("MODSEQ"), (state.modseq,)]
    if not command.silent:
        recent = not ctx.rev2 and ctx.view.is_recent(state.uid)
        items += [Atom("FLAGS"), flag_atoms(state.flags, recent=recent)]
    return Untagged((seq, Atom("FETCH"), tuple(items)))


async def _unchanged_states(ctx: Context,
                            messages: list[tuple[int, int]]) -> dict[int, MessageState]:
    """Current flags of messages the STORE did not change: a few records, or every state."""
    if len(messages) <= _FEW:
        return {uid: MessageState(r.uid, r.modseq, r.flags)
                for uid, r in (await load_records(ctx, messages)).items()}
    wanted = {uid for _seq, uid in messages}
    states = await ctx.store.message_states(ctx.account, ctx.selected.mailbox.id)
    return {s.uid: s for s in states if s.uid in wanted}
