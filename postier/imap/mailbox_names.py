"""Mailbox names between the client's spelling and the store's, and LIST pattern matching.

How this works
--------------
The store names mailboxes in UTF-8 with ``/`` between levels and spells INBOX in capitals.
Clients see the same names, except that IMAP4rev1 clients read and write them in modified
UTF-7 (RFC 3501 §5.1.3); once a client enables IMAP4rev2 they are UTF-8 (RFC 9051 §5.1).
:class:`MailboxNames` converts both ways for one connection: :meth:`~MailboxNames.decode`
refuses a name that is not canonical modified UTF-7 (two spellings must never name two
mailboxes) and folds INBOX's case (RFC 9051 §5.1); :meth:`~MailboxNames.encode` is its
inverse.

LIST and LSUB patterns (RFC 9051 §6.3.9): the reference and the pattern are joined by plain
concatenation, as Dovecot and Cyrus do, then ``*`` matches any run of characters and ``%``
any run without the hierarchy separator. A pattern whose first level is INBOX in any case
matches the INBOX hierarchy. Matching runs on decoded names, so a wildcard never lands inside
a modified UTF-7 shift sequence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from postier.imap import utf7
from postier.types import HIERARCHY_SEPARATOR, INBOX, normalize_mailbox_name

__all__ = ["InvalidMailboxName", "MailboxNames", "compile_pattern", "parents_of"]


class InvalidMailboxName(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class MailboxNames:
    utf8: bool  # IMAP4rev2 (or UTF8=ACCEPT): names are UTF-8 on the wire

    def decode(self, name: str) -> str:
        """The store's name for what the client sent."""
        if not self.utf8:
            try:
                name = utf7.decode(name)
            except ValueError as error:
                raise InvalidMailboxName(f"invalid mailbox name: {error}") from None
        return normalize_mailbox_name(name)

    def encode(self, name: str) -> str:
        """What the client is shown for a store name."""
        return name if self.utf8 else utf7.encode(name)

    def decode_pattern(self, pattern: str) -> str:
        """A LIST pattern in store spelling (wildcards are ASCII, so they survive)."""
        if self.utf8:
            return pattern
        try:
            return utf7.decode(pattern)
        except ValueError as error:
            raise InvalidMailboxName(f"invalid mailbox pattern: {error}") from None


def compile_pattern(reference: str, pattern: str) -> re.Pattern[str]:
    """A regular expression matching the store names that ``reference`` + ``pattern`` list."""
    full = reference + pattern
    head = full[: len(INBOX)]
    if head.upper() == INBOX and full[len(INBOX) : len(INBOX) + 1] in ("", HIERARCHY_SEPARATOR):
        full = INBOX + full[len(INBOX) :]
    parts: list[str] = []
    for char in full:
        if char == "*":
            parts.append(".*")
        elif char == "%":
            parts.append(f"[^{re.escape(HIERARCHY_SEPARATOR)}]*")
        else:
            parts.append(re.escape(char))
    return re.compile("".join(parts), re.DOTALL)


def parents_of(name: str) -> list[str]:
    """``a/b/c`` → ``["a", "a/b"]``."""
    levels = name.split(HIERARCHY_SEPARATOR)
    return [HIERARCHY_SEPARATOR.join(levels[:depth]) for depth in range(1, len(levels))]
