"""LIST (with LIST-EXTENDED, SPECIAL-USE and LIST-STATUS) and LSUB.

How this works
--------------
One store query lists the account's mailboxes (and one more its subscriptions, when they
matter); the patterns are matched in memory (``mailbox_names.compile_pattern``). Every
mailbox row is selectable, because the store creates missing parents as real mailboxes, so
``\\Noselect`` only appears for ``LIST "" ""`` and for LSUB parents that are not subscribed.

Attributes of each ``* LIST`` line:

* ``\\HasChildren`` / ``\\HasNoChildren`` always (RFC 3348 CHILDREN, RFC 5258 §4);
* the special use (``\\Sent``, ...) always (RFC 6154 §2); the SPECIAL-USE selection option
  lists only mailboxes that have one;
* ``\\Subscribed`` with the SUBSCRIBED selection or return option (RFC 5258 §3), and
  ``\\NonExistent`` for a subscribed name without a mailbox;
* RECURSIVEMATCH adds, for a matching mailbox with a subscribed descendant, the extended item
  ``("CHILDINFO" ("SUBSCRIBED"))`` (RFC 5258 §3.5), listing the parent itself when it is not
  subscribed.

``RETURN (STATUS (...))`` follows each selectable mailbox's LIST line with its STATUS line
(RFC 5819 §2). ``LIST "" ""`` answers the hierarchy separator (RFC 9051 §6.3.9).
"""

from __future__ import annotations

import re

from postier.imap.commands import List, ListReturn, ListSelection, Lsub
from postier.imap.context import Context
from postier.imap.errors import bad
from postier.imap.handlers.mailboxes import status_response
from postier.imap.mailbox_names import InvalidMailboxName, compile_pattern, parents_of
from postier.imap.responses import AString, Atom, Status, Tagged, Untagged, Value
from postier.types import HIERARCHY_SEPARATOR, INBOX

__all__ = ["handle_list", "handle_lsub"]

_CHILDINFO: Value = ("CHILDINFO", ("SUBSCRIBED",))


def _matchers(ctx: Context, reference: str, patterns: tuple[str, ...]) -> list[re.Pattern[str]]:
    try:
        decoded_reference = ctx.names.decode_pattern(reference)
        return [compile_pattern(decoded_reference, ctx.names.decode_pattern(p))
                for p in patterns]
    except InvalidMailboxName as error:
        raise bad(str(error)) from None


def _matches(matchers: list[re.Pattern[str]], name: str) -> bool:
    return any(m.fullmatch(name) for m in matchers)


def _order(name: str) -> tuple[bool, str]:
    return name != INBOX, name


async def handle_list(ctx: Context, tag: str, command: List) -> Tagged:
    if command.patterns == ("",):
        await ctx.send(Untagged((Atom("LIST"), (Atom("\\Noselect"),), HIERARCHY_SEPARATOR, "")))
        return Tagged(tag, Status.OK, "LIST completed")
    matchers = _matchers(ctx, command.reference, command.patterns)
    selection, returns = command.selection, command.returns
    mailboxes = {m.name: m for m in await ctx.store.list_mailboxes(ctx.account)}
    with_children = {parent for name in mailboxes for parent in parents_of(name)}
    wants_subscribed = (ListSelection.SUBSCRIBED in selection
                        or ListReturn.SUBSCRIBED in returns)
    subscribed = (set(await ctx.store.list_subscriptions(ctx.account))
                  if wants_subscribed else set())

    candidates = subscribed if ListSelection.SUBSCRIBED in selection else set(mailboxes)
    if ListSelection.SPECIAL_USE in selection:
        candidates = {n for n in candidates
                      if n in mailboxes and mailboxes[n].special_use is not None}
    listed = {name for name in candidates if _matches(matchers, name)}
    child_info: set[str] = set()
    if ListSelection.RECURSIVEMATCH in selection:
        for name in candidates:
            for parent in parents_of(name):
                if _matches(matchers, parent):
                    child_info.add(parent)
        listed |= child_info

    for name in sorted(listed, key=_order):
        mailbox = mailboxes.get(name)
        attributes: list[str] = []
        if mailbox is None:
            attributes.append("\\NonExistent")
        else:
            attributes.append("\\HasChildren" if name in with_children else "\\HasNoChildren")
            if mailbox.special_use is not None:
                attributes.append(mailbox.special_use.value)
        if wants_subscribed and name in subscribed:
            attributes.append("\\Subscribed")
        values: list[Value] = [Atom("LIST"), tuple(Atom(a) for a in attributes),
                               HIERARCHY_SEPARATOR, AString(ctx.names.encode(name))]
        if name in child_info:
            values.append(_CHILDINFO)  # the extended-data list: ("CHILDINFO" ("SUBSCRIBED"))
        await ctx.send(Untagged(tuple(values)))
        if command.status_items is not None and mailbox is not None:
            status = await ctx.store.status(ctx.account, mailbox.id)
            await ctx.send(status_response(ctx, status, command.status_items))
    return Tagged(tag, Status.OK, "LIST completed")


async def handle_lsub(ctx: Context, tag: str, command: Lsub) -> Tagged:
    """RFC 3501 §6.3.9: subscribed names; an unsubscribed parent that ``%`` reaches (and its
    subscribed child does not) is listed with \\Noselect so the client can walk the
    hierarchy. With ``*`` the child itself is listed, and its parent is not."""
    matchers = _matchers(ctx, command.reference, (command.pattern,))
    subscribed = set(await ctx.store.list_subscriptions(ctx.account))
    existing = {m.name for m in await ctx.store.list_mailboxes(ctx.account)}
    listed: dict[str, bool] = {}  # name → selectable
    for name in subscribed:
        if _matches(matchers, name):
            listed[name] = name in existing
            continue
        for parent in parents_of(name):
            if parent not in subscribed and _matches(matchers, parent):
                listed.setdefault(parent, False)
    for name in sorted(listed, key=_order):
        attributes = () if listed[name] else (Atom("\\Noselect"),)
        await ctx.send(Untagged((Atom("LSUB"), attributes, HIERARCHY_SEPARATOR,
                                 AString(ctx.names.encode(name)))))
    return Tagged(tag, Status.OK, "LSUB completed")
