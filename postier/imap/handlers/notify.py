"""NOTIFY (RFC 5465) and the one place that sends unsolicited changes.

How this works
--------------
Every session's changes leave through :func:`send_changes`: at the end of each command, during
IDLE, and — once NOTIFY SET is in effect — whenever a change arrives while the session waits
for the client (``Context.receive``). It sends

1. the selected mailbox's pending updates (``Context.send_updates``: EXISTS, FETCH FLAGS,
   EXPUNGE or VANISHED, at the moments RFC 9051 §7.5.1 allows), then, when the client asked
   for ``SELECTED (MessageNew (fetch-att ...))``, a FETCH of those items for each new message
   (RFC 5465 §5.2);
2. for other mailboxes, what NOTIFY asked for: one ``* STATUS name (MESSAGES UIDNEXT UNSEEN
   [HIGHESTMODSEQ])`` per mailbox whose messages were added, expunged or re-flagged
   (MessageNew, MessageExpunge, FlagChange; RFC 5465 §5.2-5.4, HIGHESTMODSEQ with CONDSTORE
   per RFC 5465 §5.3), and ``* LIST`` for MailboxName (created, deleted as ``\\NonExistent``,
   renamed with ``OLDNAME``, RFC 5465 §5.4) and SubscriptionChange (RFC 5465 §5.5).

The change hub delivers every change of the account to the NOTIFY subscription; the filters
here decide. A mailbox is matched by the first event group whose filter covers it (RFC 5465 §6:
INBOXES is INBOX, the only mailbox mail is delivered to; PERSONAL every mailbox of the account;
SUBSCRIBED, SUBTREE, MAILBOXES as named). The selected mailbox is never reported with STATUS:
its changes arrive through the selected view. Events this server cannot report (metadata,
annotations) are ``NO [BADEVENT (...)]`` (RFC 5465 §3.1). A subscription that overflowed turns
NOTIFY off with ``* OK [NOTIFICATIONOVERFLOW]`` (RFC 5465 §5.8).
"""

from __future__ import annotations

from dataclasses import dataclass

from postier.errors import NotFound
from postier.imap.commands import (
    Fetch,
    Notify,
    NotifyFilter,
    NotifyGroup,
    SequenceSet,
    StatusItem,
)
from postier.imap.context import Context
from postier.imap.errors import no
from postier.imap.handlers import fetch
from postier.imap.handlers.mailboxes import status_response
from postier.imap.responses import (
    AString,
    Atom,
    BadEventCode,
    SimpleCode,
    Status,
    Tagged,
    Untagged,
    UntaggedStatus,
    Value,
)
from postier.store.changes import (
    FlagsChanged,
    MailboxCreated,
    MailboxDeleted,
    MailboxRenamed,
    MessageAdded,
    MessagesExpunged,
    Subscription,
    SubscriptionChanged,
)
from postier.types import HIERARCHY_SEPARATOR, INBOX, MailboxId

__all__ = ["SUPPORTED_EVENTS", "NotifyState", "handle_notify", "send_changes"]

SUPPORTED_EVENTS = ("MessageNew", "MessageExpunge", "FlagChange", "MailboxName",
                    "SubscriptionChange")
_SELECTED = (NotifyFilter.SELECTED, NotifyFilter.SELECTED_DELAYED)


@dataclass(slots=True)
class NotifyState:
    groups: tuple[NotifyGroup, ...]
    subscription: Subscription

    @property
    def selected_group(self) -> NotifyGroup | None:
        return next((g for g in self.groups if g.filter in _SELECTED), None)

    @property
    def needs_subscriptions(self) -> bool:
        return any(g.filter is NotifyFilter.SUBSCRIBED for g in self.groups)

    def events_for(self, name: str, subscribed: frozenset[str]) -> frozenset[str]:
        """The events the client wants for a (non-selected) mailbox."""
        for group in self.groups:
            if group.filter in _SELECTED:
                continue
            if _matches(group, name, subscribed):
                return frozenset(event.name for event in group.events)
        return frozenset()


def _matches(group: NotifyGroup, name: str, subscribed: frozenset[str]) -> bool:
    match group.filter:
        case NotifyFilter.INBOXES:
            return name == INBOX
        case NotifyFilter.PERSONAL:
            return True
        case NotifyFilter.SUBSCRIBED:
            return name in subscribed
        case NotifyFilter.MAILBOXES:
            return name in group.mailboxes
        case NotifyFilter.SUBTREE:
            return any(name == root or name.startswith(root + HIERARCHY_SEPARATOR)
                       for root in group.mailboxes)
    return False


def _store_names(ctx: Context, groups: tuple[NotifyGroup, ...]) -> tuple[NotifyGroup, ...]:
    """Mailbox names in the groups, from the client's spelling into the store's."""
    out = []
    for group in groups:
        if group.mailboxes:
            names = tuple(ctx.names.decode(n) if n.upper() != INBOX else INBOX
                          for n in group.mailboxes)
            group = NotifyGroup(group.filter, names, group.events)
        out.append(group)
    return tuple(out)


async def handle_notify(ctx: Context, tag: str, command: Notify) -> Tagged:
    if command.groups is None:
        _stop(ctx)
        return Tagged(tag, Status.OK, "NOTIFY completed")
    unsupported = {e.name for g in command.groups for e in g.events} - set(SUPPORTED_EVENTS)
    if unsupported:
        raise no(f"unsupported events: {' '.join(sorted(unsupported))}",
                 BadEventCode(SUPPORTED_EVENTS))
    _stop(ctx)
    state = NotifyState(_store_names(ctx, command.groups), ctx.store.hub.subscribe(ctx.account))
    ctx.notify = state
    ctx.notifier = _between_commands
    if command.status:
        await _initial_status(ctx, state)
    return Tagged(tag, Status.OK, "NOTIFY completed")


def _stop(ctx: Context) -> None:
    if ctx.notify is not None:
        ctx.notify.subscription.close()
    ctx.notify = None
    ctx.notifier = None


async def _initial_status(ctx: Context, state: NotifyState) -> None:
    """NOTIFY SET STATUS: the current STATUS of every mailbox watched for message events."""
    subscribed = await _subscribed(ctx, state)
    selected = ctx.selection.mailbox.id if ctx.selection is not None else None
    for mailbox in await ctx.store.list_mailboxes(ctx.account):
        events = state.events_for(mailbox.name, subscribed)
        if mailbox.id != selected and events & {"MessageNew", "MessageExpunge", "FlagChange"}:
            await _send_status(ctx, mailbox.id)


async def _subscribed(ctx: Context, state: NotifyState) -> frozenset[str]:
    if not state.needs_subscriptions:
        return frozenset()
    return frozenset(await ctx.store.list_subscriptions(ctx.account))


async def _send_status(ctx: Context, mailbox: MailboxId) -> None:
    try:
        status = await ctx.store.status(ctx.account, mailbox)
    except NotFound:
        return
    items: tuple[StatusItem, ...] = (StatusItem.MESSAGES, StatusItem.UIDNEXT, StatusItem.UNSEEN)
    if ctx.condstore:
        items += (StatusItem.HIGHESTMODSEQ,)
    await ctx.send(status_response(ctx, status, items))


async def _between_commands(ctx: Context, no_command_in_progress: bool) -> None:
    """A change arrived while the session waited for the client (NOTIFY is on). With
    SELECTED, expunges go out at once when no command is in progress (RFC 5465 §5.1); with
    SELECTED-DELAYED or without a SELECTED group, only at the end of a command."""
    group = ctx.notify.selected_group if ctx.notify is not None else None
    allow = (no_command_in_progress and group is not None
             and group.filter is NotifyFilter.SELECTED)  # SELECTED-DELAYED: at command end
    await send_changes(ctx, allow_expunge=allow)


async def send_changes(ctx: Context, *, allow_expunge: bool) -> None:
    """Everything the client should hear about now (see the module docstring)."""
    before = ctx.selection.view.exists if ctx.selection is not None else 0
    await ctx.send_updates(allow_expunge=allow_expunge)
    state = ctx.notify
    if state is None:
        return
    group = state.selected_group
    if ctx.selection is not None and group is not None:
        items = next((e.fetch_items for e in group.events
                      if e.name == "MessageNew" and e.fetch_items), ())
        after = ctx.selection.view.exists
        if items and after > before:
            # Messages expunged meanwhile may shift numbers only through EXPUNGEs sent above;
            # the new ones are the last ``after - before`` of the view either way.
            await fetch.handle_fetch(ctx, "*", Fetch(SequenceSet.of((before + 1, after)), items))
    await _notify_others(ctx, state)


async def _notify_others(ctx: Context, state: NotifyState) -> None:
    subscription = state.subscription
    if subscription.overflowed:
        _stop(ctx)
        await ctx.send(UntaggedStatus(Status.OK, "too many changes; NOTIFY is now off",
                                      SimpleCode.NOTIFICATIONOVERFLOW))
        return
    changes = subscription.drain()
    if not changes:
        return
    selected = ctx.selection.mailbox.id if ctx.selection is not None else None
    touched: dict[MailboxId, set[str]] = {}
    lists: list[tuple[str, list[Value], str, str | None]] = []  # event, attrs, name, old
    for change in changes:
        match change:
            case MessageAdded() if change.mailbox != selected:
                touched.setdefault(change.mailbox, set()).add("MessageNew")
            case MessagesExpunged() if change.mailbox != selected:
                touched.setdefault(change.mailbox, set()).add("MessageExpunge")
            case FlagsChanged() if change.mailbox != selected:
                touched.setdefault(change.mailbox, set()).add("FlagChange")
            case MailboxCreated():
                lists.append(("MailboxName", [], change.name, None))
            case MailboxDeleted():
                touched.pop(change.mailbox, None)
                lists.append(("MailboxName", [Atom("\\NonExistent")], change.name, None))
            case MailboxRenamed():
                lists.append(("MailboxName", [], change.new_name, change.old_name))
            case SubscriptionChanged():
                attributes: list[Value] = [Atom("\\Subscribed")] if change.subscribed else []
                lists.append(("SubscriptionChange", attributes, change.name, None))
    subscribed = await _subscribed(ctx, state)
    for event, attributes, name, old_name in lists:
        if event not in state.events_for(name, subscribed) and not (
                old_name is not None and event in state.events_for(old_name, subscribed)):
            continue
        line: list[Value] = [Atom("LIST"), tuple(attributes), HIERARCHY_SEPARATOR,
                             AString(ctx.names.encode(name))]
        if old_name is not None:
            line.append((Atom("OLDNAME"), (AString(ctx.names.encode(old_name)),)))
        await ctx.send(Untagged(tuple(line)))
    for mailbox_id, events in touched.items():
        try:
            mailbox = await ctx.store.get_mailbox_by_id(ctx.account, mailbox_id)
        except NotFound:
            continue
        if events & state.events_for(mailbox.name, subscribed):
            await _send_status(ctx, mailbox_id)
