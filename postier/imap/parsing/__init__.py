"""Framed command → ``commands.*`` value, following the RFC 9051 §9 grammar.

How this works
--------------
:func:`parse_command` reads the tag and the command name (case-insensitive, RFC 9051 §9 notes)
and hands the :class:`~postier.imap.parsing.reader.Reader` to the grammar of that command
family (``connection``, ``mailbox``, ``message``, ``search``); ``UID`` prefixes select the UID
form of COPY, MOVE, FETCH, STORE, SEARCH, SORT, THREAD and EXPUNGE. Whatever does not follow
the grammar raises :class:`ParseError` carrying the tag when one was read, so the session can
answer ``tag BAD message`` (``* BAD`` without a tag). Parsing never depends on the connection
state: a command valid only when authenticated still parses here, and the session refuses it.
"""

from __future__ import annotations

from collections.abc import Callable

from postier.imap.commands import (
    Capability,
    Check,
    Close,
    Expunge,
    Idle,
    ImapCommand,
    Logout,
    Namespace,
    Noop,
    StartTls,
    Unauthenticate,
    Unselect,
)
from postier.imap.parsing import connection, mailbox, message, search
from postier.imap.parsing.connection import decode_base64
from postier.imap.parsing.message import AppendPrefix
from postier.imap.parsing.reader import SEARCH_CHARSETS, ParseError, Reader
from postier.imap.wire import FramedCommand

__all__ = [
    "SEARCH_CHARSETS", "AppendPrefix", "ParseError", "decode_base64", "parse_append_prefix",
    "parse_command",
]  # fmt: skip


def _bare(command: ImapCommand) -> Callable[[Reader], ImapCommand]:
    return lambda r: command


_COMMANDS: dict[str, Callable[[Reader], ImapCommand]] = {
    "CAPABILITY": _bare(Capability()),
    "NOOP": _bare(Noop()),
    "LOGOUT": _bare(Logout()),
    "STARTTLS": _bare(StartTls()),
    "NAMESPACE": _bare(Namespace()),
    "CHECK": _bare(Check()),
    "CLOSE": _bare(Close()),
    "UNSELECT": _bare(Unselect()),
    "EXPUNGE": _bare(Expunge()),
    "IDLE": _bare(Idle()),
    "UNAUTHENTICATE": _bare(Unauthenticate()),
    "AUTHENTICATE": connection.parse_authenticate,
    "LOGIN": connection.parse_login,
    "ENABLE": connection.parse_enable,
    "ID": connection.parse_id,
    "COMPRESS": connection.parse_compress,
    "SELECT": mailbox.parse_select,
    "EXAMINE": mailbox.parse_examine,
    "CREATE": mailbox.parse_create,
    "DELETE": mailbox.parse_delete,
    "RENAME": mailbox.parse_rename,
    "SUBSCRIBE": mailbox.parse_subscribe,
    "UNSUBSCRIBE": mailbox.parse_unsubscribe,
    "LIST": mailbox.parse_list,
    "LSUB": mailbox.parse_lsub,
    "STATUS": mailbox.parse_status,
    "NOTIFY": mailbox.parse_notify,
    "GETQUOTA": mailbox.parse_getquota,
    "GETQUOTAROOT": mailbox.parse_getquotaroot,
    "SETQUOTA": mailbox.parse_setquota,
    "APPEND": message.parse_append,
}

# Commands that exist with and without the UID prefix; the flag says which was sent.
_UID_COMMANDS: dict[str, Callable[[Reader, bool], ImapCommand]] = {
    "FETCH": message.parse_fetch,
    "STORE": message.parse_store,
    "COPY": message.parse_copy,
    "MOVE": message.parse_move,
    "SEARCH": search.parse_search,
    "SORT": search.parse_sort,
    "THREAD": search.parse_thread,
}


def parse_command(command: FramedCommand) -> tuple[str, ImapCommand]:
    """The tag and the command; raises :class:`ParseError` with ``.tag`` set when known."""
    r = Reader(command)
    tag: str | None = None
    try:
        candidate = r.tag()
        if r.at_end():
            tag = candidate  # a line that is only a tag: "tag BAD", as Dovecot answers
        r.sp()
        tag = candidate  # otherwise only a tag followed by SP is one (as wire.tag_of decides)
        name = r.keyword("command name")
        result = _parse_named(r, name)
        r.end()
    except ParseError as error:
        error.tag = tag
        raise
    return tag, result


def parse_append_prefix(prefix: FramedCommand) -> AppendPrefix | ParseError | None:
    """What an APPEND says before one of its message literals: ``prefix`` is the command up
    to a literal marker (``AwaitingLiteral.prefix``). A ParseError (``.tag`` set) when the
    command is already malformed (bad flag list or date), whatever the literal holds. None for
    anything else (another command, a literal that is the mailbox name)."""
    r = Reader(prefix)
    try:
        tag = r.tag()
        r.sp()
        if r.keyword("command name") != "APPEND":
            return None
    except ParseError:
        return None
    try:
        return message.append_prefix(r, tag)
    except ParseError as error:
        error.tag = tag
        return error


def _parse_named(r: Reader, name: str) -> ImapCommand:
    if name == "UID":
        r.sp()
        name = r.keyword("command name")
        if name == "EXPUNGE":
            return message.parse_uid_expunge(r)
        uid_form = _UID_COMMANDS.get(name)
        if uid_form is None:
            raise ParseError(f"unknown UID command {name}")
        return uid_form(r, True)
    plain = _COMMANDS.get(name)
    if plain is not None:
        return plain(r)
    uid_form = _UID_COMMANDS.get(name)
    if uid_form is not None:
        return uid_form(r, False)
    raise ParseError(f"unknown command {name}")
