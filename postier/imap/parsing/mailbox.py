"""Grammar of the mailbox commands: SELECT/EXAMINE, CREATE, DELETE, RENAME, (UN)SUBSCRIBE,
LIST, LSUB, STATUS, NOTIFY and the QUOTA commands.

How this works
--------------
Each ``parse_*`` function starts after the command name and returns the command. Extensions
parsed here: CONDSTORE/QRESYNC select parameters (RFC 7162 §3.1.8, §3.2.5), CREATE USE
(RFC 6154), LIST-EXTENDED selection/return options (RFC 5258 §3) with LIST-STATUS (RFC 5819)
and SPECIAL-USE (RFC 6154), NOTIFY (RFC 5465 §8) and QUOTA (RFC 9208). Unknown options are
BAD, as RFC 4466 and RFC 5258 §3 ask; which known options the server advertises is the
session's business.
"""

from __future__ import annotations

from typing import TypeVar

from postier.imap.commands import (
    Create,
    Delete,
    Examine,
    GetQuota,
    GetQuotaRoot,
    List,
    ListReturn,
    ListSelection,
    Lsub,
    Notify,
    NotifyEvent,
    NotifyFilter,
    NotifyGroup,
    QResync,
    Rename,
    Select,
    SequenceSet,
    SetQuota,
    Status,
    StatusItem,
    Subscribe,
    Unsubscribe,
)
from postier.imap.parsing.message import fetch_item
from postier.imap.parsing.reader import ATOM_CHARS, ParseError, Reader
from postier.types import SpecialUse

__all__ = [
    "parse_create",
    "parse_delete",
    "parse_examine",
    "parse_getquota",
    "parse_getquotaroot",
    "parse_list",
    "parse_lsub",
    "parse_notify",
    "parse_rename",
    "parse_select",
    "parse_setquota",
    "parse_status",
    "parse_subscribe",
    "parse_unsubscribe",
]

_SPECIAL_USE = {use.value.lower(): use.value for use in SpecialUse}
_EVENTS = {name.lower(): name for name in (
    "MessageNew", "MessageExpunge", "FlagChange", "AnnotationChange", "MailboxName",
    "SubscriptionChange", "MailboxMetadataChange", "ServerMetadataChange")}  # fmt: skip
_MESSAGE_EVENTS = frozenset({"MessageNew", "MessageExpunge", "FlagChange", "AnnotationChange"})


def _mailbox_argument(r: Reader) -> str:
    r.sp()
    return r.mailbox()


def parse_select(r: Reader) -> Select:
    mailbox = _mailbox_argument(r)
    return Select(mailbox, *_select_parameters(r))


def parse_examine(r: Reader) -> Examine:
    mailbox = _mailbox_argument(r)
    return Examine(mailbox, *_select_parameters(r))


def _select_parameters(r: Reader) -> tuple[bool, QResync | None]:
    condstore, qresync = False, None
    if not r.accept(" "):
        return condstore, qresync
    r.open()
    while True:
        name = r.keyword("select parameter")
        if name == "CONDSTORE" and not condstore:
            condstore = True
        elif name == "QRESYNC" and qresync is None:
            r.sp()
            qresync = _qresync(r)
        else:
            raise ParseError(f"unexpected select parameter {name}")
        if r.close():
            return condstore, qresync


def _qresync(r: Reader) -> QResync:
    """``(uidvalidity SP modseq [SP known-uids] [SP (known-seqs SP known-uids)])``."""
    r.open()
    uidvalidity = r.number(nonzero=True)
    r.sp()
    modseq = r.number64(nonzero=True)
    known_uids: SequenceSet | None = None
    match: tuple[SequenceSet, SequenceSet] | tuple[None, None] = (None, None)
    if r.accept(" "):
        if r.peek_is("("):
            match = _sequence_match(r)
        else:
            known_uids = r.sequence_set(star=False, saved=False)
            if r.accept(" "):
                match = _sequence_match(r)
    r.expect(")")
    return QResync(uidvalidity, modseq, known_uids, *match)


def _sequence_match(r: Reader) -> tuple[SequenceSet, SequenceSet]:
    r.open()
    sequences = r.sequence_set(star=False, saved=False)
    r.sp()
    uids = r.sequence_set(star=False, saved=False)
    r.expect(")")
    return sequences, uids


def parse_create(r: Reader) -> Create:
    mailbox = _mailbox_argument(r)
    uses: list[str] = []
    if r.accept(" "):
        r.open()
        if r.keyword("create parameter") != "USE":
            raise ParseError("unknown create parameter")
        r.sp()
        r.open()
        if not r.accept(")"):
            while True:
                r.expect("\\")
                name = "\\" + r.atom("special-use attribute")
                uses.append(_SPECIAL_USE.get(name.lower(), name))
                if r.close():
                    break
        r.expect(")")
    return Create(mailbox, tuple(uses))


def parse_delete(r: Reader) -> Delete:
    return Delete(_mailbox_argument(r))


def parse_subscribe(r: Reader) -> Subscribe:
    return Subscribe(_mailbox_argument(r))


def parse_unsubscribe(r: Reader) -> Unsubscribe:
    return Unsubscribe(_mailbox_argument(r))


def parse_rename(r: Reader) -> Rename:
    mailbox = _mailbox_argument(r)
    return Rename(mailbox, _mailbox_argument(r))


def parse_list(r: Reader) -> List:
    r.sp()
    extended = r.peek_is("(")
    selection: set[ListSelection] = set()
    if extended:
        r.open()
        if not r.accept(")"):
            while True:
                selection.add(_option(ListSelection, r.keyword("selection option")))
                if r.close():
                    break
        r.sp()
        base = selection - {ListSelection.RECURSIVEMATCH, ListSelection.REMOTE}
        if ListSelection.RECURSIVEMATCH in selection and not base:
            raise ParseError("RECURSIVEMATCH needs another selection option")  # RFC 5258 §3.1
    reference = r.mailbox()
    r.sp()
    if r.peek_is("("):
        extended = True
        r.open()
        patterns = [r.list_mailbox()]
        while not r.close():
            patterns.append(r.list_mailbox())
    else:
        patterns = [r.list_mailbox()]
    returns: set[ListReturn] = set()
    status_items: tuple[StatusItem, ...] | None = None
    if r.accept(" "):
        if r.keyword("RETURN") != "RETURN":
            raise ParseError("expected RETURN")
        extended = True
        r.sp()
        r.open()
        if not r.accept(")"):
            while True:
                name = r.keyword("return option")
                if name == "STATUS" and status_items is None:
                    r.sp()
                    status_items = _status_items(r)
                else:
                    returns.add(_option(ListReturn, name))
                if r.close():
                    break
    return List(reference, tuple(patterns), frozenset(selection), frozenset(returns),
                status_items, extended)  # fmt: skip


_Option = TypeVar("_Option", ListSelection, ListReturn, StatusItem)


def _option(kind: type[_Option], name: str) -> _Option:
    try:
        return kind(name)
    except ValueError:
        raise ParseError(f"unknown option {name}") from None


def parse_lsub(r: Reader) -> Lsub:
    reference = _mailbox_argument(r)
    r.sp()
    return Lsub(reference, r.list_mailbox())


def parse_status(r: Reader) -> Status:
    mailbox = _mailbox_argument(r)
    r.sp()
    return Status(mailbox, _status_items(r))


def _status_items(r: Reader) -> tuple[StatusItem, ...]:
    r.open()
    items = [_option(StatusItem, r.keyword("status item"))]
    while not r.close():
        items.append(_option(StatusItem, r.keyword("status item")))
    return tuple(items)


def parse_notify(r: Reader) -> Notify:
    """``NOTIFY NONE`` or ``NOTIFY SET [STATUS] 1*(SP event-group)`` (RFC 5465 §8)."""
    r.sp()
    word = r.keyword("NONE or SET")
    if word == "NONE":
        return Notify(None)
    if word != "SET":
        raise ParseError("expected NONE or SET")
    r.sp()
    status = r.accept_keyword("STATUS")
    groups = [_event_group(r)]
    while r.accept(" "):
        groups.append(_event_group(r))
    filters = {group.filter for group in groups}
    if {NotifyFilter.SELECTED, NotifyFilter.SELECTED_DELAYED} <= filters:
        raise ParseError("only one of SELECTED and SELECTED-DELAYED")  # RFC 5465 §6.1
    return Notify(tuple(groups), status)


def _event_group(r: Reader) -> NotifyGroup:
    r.open()
    word = r.take(ATOM_CHARS).decode("ascii").lower()
    try:
        filter_ = NotifyFilter(word)
    except ValueError:
        raise ParseError(f"unknown mailbox filter {word}") from None
    mailboxes: tuple[str, ...] = ()
    if filter_ in (NotifyFilter.SUBTREE, NotifyFilter.MAILBOXES):
        r.sp()
        mailboxes = tuple(r.astring_list()) if r.peek_is("(") else (r.mailbox(),)
    r.sp()
    events: list[NotifyEvent] = []
    if r.accept("("):
        events.append(_event(r))
        while not r.close():
            events.append(_event(r))
    elif r.keyword("events") != "NONE":
        raise ParseError("expected event list or NONE")
    r.expect(")")
    _check_events(filter_, events)
    return NotifyGroup(filter_, mailboxes, tuple(events))


def _event(r: Reader) -> NotifyEvent:
    sent = r.atom("event")
    name = _EVENTS.get(sent.lower(), sent)
    if name != "MessageNew":
        return NotifyEvent(name)
    mark = r.mark()
    if not (r.accept(" ") and r.accept("(")):
        r.reset(mark)
        return NotifyEvent(name)
    items = [fetch_item(r)]
    while not r.close():
        items.append(fetch_item(r))
    return NotifyEvent(name, tuple(items))


def _check_events(filter_: NotifyFilter, events: list[NotifyEvent]) -> None:
    """Combinations RFC 5465 §5 and §6.1 forbid; unknown events are left to the session,
    which answers ``NO [BADEVENT]``."""
    names = {event.name for event in events}
    pair = {"MessageNew", "MessageExpunge"}
    if names & pair and not pair <= names:
        raise ParseError("MessageNew and MessageExpunge go together")
    if names & {"FlagChange", "AnnotationChange"} and not pair <= names:
        raise ParseError("FlagChange needs MessageNew and MessageExpunge")
    selected = filter_ in (NotifyFilter.SELECTED, NotifyFilter.SELECTED_DELAYED)
    if selected and names - _MESSAGE_EVENTS:
        raise ParseError("only message events apply to the selected mailbox")
    if not selected and any(event.fetch_items for event in events):
        raise ParseError("fetch attributes only apply to the selected mailbox")


def parse_getquota(r: Reader) -> GetQuota:
    r.sp()
    return GetQuota(r.astring("quota root"))


def parse_getquotaroot(r: Reader) -> GetQuotaRoot:
    return GetQuotaRoot(_mailbox_argument(r))


def parse_setquota(r: Reader) -> SetQuota:
    r.sp()
    root = r.astring("quota root")
    r.sp()
    r.open()
    limits: list[tuple[str, int]] = []
    if not r.accept(")"):
        while True:
            resource = r.keyword("resource name")
            r.sp()
            limits.append((resource, r.number64()))
            if r.close():
                break
    return SetQuota(root, tuple(limits))
