"""SelectedView: one session's view of its selected mailbox, as a pure model.

How this works
--------------
The view is what the client has been told: the UIDs in sequence-number order (``seq`` n is
``uids[n - 1]``), which of them are \\Recent for this session, and the saved SEARCHRES result.
It never reads the store: the session feeds it

* the snapshot taken at SELECT (UIDs and the highest MODSEQ in it, the *baseline*),
* changes committed by anyone (its own session included), converted to :data:`ViewChange`
  values, with :meth:`SelectedView.apply` — they only become *pending*;
* the session's own expunges (:meth:`expunge_now`, for EXPUNGE and MOVE, which must report
  them before their tagged OK) and own flag changes (:meth:`note_own_flags`).

and asks :meth:`take_updates` at the points where the RFCs let untagged updates go out: the
end of a command and during IDLE. Pending changes become responses in a fixed order:

1. ``n EXPUNGE`` for messages removed elsewhere, highest sequence number first, only when the
   caller allows it. RFC 9051 §7.5.1 forbids EXPUNGE while answering FETCH, STORE or SEARCH
   (and so SORT and THREAD), because the client cannot tell which numbers the response used;
   until then the message keeps its number, and a FETCH of it simply returns nothing.
2. ``n EXISTS`` (and ``n RECENT`` for IMAP4rev1) when messages arrived. EXISTS counts the
   not-yet-expunged messages too, so the client's numbering never shifts except through an
   EXPUNGE it has seen (RFC 9051 §7.4.1).
3. ``* FLAGS (...)`` and ``* OK [PERMANENTFLAGS (...)]`` when a change brought a keyword the
   client was not told of (at SELECT or since): RFC 9051 §7.3.5 lets FLAGS go out whenever the
   set changes, and Dovecot sends both before the FETCH that shows the keyword.
4. ``n FETCH (UID u FLAGS (...))`` for flag changes, once per message, with its latest flags
   (and MODSEQ when CONDSTORE is on, RFC 7162 §3.1.4).

Duplicates are suppressed by MODSEQ, which the store allocates in commit order: a change at or
below the baseline is already in the snapshot; a flag change at or below what the session
itself reported (``note_own_flags``, after its STORE) was already sent as a solicited FETCH; a
message added and removed before the client heard of it is never mentioned. Expunges are keyed
by UID, so the session's own EXPUNGE, echoed by the change hub, is a no-op.

\\Recent (IMAP4rev1 only, RFC 3501 §2.3.2): the session that SELECTs claims the recent
messages in the store; every UID of the snapshot at or above the first one it claimed is
recent in this view. Messages arriving later are claimed again by the session just before
it announces them (:meth:`claim_new`), so each is recent in exactly one session.
When the change stream overflowed (the session fell too far behind), :meth:`resync` rebuilds
the pending state from a fresh list of message states, as if each difference had arrived as a
change. The view knows nothing of sockets, the store or the clock.
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from postier.imap.commands import STAR, SequenceSet
from postier.imap.responses import (
    Atom,
    PermanentFlagsCode,
    Response,
    Status,
    Untagged,
    UntaggedStatus,
    Value,
)
from postier.imap.wire import ATOM_CHARS
from postier.types import SYSTEM_FLAGS, UidSet

__all__ = [
    "FlagsUpdated",
    "KnownMessage",
    "MailboxGone",
    "MessageAppeared",
    "MessagesRemoved",
    "SelectedView",
    "SequenceError",
    "ViewChange",
    "flag_atoms",
    "vanished_response",
]

RECENT = "\\Recent"
_SYSTEM_ORDER = {flag: index for index, flag in enumerate(SYSTEM_FLAGS)}


@dataclass(frozen=True, slots=True)
class KnownMessage:
    uid: int
    modseq: int
    flags: frozenset[str]


@dataclass(frozen=True, slots=True)
class MessageAppeared:
    uid: int
    modseq: int
    flags: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class FlagsUpdated:
    uid: int
    modseq: int
    flags: frozenset[str]


@dataclass(frozen=True, slots=True)
class MessagesRemoved:
    uids: tuple[int, ...]
    modseq: int


@dataclass(frozen=True, slots=True)
class MailboxGone:
    """The selected mailbox was deleted (by another session)."""


ViewChange = MessageAppeared | FlagsUpdated | MessagesRemoved | MailboxGone


class SequenceError(ValueError):
    """A message sequence number past the end of the mailbox (RFC 9051 §7.5.1: BAD)."""


def _is_atom(flag: str) -> bool:
    body = flag[1:] if flag.startswith("\\") else flag
    return bool(body) and all(ord(c) in ATOM_CHARS for c in body)


def _is_keyword(flag: str) -> bool:
    return not flag.startswith("\\") and _is_atom(flag)


def flag_atoms(flags: Iterable[str], *, recent: bool = False) -> tuple[Atom, ...]:
    """A flag list for the wire: system flags first, as ``imap/fetch.py`` orders them; keywords
    that are not atoms cannot be written and are left out."""
    names = sorted((f for f in flags if _is_atom(f) and f != RECENT),
                   key=lambda f: (_SYSTEM_ORDER.get(f, len(_SYSTEM_ORDER)), f))
    if recent:
        names.append(RECENT)
    return tuple(Atom(name) for name in names)


class SelectedView:
    def __init__(self, mailbox_id: int, uidvalidity: int, uids: Sequence[int], *,
                 baseline_modseq: int, readonly: bool, recent_from: int | None,
                 highest_modseq: int = 0, keywords: Iterable[str] = ()) -> None:
        self.mailbox_id = mailbox_id
        self.uidvalidity = uidvalidity
        self.readonly = readonly
        self.recent_from = recent_from  # None: \Recent is not tracked (IMAP4rev2)
        self.saved: tuple[int, ...] = ()  # SEARCHRES "$" (RFC 5182), as UIDs
        self.gone = False
        # 4 bytes per message rather than a list's 8-byte pointer to a 28-byte int.
        self._uids = array("I", sorted(uids))
        self._snapshot_last = self._uids[-1] if self._uids else 0
        self._recent_new: set[int] = set()  # arrived after SELECT and claimed by this session
        self._baseline = baseline_modseq
        # HIGHESTMODSEQ as far as this view goes (RFC 7162 §3.1.2.1): at least the snapshot's,
        # then every change applied.
        self.highest_modseq = max(baseline_modseq, highest_modseq)
        self._new: list[int] = []  # arrived, not yet announced with EXISTS
        self._removed: set[int] = set()  # still numbered here, expunged in the store
        self._flags: dict[int, tuple[int, frozenset[str]]] = {}  # uid → (modseq, flags)
        self._own: dict[int, int] = {}  # uid → MODSEQ of a flag change this session reported
        # The keywords the client was told of in FLAGS; a new one sends FLAGS again.
        self._keywords: set[str] = {k for k in keywords if _is_keyword(k)}
        self._keywords_changed = False

    # -- FLAGS and PERMANENTFLAGS ---------------------------------------------------------

    def flags_responses(self) -> tuple[Response, Response]:
        """``* FLAGS (...)`` and ``* OK [PERMANENTFLAGS (...)]`` for the known keywords."""
        flags = flag_atoms(SYSTEM_FLAGS + tuple(self._keywords))
        permanent = () if self.readonly else (*(a.text for a in flags), "\\*")
        return (Untagged((Atom("FLAGS"), flags)),
                UntaggedStatus(Status.OK, "flags permitted", PermanentFlagsCode(permanent)))

    def learn_keywords(self, flags: Iterable[str]) -> None:
        """Flags seen on a message; a keyword not yet in FLAGS makes the next updates (or
        :meth:`take_flags_change`) send FLAGS and PERMANENTFLAGS again (RFC 9051 §7.3.5)."""
        for flag in flags:
            if flag not in self._keywords and _is_keyword(flag):
                self._keywords.add(flag)
                self._keywords_changed = True

    def take_flags_change(self) -> list[Response]:
        """FLAGS and PERMANENTFLAGS if the keyword set grew since they were last sent."""
        if not self._keywords_changed:
            return []
        self._keywords_changed = False
        return list(self.flags_responses())

    # -- numbering ------------------------------------------------------------------------

    @property
    def exists(self) -> int:
        return len(self._uids)

    @property
    def recent_count(self) -> int:
        if self.recent_from is None:
            return 0
        in_snapshot = (bisect.bisect_right(self._uids, self._snapshot_last)
                       - bisect.bisect_left(self._uids, self.recent_from))
        return max(in_snapshot, 0) + len(self._recent_new)

    def uid_at(self, seq: int) -> int:
        return self._uids[seq - 1]

    def seq_of(self, uid: int) -> int | None:
        index = bisect.bisect_left(self._uids, uid)
        if index < len(self._uids) and self._uids[index] == uid:
            return index + 1
        return None

    def is_recent(self, uid: int) -> bool:
        if self.recent_from is None:
            return False
        if uid <= self._snapshot_last:
            return uid >= self.recent_from
        return uid in self._recent_new

    @property
    def has_new(self) -> bool:
        """Messages arrived that the next :meth:`take_updates` announces."""
        return bool(self._new)

    @property
    def newest_pending(self) -> int:
        """The highest UID the next :meth:`take_updates` announces (0: none)."""
        return self._new[-1] if self._new else 0

    def claim_new(self, first_recent: int) -> None:
        """The pending new messages from UID ``first_recent`` on are \\Recent here: the
        session's claim in the store returned that UID (RFC 3501 §2.3.2)."""
        if self.recent_from is not None:
            self._recent_new.update(uid for uid in self._new if uid >= first_recent)

    def is_removed(self, uid: int) -> bool:
        """Expunged in the store; the client still numbers it until it hears the EXPUNGE."""
        return uid in self._removed

    @property
    def numbered(self) -> Sequence[int]:
        """The UIDs the client numbers, ascending (do not modify)."""
        return self._uids

    @property
    def last_uid(self) -> int:
        return self._uids[-1] if self._uids else 0

    def all_messages(self) -> list[tuple[int, int]]:
        return list(enumerate(self._uids, 1))

    def messages(self, sequence: SequenceSet, *, uid: bool) -> list[tuple[int, int]]:
        """(seq, uid) pairs a sequence set names, in sequence order.

        Sequence numbers past the end raise :class:`SequenceError`, except through ``*``: a
        client that asks for ``1:*`` of an empty mailbox gets nothing rather than BAD. UIDs
        that do not exist are ignored (RFC 9051 §6.4.8); ``n:*`` always includes the last
        message. ``$`` is the saved search result.
        """
        if sequence.saved:
            return [(seq, u) for u in self.saved if (seq := self.seq_of(u)) is not None]
        indexes: set[int] = set()
        if uid:
            largest = self.last_uid
            for r in sequence.ranges:
                first = largest if r.first is STAR else r.first
                last = largest if r.last is STAR else r.last
                assert isinstance(first, int) and isinstance(last, int)
                low, high = min(first, last), max(first, last)
                start = bisect.bisect_left(self._uids, low)
                end = bisect.bisect_right(self._uids, high)
                indexes.update(range(start, end))
        else:
            count = len(self._uids)
            for r in sequence.ranges:
                if STAR in (r.first, r.last) and count == 0:
                    continue
                if any(isinstance(end, int) and end > count for end in (r.first, r.last)):
                    raise SequenceError("invalid message sequence number")
                first = count if r.first is STAR else r.first
                last = count if r.last is STAR else r.last
                assert isinstance(first, int) and isinstance(last, int)
                low, high = max(min(first, last), 1), max(first, last)
                indexes.update(range(low - 1, high))
        return [(index + 1, self._uids[index]) for index in sorted(indexes)]

    # -- changes in -----------------------------------------------------------------------

    def apply(self, changes: Iterable[ViewChange]) -> None:
        for change in changes:
            match change:
                case MessageAppeared(uid, modseq, flags):
                    self._note_modseq(modseq)
                    self.learn_keywords(flags)
                    if self.seq_of(uid) is None and uid not in self._new:
                        if not self._new or uid > self._new[-1]:
                            self._new.append(uid)
                        else:
                            bisect.insort(self._new, uid)
                case FlagsUpdated(uid, modseq, flags):
                    self._note_modseq(modseq)
                    self.learn_keywords(flags)
                    if modseq <= self._baseline or uid in self._removed:
                        continue
                    own = self._own.get(uid)
                    if own is not None and modseq <= own:
                        if modseq == own:
                            del self._own[uid]
                        continue
                    known = self._flags.get(uid)
                    if known is None or known[0] < modseq:
                        self._flags[uid] = (modseq, flags)
                case MessagesRemoved(uids, modseq):
                    self._note_modseq(modseq)
                    for uid in uids:
                        self._flags.pop(uid, None)
                        self._own.pop(uid, None)
                        index = bisect.bisect_left(self._new, uid)
                        if index < len(self._new) and self._new[index] == uid:
                            del self._new[index]
                        elif self.seq_of(uid) is not None:
                            self._removed.add(uid)
                case MailboxGone():
                    self.gone = True

    def _note_modseq(self, modseq: int) -> None:
        self.highest_modseq = max(self.highest_modseq, modseq)

    def note_own_flags(self, uid: int, modseq: int) -> None:
        """The session told the client these flags itself (STORE, FETCH setting \\Seen)."""
        self._own[uid] = max(modseq, self._own.get(uid, 0))
        known = self._flags.get(uid)
        if known is not None and known[0] <= modseq:
            del self._flags[uid]

    def resync(self, messages: Sequence[KnownMessage]) -> None:
        """Rebuild pending changes from the store's current states (after an overflow)."""
        present = {m.uid for m in messages}
        for uid in self._uids:
            if uid not in present:
                self._removed.add(uid)
        self._new = [uid for uid in self._new if uid in present]
        last = max(self.last_uid, self._new[-1] if self._new else 0)
        for message in messages:
            self.learn_keywords(message.flags)
            if message.uid > last:
                self._new.append(message.uid)  # the client will FETCH what it needs
            elif message.modseq > self.highest_modseq:
                self._flags[message.uid] = (message.modseq, message.flags)
        self._new.sort()
        if messages:
            self.highest_modseq = max(self.highest_modseq, max(m.modseq for m in messages))

    # -- responses out --------------------------------------------------------------------

    def expunge_now(self, uids: Iterable[int], *, vanished: bool = False) -> list[Response]:
        """EXPUNGE (or, after ENABLE QRESYNC, VANISHED) responses for messages this session
        removed itself."""
        return self._expunge({uid for uid in uids if self.seq_of(uid) is not None},
                             vanished=vanished)

    def take_updates(self, *, allow_expunge: bool, rev2: bool, condstore: bool = False,
                     vanished: bool = False) -> list[Response]:
        """The pending changes as responses; ``vanished``: QRESYNC is enabled, so removals
        are one ``* VANISHED uids`` instead of EXPUNGEs (RFC 7162 §3.2.10), held back at the
        same moments."""
        out: list[Response] = []
        if allow_expunge and self._removed:
            out += self._expunge(self._removed, vanished=vanished)
        out += self.take_flags_change()  # before the FETCHes that show a new keyword
        if self._new:
            in_order = not self._uids or self._uids[-1] < self._new[0]
            self._uids.extend(self._new)
            if not in_order:
                self._uids = array("I", sorted(self._uids))  # not expected: UIDs only grow
            self._new = []
            out.append(Untagged((len(self._uids), Atom("EXISTS"))))
            if not rev2:
                out.append(Untagged((self.recent_count, Atom("RECENT"))))
        if self._flags:
            for uid in sorted(self._flags):
                modseq, flags = self._flags[uid]
                seq = self.seq_of(uid)
                if seq is None or uid in self._removed:
                    continue
                items: list[Value] = [Atom("UID"), uid, Atom("FLAGS"),
                                       flag_atoms(flags, recent=not rev2 and self.is_recent(uid))]
                if condstore:
                    items += [Atom("MODSEQ"), (modseq,)]
                out.append(Untagged((seq, Atom("FETCH"), tuple(items))))
            self._flags = {}
        return out

    def _expunge(self, uids: set[int], *, vanished: bool = False) -> list[Response]:
        seqs = sorted((seq for uid in uids if (seq := self.seq_of(uid)) is not None),
                      reverse=True)
        gone = [self._uids[seq - 1] for seq in seqs]
        if len(seqs) > 64:
            self._uids = array("I", (u for u in self._uids if u not in uids))
        else:
            for seq in seqs:
                del self._uids[seq - 1]
        self._removed -= uids
        self._recent_new -= uids
        for uid in uids:
            self._flags.pop(uid, None)
            self._own.pop(uid, None)
        self.saved = tuple(u for u in self.saved if u not in uids) if self.saved else ()
        if vanished:
            return [vanished_response(gone)] if gone else []
        return [Untagged((seq, Atom("EXPUNGE"))) for seq in seqs]


def vanished_response(uids: Iterable[int] | UidSet, *, earlier: bool = False) -> Untagged:
    """``* VANISHED [(EARLIER)] uid-set`` (RFC 7162 §3.2.10)."""
    numbers = uids if isinstance(uids, UidSet) else UidSet.of(uids)
    if earlier:
        return Untagged((Atom("VANISHED"), (Atom("EARLIER"),), Atom(str(numbers))))
    return Untagged((Atom("VANISHED"), Atom(str(numbers))))
