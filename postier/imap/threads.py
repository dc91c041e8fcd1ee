"""THREAD=ORDEREDSUBJECT and THREAD=REFERENCES (RFC 5256 §3) over stored message summaries.

How this works
--------------
ORDEREDSUBJECT: messages sorted by base subject, then sent date; each run of one base subject
is a thread whose first message is the parent of all the others; threads are ordered by the
sent date of their first message.

REFERENCES follows the six steps of RFC 5256 §3 on mutable private containers:

1. Link. Each message's references (References, else the first In-Reply-To id) become a chain
   of containers, found or created (as dummies) by Message-ID; a reference that already has
   a parent keeps it, and no link may make a container its own ancestor. The message then
   hangs under its last reference, losing any parent an earlier message gave it. A missing or
   duplicate Message-ID gets a container of its own.
2. The containers without a parent are the roots.
3. Prune: empty dummies go; a dummy's children replace it, except that several children of a
   top-level dummy stay under it (promoting them would split one thread into many).
4. Sort the roots by sent date, a dummy by its first child after sorting its children.
5. Merge roots whose base subjects match: the subject table keeps, per subject, a dummy if
   there is one, else a message that is not a reply or forward; each other root then joins
   that entry as the RFC's four cases say, a new dummy taking the place of two equals.
6. Sort every set of siblings by sent date, deepest first.

Sent dates are the Date header in UTC, or the internal date without one (§2.2); equal dates
fall back to the sequence number. Every walk uses an explicit stack: reference chains can be
as deep as the mailbox is large.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from postier.imap.collation import subject_base

__all__ = ["SortMessage", "ThreadNode", "ordered_subject", "references", "sent_date",
           "summary_of", "utc"]


@dataclass(frozen=True, slots=True)
class SortMessage:
    seq: int
    uid: int
    internal_date: datetime
    size: int
    summary_json: str


@dataclass(frozen=True, slots=True)
class ThreadNode:
    message: SortMessage | None  # None: a dummy parent joining threads of one subject
    children: tuple[ThreadNode, ...] = ()


def utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC) if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def summary_of(message: SortMessage) -> dict[str, object]:
    """The stored summary as JSON data; {} when it cannot be read."""
    try:
        loaded = json.loads(message.summary_json)
    except (ValueError, RecursionError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def sent_date(message: SortMessage, summary: dict[str, object]) -> datetime:
    value = summary.get("date")
    if isinstance(value, str):
        try:
            return utc(datetime.fromisoformat(value))
        except ValueError:
            pass
    return utc(message.internal_date)


def _strings(summary: dict[str, object], key: str) -> list[str]:
    value = summary.get(key)
    return [v for v in value if isinstance(v, str) and v] if isinstance(value, list) else []


class _Info:
    __slots__ = ("date", "message", "message_id", "references", "reply", "subject")

    def __init__(self, message: SortMessage) -> None:
        summary = summary_of(message)
        subject = summary.get("subject")
        self.message = message
        self.date = sent_date(message, summary)
        self.subject, self.reply = subject_base(subject if isinstance(subject, str) else "")
        message_id = summary.get("message_id")
        self.message_id = message_id if isinstance(message_id, str) else ""
        self.references = _strings(summary, "references") or \
            _strings(summary, "in_reply_to")[:1]

    @property
    def order(self) -> tuple[datetime, int]:
        return self.date, self.message.seq


def ordered_subject(messages: Sequence[SortMessage]) -> list[ThreadNode]:
    infos = sorted((_Info(m) for m in messages), key=lambda i: (i.subject, i.date,
                                                               i.message.seq))
    groups: list[list[_Info]] = []
    for info in infos:
        if groups and groups[-1][0].subject == info.subject:
            groups[-1].append(info)
        else:
            groups.append([info])
    groups.sort(key=lambda g: g[0].order)
    return [ThreadNode(g[0].message, tuple(ThreadNode(i.message) for i in g[1:]))
            for g in groups]


class _Container:
    __slots__ = ("children", "info", "parent")

    def __init__(self, info: _Info | None) -> None:
        self.info = info
        self.parent: _Container | None = None
        self.children: list[_Container] = []

    def adopt(self, child: _Container) -> None:
        if child.parent is not None:
            child.parent.children.remove(child)
        child.parent = self
        self.children.append(child)

    def is_ancestor_of(self, other: _Container) -> bool:
        node: _Container | None = other
        while node is not None:
            if node is self:
                return True
            node = node.parent
        return False

    def first_message(self) -> _Info | None:
        node = self
        while node.info is None and node.children:
            node = node.children[0]
        return node.info

    def order(self) -> tuple[datetime, int]:
        info = self.first_message()
        return info.order if info is not None else (datetime.max.replace(tzinfo=UTC), 0)


def _link(infos: list[_Info]) -> list[_Container]:
    """Step 1; every container created, in creation order."""
    by_id: dict[str, _Container] = {}
    created: list[_Container] = []

    def container_for(message_id: str) -> _Container:
        found = by_id.get(message_id)
        if found is None:
            found = by_id[message_id] = _Container(None)
            created.append(found)
        return found

    for info in infos:
        own = by_id.get(info.message_id) if info.message_id else None
        if own is not None and own.info is None:
            own.info = info  # a dummy made by an earlier reference: now the real message
        else:  # new, or a missing or duplicate Message-ID: a container of its own
            own = _Container(info)
            created.append(own)
            if info.message_id and info.message_id not in by_id:
                by_id[info.message_id] = own
        previous: _Container | None = None
        for reference in info.references:
            current = container_for(reference)
            if previous is not None and current.parent is None \
                    and not current.is_ancestor_of(previous):
                previous.adopt(current)
            previous = current
        if own.parent is not None:
            own.parent.children.remove(own)
            own.parent = None
        if previous is not None and not own.is_ancestor_of(previous):
            previous.adopt(own)
    return created


def _preorder(root: _Container) -> list[_Container]:
    order: list[_Container] = []
    stack = list(root.children)
    while stack:
        node = stack.pop()
        order.append(node)
        stack.extend(node.children)
    return order


def _prune(root: _Container) -> None:
    """Step 3, children before parents, so whatever is spliced in is already pruned."""
    for node in [*reversed(_preorder(root)), root]:
        kept: list[_Container] = []
        for child in node.children:
            if child.info is None and (node is not root or len(child.children) <= 1):
                for grandchild in child.children:
                    grandchild.parent = node
                kept.extend(child.children)
            else:
                kept.append(child)
        node.children = kept


def _sort_siblings(root: _Container) -> None:
    for node in [*reversed(_preorder(root)), root]:
        node.children.sort(key=_Container.order)


def _thread_subject(node: _Container) -> tuple[str, bool]:
    info = node.first_message()
    return (info.subject, info.reply) if info is not None else ("", False)


def _merge_subjects(root: _Container) -> None:
    """Step 5. Roots that join another are dropped from the root list once, at the end."""
    table: dict[str, _Container] = {}
    for node in root.children:
        subject, reply = _thread_subject(node)
        if not subject:
            continue
        held = table.get(subject)
        if held is None or (held.info is not None
                            and (node.info is None or (_thread_subject(held)[1] and not reply))):
            table[subject] = node
    joined: set[int] = set()

    def move(children: list[_Container], parent: _Container) -> None:
        for child in children:
            child.parent = parent
        parent.children.extend(children)

    for node in root.children:
        subject, reply = _thread_subject(node)
        if not subject or table[subject] is node:
            continue
        held = table[subject]
        joined.add(id(node))
        if held.info is None and node.info is None:
            move(node.children, held)
        elif held.info is None or (reply and not _thread_subject(held)[1]):
            move([node], held)
        else:  # two equals: a new dummy takes the table entry's place and holds both
            moved = _Container(held.info)
            move(held.children, moved)
            held.info, held.children = None, []
            move([moved, node], held)
    root.children = [node for node in root.children if id(node) not in joined]


def _freeze(root: _Container) -> list[ThreadNode]:
    frozen: dict[int, ThreadNode] = {}
    for node in reversed(_preorder(root)):
        frozen[id(node)] = ThreadNode(node.info.message if node.info is not None else None,
                                      tuple(frozen[id(child)] for child in node.children))
    return [frozen[id(child)] for child in root.children]


def references(messages: Sequence[SortMessage]) -> list[ThreadNode]:
    infos = [_Info(m) for m in sorted(messages, key=lambda m: m.seq)]
    root = _Container(None)
    for container in _link(infos):
        if container.parent is None:  # step 2
            root.adopt(container)
    _prune(root)
    for node in root.children:  # step 4
        node.children.sort(key=_Container.order)
    root.children.sort(key=_Container.order)
    _merge_subjects(root)
    _sort_siblings(root)  # step 6
    return _freeze(root)
