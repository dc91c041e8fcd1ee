"""Selection: SELECT, EXAMINE, CLOSE, UNSELECT, EXPUNGE, UID EXPUNGE.

How this works
--------------
SELECT subscribes to the account's changes *before* it reads the message list, so nothing
committed in between is lost: changes already in the snapshot are recognised by MODSEQ and
dropped by the view (see ``selected.py``). SELECT, not EXAMINE, claims the \\Recent messages
(RFC 3501 §6.3.1). The answer follows RFC 9051 §6.3.2 (and RFC 3501 §6.3.1 for IMAP4rev1):
FLAGS, EXISTS, [RECENT], [UNSEEN n], PERMANENTFLAGS, UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ
(RFC 7162 §3.1.2.1), [LIST], then
``OK [READ-WRITE]`` or ``OK [READ-ONLY]``. Selecting while a mailbox is selected first closes it
without expunging and says so with ``OK [CLOSED]``; if the new SELECT fails, no mailbox stays
selected.

QRESYNC (RFC 7162 §3.2.5), after ENABLE QRESYNC: when the client's UIDVALIDITY still holds,
the answer adds, before the tagged OK, ``* VANISHED (EARLIER) uids`` — the known UIDs expunged
since the client's MODSEQ, or, when the store's expunge history no longer reaches back, every
known UID not in the mailbox now (``qresync.py``) — then ``* n FETCH (UID u FLAGS (...) MODSEQ
(m))`` for each known message changed since. The seq-match data narrows the full answer
when the history is too short (``qresync.py``); with the history the answer is exact without
it. A different UIDVALIDITY means a full resync: the parameter
is ignored (RFC 7162 §3.2.5.2).

EXPUNGE and UID EXPUNGE (RFC 4315 §2.1) report their own removals at once (VANISHED after
ENABLE QRESYNC, RFC 7162 §3.2.10); CLOSE removes
\\Deleted messages silently (RFC 9051 §6.4.1), UNSELECT does not (RFC 3691).
"""

from __future__ import annotations

from collections.abc import Sequence

from postier.imap.commands import (
    Close,
    Examine,
    Expunge,
    QResync,
    Select,
    UidExpunge,
    Unselect,
)
from postier.imap.context import Context, Selection, SessionState
from postier.imap.errors import bad
from postier.imap.handlers.common import (
    mailbox_name,
    require_writable,
    select_messages,
    spans,
)
from postier.imap.qresync import (
    above,
    clip,
    contains,
    intersect,
    matched_through,
    missing,
    uid_ranges,
)
from postier.imap.responses import (
    AString,
    Atom,
    HighestModSeqCode,
    Response,
    SimpleCode,
    Status,
    Tagged,
    UidNextCode,
    UidValidityCode,
    UnseenCode,
    Untagged,
    UntaggedStatus,
)
from postier.imap.selected import SelectedView, flag_atoms, vanished_response
from postier.store.interface import MessageState
from postier.types import SEEN, Mailbox, ModSeq, UidSet

__all__ = [
    "handle_close", "handle_examine", "handle_expunge", "handle_select", "handle_uid_expunge",
    "handle_unselect",
]  # fmt: skip


async def handle_select(ctx: Context, tag: str, command: Select) -> Tagged:
    _parameters(ctx, command)
    return await _open(ctx, tag, command.mailbox, readonly=False, qresync=command.qresync)


async def handle_examine(ctx: Context, tag: str, command: Examine) -> Tagged:
    _parameters(ctx, command)
    return await _open(ctx, tag, command.mailbox, readonly=True, qresync=command.qresync)


def _parameters(ctx: Context, command: Select | Examine) -> None:
    if command.qresync is not None and not ctx.qresync:
        raise bad("QRESYNC parameter without ENABLE QRESYNC")  # RFC 7162 §3.2.5
    if command.condstore:
        ctx.condstore = True  # RFC 7162 §3.1.8; this SELECT reports HIGHESTMODSEQ itself


async def _open(ctx: Context, tag: str, client_name: str, *, readonly: bool,
                qresync: QResync | None = None) -> Tagged:
    name = mailbox_name(ctx, client_name)
    if ctx.selection is not None:
        ctx.close_selection()
        await ctx.send(UntaggedStatus(Status.OK, "previous mailbox closed", SimpleCode.CLOSED))
    # Every change up to this HIGHESTMODSEQ is in the snapshot read below (RFC 7162 §3.1.2.1).
    mailbox = await ctx.store.get_mailbox(ctx.account, name)
    highest_modseq = mailbox.highest_modseq
    subscription = ctx.store.hub.subscribe(ctx.account)
    try:
        first_recent = None
        if not readonly and not ctx.rev2:
            first_recent = await ctx.store.claim_recent(ctx.account, mailbox.id)
        states = await ctx.store.message_states(ctx.account, mailbox.id)
        mailbox = await ctx.store.get_mailbox_by_id(ctx.account, mailbox.id)
        if readonly and not ctx.rev2:
            status = await ctx.store.status(ctx.account, mailbox.id)
            recent = status.recent
            first_recent = (states[-recent].uid if 0 < recent <= len(states)
                            else mailbox.uidnext)
    except BaseException:
        subscription.close()
        raise
    keywords = {flag for s in states for flag in s.flags if not flag.startswith("\\")}
    view = SelectedView(mailbox.id, mailbox.uidvalidity, [s.uid for s in states],
                        baseline_modseq=max((s.modseq for s in states), default=0),
                        readonly=readonly, recent_from=first_recent,
                        highest_modseq=highest_modseq, keywords=keywords)
    ctx.selection = Selection(mailbox, view, subscription)
    ctx.state = SessionState.SELECTED

    flags_response, permanent_flags = view.flags_responses()
    responses: list[Response] = [
        flags_response,
        Untagged((view.exists, Atom("EXISTS"))),
    ]
    if not ctx.rev2:
        responses.append(Untagged((view.recent_count, Atom("RECENT"))))
        first_unseen = next((i for i, s in enumerate(states, 1) if SEEN not in s.flags), None)
        if first_unseen is not None:
            responses.append(UntaggedStatus(Status.OK, "first unseen",
                                             UnseenCode(first_unseen)))
    responses += [
        permanent_flags,
        UntaggedStatus(Status.OK, "UIDs valid", UidValidityCode(mailbox.uidvalidity)),
        UntaggedStatus(Status.OK, "predicted next UID", UidNextCode(mailbox.uidnext)),
        UntaggedStatus(Status.OK, "highest mod-sequence",
                       HighestModSeqCode(view.highest_modseq)),
    ]
    if ctx.rev2:
        # RFC 9051 §6.3.2: the LIST response gives the mailbox's canonical name.
        responses.append(Untagged((Atom("LIST"), (), "/", AString(ctx.names.encode(
            mailbox.name)))))
    await ctx.send(*responses)
    if qresync is not None and qresync.uidvalidity == mailbox.uidvalidity:
        await _resynchronise(ctx, qresync, mailbox, states)
    if readonly:
        return Tagged(tag, Status.OK, "EXAMINE completed", SimpleCode.READ_ONLY)
    return Tagged(tag, Status.OK, "SELECT completed", SimpleCode.READ_WRITE)


async def _resynchronise(ctx: Context, qresync: QResync, mailbox: Mailbox,
                         states: list[MessageState]) -> None:
    """VANISHED (EARLIER) and FETCH for what changed since the client's MODSEQ."""
    last = mailbox.uidnext - 1
    known = (clip(uid_ranges(qresync.known_uids, last), last)
             if qresync.known_uids is not None else UidSet.span(1, last))
    starts = [r.first for r in known.ranges]
    present = [s.uid for s in states]
    expunged = await ctx.store.vanished_since(ctx.account, mailbox.id, ModSeq(qresync.modseq))
    if expunged is None:
        # The history is too short: the honest answer, every known UID that is gone, from
        # above what the client's sequence match data proves it knows (RFC 7162 §3.2.5.2).
        scope = known
        if qresync.known_sequence is not None and qresync.known_sequence_uids is not None:
            scope = above(known, matched_through(qresync.known_sequence,
                                                 qresync.known_sequence_uids, present))
        vanished = missing(scope, present)
    else:
        vanished = missing(intersect(expunged, known), present)
    view = ctx.view
    if vanished:
        await ctx.send(vanished_response(vanished, earlier=True))
    for state in states:
        if state.modseq <= qresync.modseq or not contains(known, starts, state.uid):
            continue
        seq = view.seq_of(state.uid)
        if seq is None:
            continue
        recent = not ctx.rev2 and view.is_recent(state.uid)
        await ctx.send(Untagged((seq, Atom("FETCH"), (
            Atom("UID"), state.uid, Atom("FLAGS"), flag_atoms(state.flags, recent=recent),
            Atom("MODSEQ"), (state.modseq,)))))


async def handle_close(ctx: Context, tag: str, command: Close) -> Tagged:
    selection = ctx.selected
    if not selection.view.readonly:
        await ctx.store.expunge(ctx.account, selection.mailbox.id)  # silently: no EXPUNGE
    ctx.close_selection()
    return Tagged(tag, Status.OK, "CLOSE completed")


async def handle_unselect(ctx: Context, tag: str, command: Unselect) -> Tagged:
    ctx.close_selection()
    return Tagged(tag, Status.OK, "UNSELECT completed")


async def handle_expunge(ctx: Context, tag: str, command: Expunge) -> Tagged:
    return await _expunge(ctx, tag, [None])


async def handle_uid_expunge(ctx: Context, tag: str, command: UidExpunge) -> Tagged:
    return await _expunge(ctx, tag, spans(select_messages(ctx, command.uids, uid=True)))


async def _expunge(ctx: Context, tag: str, parts: Sequence[UidSet | None]) -> Tagged:
    require_writable(ctx)
    for uids in parts:
        removed = await ctx.store.expunge(ctx.account, ctx.selected.mailbox.id, uids)
        await ctx.send(*ctx.view.expunge_now(removed, vanished=ctx.qresync))
    return Tagged(tag, Status.OK, "EXPUNGE completed")
