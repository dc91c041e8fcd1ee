"""The folder list: the account's mailboxes in display order, with unread counts.

INBOX comes first, then the special-use folders in the order people expect (Drafts, Sent,
Archive, Junk, Trash), then the others alphabetically, children under their parents. Counts
come from ``store.status`` (one aggregate query per mailbox, run concurrently), never from
loading messages.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from postier.errors import NotFound
from postier.store.interface import Store
from postier.types import (
    HIERARCHY_SEPARATOR,
    INBOX,
    AccountId,
    Mailbox,
    MailboxId,
    SpecialUse,
)

__all__ = ["Folder", "display_name", "folder_list", "mailbox_by_id", "protected", "special_folder"]

_SPECIAL_ORDER = {SpecialUse.DRAFTS: 1, SpecialUse.SENT: 2, SpecialUse.ARCHIVE: 3,
                  SpecialUse.JUNK: 4, SpecialUse.TRASH: 5}
_ICONS = {SpecialUse.DRAFTS: "draft", SpecialUse.SENT: "sent", SpecialUse.ARCHIVE: "archive",
          SpecialUse.JUNK: "junk", SpecialUse.TRASH: "trash"}
MAX_ID = 2**63 - 1


@dataclass(frozen=True, slots=True)
class Folder:
    mailbox: Mailbox
    messages: int
    unseen: int

    @property
    def id(self) -> MailboxId:
        return self.mailbox.id

    @property
    def name(self) -> str:
        return self.mailbox.name

    @property
    def label(self) -> str:
        """The last level of the name; the depth shows as indentation."""
        return display_name(self.mailbox.name).rsplit(HIERARCHY_SEPARATOR, 1)[-1]

    @property
    def depth(self) -> int:
        return self.mailbox.name.count(HIERARCHY_SEPARATOR)

    @property
    def icon(self) -> str:
        if self.mailbox.name == INBOX:
            return "inbox"
        use = self.mailbox.special_use
        return _ICONS.get(use, "folder") if use is not None else "folder"

    @property
    def is_protected(self) -> bool:
        return protected(self.mailbox)


def display_name(name: str) -> str:
    """What people call a folder: "Inbox" rather than the protocol's INBOX."""
    return "Inbox" if name == INBOX else name


def protected(mailbox: Mailbox) -> bool:
    """INBOX and special-use folders are neither renamed nor deleted from the webmail."""
    return mailbox.name == INBOX or mailbox.special_use is not None


def _sort_key(mailbox: Mailbox) -> tuple[int, str]:
    if mailbox.name == INBOX:
        return (0, "")
    top = mailbox.name.split(HIERARCHY_SEPARATOR, 1)[0]
    if mailbox.special_use is not None and HIERARCHY_SEPARATOR not in mailbox.name:
        return (_SPECIAL_ORDER.get(mailbox.special_use, 6), "")
    return (10, f"{top.casefold()}\x00{mailbox.name.casefold()}")


async def folder_list(store: Store, account: AccountId) -> list[Folder]:
    mailboxes = sorted(await store.list_mailboxes(account), key=_sort_key)
    statuses = await asyncio.gather(*(store.status(account, m.id) for m in mailboxes),
                                    return_exceptions=True)
    return [Folder(status.mailbox, status.messages, status.unseen) for status in statuses
            if not isinstance(status, BaseException)]  # an exception: deleted meanwhile


async def mailbox_by_id(store: Store, account: AccountId, mailbox: int) -> Mailbox:
    """The account's mailbox; NotFound for ids of other accounts or that do not exist."""
    if not 0 < mailbox <= MAX_ID:
        raise NotFound("no such folder")
    try:
        return await store.get_mailbox_by_id(account, MailboxId(mailbox))
    except NotFound:
        raise NotFound("no such folder") from None


async def special_folder(store: Store, account: AccountId, use: SpecialUse) -> Mailbox:
    found = await store.find_special_use(account, use)
    if found is not None:
        return found
    name = use.value.lstrip("\\")
    try:
        return await store.get_mailbox(account, name)
    except NotFound:
        return await store.create_mailbox(account, name, use)
