"""One POP3 session's view of the INBOX: a snapshot taken at login, numbered 1..n. Pure.

How this works: at login the session reads the INBOX once (storage.py) and builds a Maildrop.
From then on the message list never changes for the session (RFC 1939 §5: message numbers and
sizes are fixed until QUIT): mail delivered meanwhile shows up at the next login, and a message
another client expunges meanwhile stays listed but can no longer be retrieved.

Each message carries:
- its number (1..n, in UID order, so the oldest mail comes first);
- its size, the octet count of its wire form (CRLF line ends, see wire.py), which is what RETR
  sends before byte-stuffing;
- its unique id, ``"<uidvalidity>.<uid>"``: digits and one dot, at most 21 octets, within the
  1-70 printable characters of RFC 1939 §7. UIDVALIDITY and UID never repeat in the store, so
  the id stays valid for as long as the message exists and is never given to another message.

DELE only marks (RFC 1939 §5); RSET unmarks everything; the marks become a store change only in
the UPDATE state, after QUIT (storage.py applies the account's delete policy). A marked message
is invisible to STAT, LIST and UIDL and cannot be retrieved or marked again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from postier.types import Uid, UidValidity

__all__ = [
    "HIDDEN_KEYWORD",
    "Maildrop",
    "MaildropError",
    "MaildropMessage",
    "MessageDeleted",
    "NoSuchMessage",
]

# The "keep" delete policy leaves the message in the INBOX with this keyword: IMAP still shows
# it, POP3 never lists it again. "$" keywords are the IMAP convention for server-set keywords.
HIDDEN_KEYWORD = "$POP3Deleted"


class MaildropError(Exception):
    """A message number that cannot be used; the text goes after "-ERR"."""


class NoSuchMessage(MaildropError):
    def __init__(self, number: int) -> None:
        super().__init__(f"no such message: {number}")


class MessageDeleted(MaildropError):
    def __init__(self, number: int) -> None:
        super().__init__(f"message {number} is already deleted")


@dataclass(frozen=True, slots=True)
class MaildropMessage:
    number: int
    uid: Uid
    size: int
    unique_id: str


class Maildrop:
    __slots__ = ("_deleted", "_messages", "_retrieved", "uidvalidity")

    def __init__(self, uidvalidity: UidValidity, messages: Sequence[tuple[Uid, int]]) -> None:
        """``messages``: (uid, wire size) of every visible INBOX message, in UID order."""
        self.uidvalidity = uidvalidity
        self._messages = tuple(
            MaildropMessage(number, uid, size, f"{uidvalidity}.{uid}")
            for number, (uid, size) in enumerate(messages, start=1))
        self._deleted: set[int] = set()
        self._retrieved: set[int] = set()

    def __len__(self) -> int:
        return len(self._messages)

    @property
    def visible_count(self) -> int:
        return len(self._messages) - len(self._deleted)

    @property
    def visible_octets(self) -> int:
        return sum(m.size for m in self.visible())

    def visible(self) -> Iterable[MaildropMessage]:
        return (m for m in self._messages if m.number not in self._deleted)

    def get(self, number: int) -> MaildropMessage:
        """The message, unless the number is unknown or the message is marked deleted."""
        if not 1 <= number <= len(self._messages):
            raise NoSuchMessage(number)
        if number in self._deleted:
            raise MessageDeleted(number)
        return self._messages[number - 1]

    def delete(self, number: int) -> MaildropMessage:
        message = self.get(number)
        self._deleted.add(number)
        return message

    def reset(self) -> None:
        self._deleted.clear()

    def mark_retrieved(self, number: int) -> None:
        self._retrieved.add(number)

    @property
    def deleted_uids(self) -> tuple[Uid, ...]:
        return tuple(self._messages[n - 1].uid for n in sorted(self._deleted))

    @property
    def retrieved_uids(self) -> tuple[Uid, ...]:
        return tuple(self._messages[n - 1].uid for n in sorted(self._retrieved))
