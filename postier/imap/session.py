"""ImapSession: one IMAP connection, from greeting to BYE.

How this works
--------------
The session is the thin async shell around the sans-I/O machine (``protocol.py``)::

    greeting ─► loop: next_event ─► NeedData          read (autologout after the idle limit)
                                   AwaitingLiteral   "+ ready", or the answer at once
                                                     when an APPEND is bound to fail
                                   ParseFailure ...  BAD / NO [TOOBIG] / BYE, from the machine
                                   Command           check the state, run the handler

Dispatch is a table from command class to (allowed states, handler); a command in the wrong
state is BAD (RFC 9051 §6: each command lists its states). Every handler runs inside the one
``try`` that maps failures to a tagged answer (``errors.to_tagged``), so no exception from a
command can end the session, let alone the server; only a lost connection, a failed TLS
handshake or the machine's BYE (too many BADs, an overlong line) end it.

Before each tagged answer in the selected state the session sends the pending changes of the
mailbox (``Context.send_updates``): EXPUNGE is held back after FETCH, STORE, SEARCH, SORT and
THREAD by sequence number (RFC 9051 §7.5.1), everything else goes out.

Before authentication, a client cannot make the server buffer large literals: the machine runs
with small limits (``_preauth_limits``: non-synchronizing literals up to ``PREAUTH_LITERAL``,
a few literals per command, little to discard) and a synchronizing literal over
``PREAUTH_LITERAL`` is answered with BYE instead of ``+``. The configured limits apply from
the command after a successful login (and the small ones again after UNAUTHENTICATE).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from postier.imap import commands as c
from postier.imap.compress import CorruptStream
from postier.imap.context import (
    ClientSilent,
    CommandTooSlow,
    Context,
    SessionEnded,
    SessionState,
)
from postier.imap.errors import to_tagged
from postier.imap.handlers import (
    append,
    auth,
    connection,
    copy_move,
    fetch,
    flags,
    idle,
    listing,
    mailboxes,
    notify,
    quota,
    search,
    select,
)
from postier.imap.parsing import ParseError, parse_append_prefix
from postier.imap.protocol import (
    AuthenticateCancelled,
    AuthenticateData,
    AwaitingLiteral,
    Command,
    ConnectionClosed,
    IdleDone,
    ImapServerProtocol,
    Limits,
    LiteralTooBig,
    ParseFailure,
    Paused,
    ProtocolViolation,
    answer,
)
from postier.imap.responses import (
    Bye,
    CapabilityCode,
    Continuation,
    Status,
    Tagged,
    UntaggedStatus,
)
from postier.imap.wire import FramedCommand
from postier.net.connection import Connection
from postier.services import ConnectionHandler, Services

__all__ = ["PREAUTH_LITERAL", "ImapSession", "imap_handler"]

log = logging.getLogger("postier.imap")

PREAUTH_LITERAL = 8 * 1024  # LOGIN and AUTHENTICATE need no more before authentication

Handler = Callable[[Context, str, Any], Awaitable[Tagged | None]]
_ANY = frozenset(SessionState)
_NOT_AUTHENTICATED = frozenset({SessionState.NOT_AUTHENTICATED})
_AUTHENTICATED = frozenset({SessionState.AUTHENTICATED, SessionState.SELECTED})
_SELECTED = frozenset({SessionState.SELECTED})

_DISPATCH: dict[type[Any], tuple[frozenset[SessionState], Handler]] = {
    c.Capability: (_ANY, connection.handle_capability),
    c.Noop: (_ANY, connection.handle_noop),
    c.Logout: (_ANY, connection.handle_logout),
    c.Id: (_ANY, connection.handle_id),
    c.StartTls: (_NOT_AUTHENTICATED, connection.handle_starttls),
    c.Login: (_NOT_AUTHENTICATED, auth.handle_login),
    c.Authenticate: (_NOT_AUTHENTICATED, auth.handle_authenticate),
    c.Enable: (frozenset({SessionState.AUTHENTICATED}), connection.handle_enable),
    c.Unauthenticate: (_AUTHENTICATED, auth.handle_unauthenticate),
    c.Compress: (_AUTHENTICATED, connection.handle_compress),
    c.Namespace: (_AUTHENTICATED, connection.handle_namespace),
    c.Select: (_AUTHENTICATED, select.handle_select),
    c.Examine: (_AUTHENTICATED, select.handle_examine),
    c.Create: (_AUTHENTICATED, mailboxes.handle_create),
    c.Delete: (_AUTHENTICATED, mailboxes.handle_delete),
    c.Rename: (_AUTHENTICATED, mailboxes.handle_rename),
    c.Subscribe: (_AUTHENTICATED, mailboxes.handle_subscribe),
    c.Unsubscribe: (_AUTHENTICATED, mailboxes.handle_unsubscribe),
    c.Status: (_AUTHENTICATED, mailboxes.handle_status),
    c.List: (_AUTHENTICATED, listing.handle_list),
    c.Lsub: (_AUTHENTICATED, listing.handle_lsub),
    c.Append: (_AUTHENTICATED, append.handle_append),
    c.Idle: (_AUTHENTICATED, idle.handle_idle),
    c.Notify: (_AUTHENTICATED, notify.handle_notify),
    c.GetQuota: (_AUTHENTICATED, quota.handle_getquota),
    c.GetQuotaRoot: (_AUTHENTICATED, quota.handle_getquotaroot),
    c.SetQuota: (_AUTHENTICATED, quota.handle_setquota),
    c.Check: (_SELECTED, connection.handle_check),
    c.Close: (_SELECTED, select.handle_close),
    c.Unselect: (_SELECTED, select.handle_unselect),
    c.Expunge: (_SELECTED, select.handle_expunge),
    c.UidExpunge: (_SELECTED, select.handle_uid_expunge),
    c.Search: (_SELECTED, search.handle_search),
    c.Sort: (_SELECTED, search.handle_sort),
    c.Thread: (_SELECTED, search.handle_thread),
    c.Fetch: (_SELECTED, fetch.handle_fetch),
    c.Store: (_SELECTED, flags.handle_store),
    c.Copy: (_SELECTED, copy_move.handle_copy),
    c.Move: (_SELECTED, copy_move.handle_move),
}

_STATE_ERRORS = {
    SessionState.NOT_AUTHENTICATED: "log in first",
    SessionState.AUTHENTICATED: "select a mailbox first",
    SessionState.SELECTED: "not valid in the selected state",
}


def _allows_expunge(command: c.ImapCommand) -> bool:
    """RFC 9051 §7.5.1: no EXPUNGE while answering FETCH, STORE or SEARCH (by sequence
    number; SORT and THREAD return sequence numbers too)."""
    if isinstance(command, c.Fetch | c.Store | c.Search | c.Sort | c.Thread):
        return command.uid
    return True


def _limits(services: Services) -> Limits:
    limits = services.config.limits
    return Limits(max_line_length=limits.imap_line_length,
                  max_literal_size=limits.max_message_size,
                  max_command_size=2 * limits.max_message_size,  # MULTIAPPEND
                  max_consecutive_bad=limits.max_errors)


def _preauth_limits(services: Services) -> Limits:
    line = min(services.config.limits.imap_line_length, PREAUTH_LITERAL)
    return Limits(max_line_length=line, max_literal_size=services.config.limits.max_message_size,
                  max_command_size=2 * services.config.limits.max_message_size,
                  max_literals=4,  # each one at most PREAUTH_LITERAL: see _serve
                  non_sync_literal_limit=PREAUTH_LITERAL, max_discard_size=8 * PREAUTH_LITERAL,
                  max_consecutive_bad=services.config.limits.max_errors)


class ImapSession:
    __slots__ = ("_authenticated_limits", "context")

    def __init__(self, services: Services, conn: Connection) -> None:
        self.context = Context(services, conn, ImapServerProtocol(_preauth_limits(services)))
        self._authenticated_limits = False

    async def run(self) -> None:
        ctx = self.context
        try:
            await ctx.send(UntaggedStatus(Status.OK, "Postier IMAP ready",
                                          CapabilityCode(ctx.capabilities())))
            await self._serve()
        except ClientSilent:
            await self._say_goodbye(Bye("autologout: no command for too long"))
        except CommandTooSlow:
            await self._say_goodbye(Bye("Autologout; command too slow"))
        except CorruptStream as corrupt:
            log.info("imap %s: %s", ctx.conn.peer_ip, corrupt)
            await self._say_goodbye(Bye("invalid compressed data"))
        except SessionEnded as ended:
            log.info("imap %s: %s", ctx.conn.peer_ip, ended)
        except OSError:
            pass  # the connection broke
        finally:
            ctx.close_selection()
            await ctx.conn.close()

    async def _say_goodbye(self, bye: Bye) -> None:
        try:
            await self.context.send(bye)
            await self.context.flush()
        except (SessionEnded, OSError):
            pass

    async def _serve(self) -> None:
        ctx = self.context
        protocol = ctx.protocol
        while ctx.state is not SessionState.LOGOUT and not protocol.should_close:
            event = await ctx.next_event()
            match event:
                case ConnectionClosed():
                    return
                case AwaitingLiteral(size, prefix):
                    refusal = await self._refuse_literal(prefix, size)
                    if refusal is not None:
                        protocol.refuse_literal()
                        await ctx.send(refusal)
                    elif ctx.principal is None and size > PREAUTH_LITERAL:
                        await ctx.send(Bye("literal too large before authentication"))
                    else:
                        await ctx.send(Continuation("ready for literal data"))
                case ParseFailure() | LiteralTooBig() | ProtocolViolation():
                    await ctx.send(answer(event))
                case Command(tag, command):
                    await self._execute(tag, command)
                case Paused():
                    protocol.resume()  # a STARTTLS/COMPRESS that failed before switching
                case IdleDone() | AuthenticateData() | AuthenticateCancelled():
                    pass  # only produced inside IDLE and AUTHENTICATE, which consume them
        await ctx.flush()

    async def _refuse_literal(self, prefix: FramedCommand | None, size: int) -> Tagged | None:
        """An answer instead of ``+`` for an APPEND known to fail before its data: in the wrong
        state, to a missing mailbox, over quota (``append.refuse_early``)."""
        if prefix is None:
            return None
        target = parse_append_prefix(prefix)
        if target is None:
            return None
        ctx = self.context
        if isinstance(target, ParseError):
            assert target.tag is not None
            return Tagged(target.tag, Status.BAD, target.message)
        if ctx.state not in _AUTHENTICATED:
            return Tagged(target.tag, Status.BAD, _STATE_ERRORS[ctx.state])
        try:
            return await append.refuse_early(ctx, target, size)
        except (SessionEnded, ClientSilent, CommandTooSlow, ConnectionError):
            raise
        except Exception:
            log.exception("imap %s: checking an APPEND target failed", ctx.conn.peer_ip)
            return None  # the command itself will report the failure

    async def _execute(self, tag: str, command: c.ImapCommand) -> None:
        ctx = self.context
        entry = _DISPATCH.get(type(command))
        response: Tagged | None
        if entry is None:
            response = Tagged(tag, Status.BAD, "command not supported")
        elif ctx.state not in entry[0]:
            response = Tagged(tag, Status.BAD, _STATE_ERRORS[ctx.state])
        else:
            try:
                response = await entry[1](ctx, tag, command)
            except (SessionEnded, ClientSilent, CommandTooSlow, ConnectionError):
                raise
            except Exception as error:
                response = to_tagged(tag, error)
        if (ctx.principal is not None) != self._authenticated_limits:
            self._authenticated_limits = ctx.principal is not None
            ctx.protocol.set_limits(_limits(ctx.services) if self._authenticated_limits
                                    else _preauth_limits(ctx.services))
        if response is None:
            return
        if ctx.selection is not None or ctx.notify is not None:
            try:
                await notify.send_changes(ctx, allow_expunge=_allows_expunge(command))
            except (SessionEnded, ClientSilent, CommandTooSlow, ConnectionError):
                raise
            except Exception:
                # The updates stay pending (or resync later); the command's answer still goes.
                log.exception("imap %s: sending mailbox updates failed", ctx.conn.peer_ip)
        await ctx.send(response)


def imap_handler(services: Services) -> ConnectionHandler:
    """The listener's handler for the ``imap`` (STARTTLS) and ``imaps`` (TLS) ports."""

    async def handle(conn: Connection) -> None:
        await ImapSession(services, conn).run()

    return handle
