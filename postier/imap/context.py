"""Context: what a command handler sees of its IMAP session.

How this works
--------------
:class:`~postier.imap.session.ImapSession` owns one Context per connection and passes it to
every handler. It holds the per-connection state (RFC 9051 §3: not authenticated,
authenticated, selected, logout), the authenticated principal, the enabled revision, the
selected mailbox with its :class:`~postier.imap.selected.SelectedView` and change-hub
subscription, and the I/O primitives handlers need:

* :meth:`Context.send` serializes responses into an output buffer; the buffer is written when
  it passes ``FLUSH_SIZE`` or before the session waits for input, so a command's responses
  usually leave in one write while a 10,000-message FETCH is written in pieces, each waiting for
  the socket to drain (back-pressure; no response is held in memory whole). A client that
  reads nothing for ``[limits] imap_idle_timeout`` is disconnected.
* :meth:`Context.next_event` pulls the next protocol event, reading from the connection when
  the machine needs data; a client silent for ``[limits] imap_idle_timeout`` raises
  :class:`ClientSilent` (the session answers with the autologout BYE, RFC 9051 §5.4); a
  command line started but not finished within ``[limits] command_timeout`` (or a literal
  slower than ``[limits] min_upload_rate``) raises :class:`CommandTooSlow` (slow-loris
  defence, ``net/deadline.py``).
* :meth:`Context.enable_condstore` records a CONDSTORE enabling command (RFC 7162 §3.1).
* :meth:`Context.send_updates` drains the subscription into the view and sends what the view
  allows at this point (RFC 9051 §7.5.1); after an overflow it resubscribes and resyncs from
  the store. After ENABLE QRESYNC removals go out as ``VANISHED`` (RFC 7162 §3.2.10).
* With NOTIFY (RFC 5465, ``handlers/notify.py``) the session also has an account-wide
  subscription (:attr:`Context.notify`), and :meth:`Context.receive` waits on it as well as on
  the socket, so notifications go out while the client is between commands.

Writes wait for the socket to drain for at most ``WRITE_TIMEOUT``: a client that stops reading
while updates pile up is disconnected, and what piles up meanwhile is bounded (the output
buffer flushes at ``FLUSH_SIZE``; the subscription overflows into a resync).
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from postier.auth import sasl
from postier.imap.capabilities import capabilities
from postier.imap.fetch import StructureCache
from postier.imap.mailbox_names import MailboxNames
from postier.imap.protocol import Event, ImapServerProtocol, NeedData
from postier.imap.responses import Bye, HighestModSeqCode, Response, Status, UntaggedStatus
from postier.imap.selected import (
    FlagsUpdated,
    KnownMessage,
    MailboxGone,
    MessageAppeared,
    MessagesRemoved,
    SelectedView,
    ViewChange,
)
from postier.net.connection import Connection
from postier.net.deadline import InputDeadline
from postier.services import Services
from postier.store.changes import (
    Change,
    FlagsChanged,
    MailboxDeleted,
    MessageAdded,
    MessagesExpunged,
    Subscription,
)
from postier.store.interface import Store
from postier.types import AccountId, Mailbox, Principal, Uid

__all__ = [
    "FLUSH_SIZE", "WRITE_TIMEOUT", "ClientSilent", "CommandTooSlow", "Context", "Selection",
    "SessionEnded", "SessionState", "first_done",
]  # fmt: skip

FLUSH_SIZE = 64 * 1024
WRITE_TIMEOUT = 120.0  # seconds a write may wait for a client that does not read
log = logging.getLogger("postier.imap")


class SessionEnded(Exception):
    """The connection cannot go on (failed TLS handshake, peer gone mid-exchange): close it."""


class ClientSilent(Exception):
    """The client sent nothing for ``[limits] imap_idle_timeout`` (RFC 9051 §5.4 autologout)."""


class CommandTooSlow(Exception):
    """A started command line (or a literal) did not arrive in time (``net/deadline.py``)."""


class SessionState(enum.Enum):
    NOT_AUTHENTICATED = "not authenticated"
    AUTHENTICATED = "authenticated"
    SELECTED = "selected"
    LOGOUT = "logout"


@dataclass(slots=True)
class Selection:
    mailbox: Mailbox  # as it was at SELECT; the id stays valid across renames
    view: SelectedView
    subscription: Subscription


class Context:
    def __init__(self, services: Services, conn: Connection,
                 protocol: ImapServerProtocol) -> None:
        self.services = services
        self.store: Store = services.store
        self.config = services.config
        self.conn = conn
        self.protocol = protocol
        self.state = SessionState.NOT_AUTHENTICATED
        self.principal: Principal | None = None
        self.selection: Selection | None = None
        self.rev2 = False  # ENABLE IMAP4rev2 (RFC 9051 §6.3.1)
        self.condstore = False  # a CONDSTORE enabling command was used (RFC 7162 §3.1)
        self.qresync = False  # ENABLE QRESYNC (RFC 7162 §3.2.3)
        # NOTIFY SET (RFC 5465): the filters and an account-wide subscription; None without.
        self.notify: Any = None
        # Sends what NOTIFY asked for; set by handlers/notify.py (which imports this module).
        self.notifier: Callable[[Context, bool], Awaitable[None]] | None = None
        self.compression_active = False
        self.client_id: dict[str, str | None] = {}
        self._structure_cache: StructureCache | None = None  # created on first use
        self._output: list[bytes] = []
        self._output_size = 0
        limits = services.config.limits
        self.deadline = InputDeadline(limits.command_timeout, limits.min_upload_rate)

    # -- facts ----------------------------------------------------------------------------

    @property
    def structure_cache(self) -> StructureCache:
        """BODYSTRUCTURE, then the parts: parsed once (created lazily: idle sessions never
        need one)."""
        if self._structure_cache is None:
            self._structure_cache = StructureCache()
        return self._structure_cache

    @property
    def account(self) -> AccountId:
        assert self.principal is not None, "handler ran before authentication"
        return self.principal.account_id

    @property
    def names(self) -> MailboxNames:
        return MailboxNames(utf8=self.rev2)

    @property
    def selected(self) -> Selection:
        assert self.selection is not None, "handler needs a selected mailbox"
        return self.selection

    @property
    def view(self) -> SelectedView:
        return self.selected.view

    @property
    def starttls_available(self) -> bool:
        return self.conn.listener == "imap" and self.services.tls is not None

    @property
    def plaintext_allowed(self) -> bool:
        return self.conn.tls_active or self.config.auth.allow_plaintext

    def mechanisms(self) -> tuple[str, ...]:
        return sasl.allowed_mechanisms(self.conn.tls_active, self.config.auth.allow_plaintext)

    def capabilities(self) -> tuple[str, ...]:
        return capabilities(
            authenticated=self.principal is not None,
            tls_active=self.conn.tls_active,
            starttls_available=self.starttls_available,
            allow_plaintext=self.config.auth.allow_plaintext,
            mechanisms=self.mechanisms(),
            compression_active=self.compression_active,
            append_limit=self.config.limits.max_message_size,
        )

    # -- output ---------------------------------------------------------------------------

    async def send(self, *responses: Response) -> None:
        for response in responses:
            for chunk in self.protocol.send_chunks(response):
                self._output.append(chunk)
                self._output_size += len(chunk)
        if self._output_size >= FLUSH_SIZE:
            await self.flush()

    async def send_encoded(self, data: bytes) -> None:
        """Untagged responses already serialized (a FETCH listing writes its lines itself)."""
        self._output.append(data)
        self._output_size += len(data)
        if self._output_size >= FLUSH_SIZE:
            await self.flush()

    async def flush(self) -> None:
        if not self._output:
            return
        output, self._output, self._output_size = self._output, [], 0
        batch: list[bytes] = []
        size = 0
        for chunk in output:
            if len(chunk) >= FLUSH_SIZE:
                if batch:
                    await self._write(b"".join(batch))
                    batch, size = [], 0
                await self._write(chunk)
                continue
            batch.append(chunk)
            size += len(chunk)
            if size >= FLUSH_SIZE:
                await self._write(b"".join(batch))
                batch, size = [], 0
        if batch:
            await self._write(b"".join(batch))

    async def _write(self, data: bytes) -> None:
        """One write; a client that reads nothing for the idle limit is disconnected."""
        try:
            async with asyncio.timeout(min(WRITE_TIMEOUT, self.config.limits.imap_idle_timeout)):
                await self.conn.write(data)
        except TimeoutError:
            raise SessionEnded("the client stopped reading") from None

    # -- input ----------------------------------------------------------------------------

    async def receive(self) -> None:
        """Read once (after flushing) and feed the machine; ClientSilent after the idle limit,
        CommandTooSlow when a started command line (or literal) is late."""
        await self.flush()
        timeout, slow = self.deadline.timeout(self.protocol.input_phase,
                                              self.config.limits.imap_idle_timeout)
        if self.notify is not None:
            data = await self._read_notifying(timeout, slow)
        else:
            try:
                data = await self.conn.read(timeout=timeout)
            except TimeoutError:
                raise CommandTooSlow() if slow else ClientSilent() from None
        self.deadline.received(len(data))
        self.protocol.receive_data(data)

    async def _read_notifying(self, timeout: float, slow: bool) -> bytes:
        """Read, sending NOTIFY notifications as changes arrive (RFC 5465 §1: the client
        need not IDLE). EXPUNGE/VANISHED only go out between commands (RFC 9051 §7.5.1)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        read = asyncio.ensure_future(self.conn.read())
        try:
            while True:
                changes = [subscription.ready() for subscription in self.subscriptions()]
                if loop.time() >= deadline:
                    raise CommandTooSlow() if slow else ClientSilent()
                await first_done([read, *changes], deadline)
                if read.done():
                    return read.result()
                if any(change.done() for change in changes) and self.notifier is not None:
                    await self.notifier(self, self.protocol.between_commands)
                    await self.flush()
                    if self.protocol.should_close:
                        return b""
        finally:
            if not read.done():
                read.cancel()

    def subscriptions(self) -> list[Subscription]:
        """The subscriptions whose changes the client is told about without asking."""
        found = []
        if self.selection is not None:
            found.append(self.selection.subscription)
        if self.notify is not None:
            found.append(self.notify.subscription)
        return found

    async def next_event(self) -> Event:
        while True:
            event = self.protocol.next_event()
            if not isinstance(event, NeedData):
                self.deadline.reset()  # the next command (or literal) is timed afresh
                return event
            await self.receive()

    async def enable_condstore(self) -> None:
        """A CONDSTORE enabling command ran (RFC 7162 §3.1): from now on every FETCH that
        reports flags carries UID and MODSEQ; a selected mailbox's HIGHESTMODSEQ is told."""
        if self.condstore:
            return
        self.condstore = True
        if self.selection is not None:
            await self.send(UntaggedStatus(Status.OK, "highest mod-sequence",
                                           HighestModSeqCode(self.view.highest_modseq)))

    # -- the selected mailbox -------------------------------------------------------------

    async def enable_qresync(self) -> None:
        """ENABLE QRESYNC (RFC 7162 §3.2.3): implies CONDSTORE; removals become VANISHED."""
        await self.enable_condstore()
        self.qresync = True

    def close_selection(self) -> None:
        if self.selection is not None:
            self.selection.subscription.close()
            self.selection = None
        if self.state is SessionState.SELECTED:
            self.state = SessionState.AUTHENTICATED

    async def send_updates(self, *, allow_expunge: bool) -> None:
        """Tell the client what changed in its selected mailbox, as far as allowed now."""
        selection = self.selection
        if selection is None:
            return
        view = selection.view
        if selection.subscription.overflowed:
            await self._resync(selection)
        view.apply(_view_changes(selection.subscription.drain(), view.mailbox_id))
        if view.gone:
            self.close_selection()
            await self.send(Bye("the selected mailbox was deleted"))
            return
        if view.has_new and view.recent_from is not None:
            # IMAP4rev1: new messages are \\Recent in the first session told about them
            # (RFC 3501 §2.3.2). EXAMINE takes none away from the others. Of many sessions
            # told at once, only the first claims in the store (the others would get nothing).
            if view.readonly:
                view.claim_new(0)
            elif not self.store.hub.recent_claimed(selection.mailbox.id, view.uidvalidity,
                                                   Uid(view.newest_pending)):
                view.claim_new(await self.store.claim_recent(self.account, selection.mailbox.id))
        await self.send(*view.take_updates(allow_expunge=allow_expunge, rev2=self.rev2,
                                           condstore=self.condstore, vanished=self.qresync))

    async def _resync(self, selection: Selection) -> None:
        selection.subscription.close()
        selection.subscription = self.store.hub.subscribe(self.account)
        states = await self.store.message_states(self.account, selection.mailbox.id)
        selection.view.resync([KnownMessage(s.uid, s.modseq, s.flags) for s in states])


def _view_changes(changes: list[Change], mailbox: int) -> list[ViewChange]:
    out: list[ViewChange] = []
    for change in changes:
        match change:
            case MessageAdded() if change.mailbox == mailbox:
                out.append(MessageAppeared(change.uid, change.modseq, change.flags))
            case FlagsChanged() if change.mailbox == mailbox:
                out.append(FlagsUpdated(change.uid, change.modseq, change.flags))
            case MessagesExpunged() if change.mailbox == mailbox:
                out.append(MessagesRemoved(change.uids, change.modseq))
            case MailboxDeleted() if change.mailbox == mailbox:
                out.append(MailboxGone())
    return out


async def first_done(futures: list[asyncio.Future[Any]], when: float) -> None:
    """Return once one of ``futures`` is done or the loop's clock reaches ``when``. One future,
    one timer and a callback on each of ``futures``: no task per wait and nothing cancelled,
    which matters when a delivery wakes hundreds of sessions at once."""
    if any(future.done() for future in futures):
        return
    loop = asyncio.get_running_loop()
    woken: asyncio.Future[None] = loop.create_future()

    def wake(_: object = None) -> None:
        if not woken.done():
            woken.set_result(None)

    for future in futures:
        future.add_done_callback(wake)
    timer = loop.call_at(when, wake)
    try:
        await woken
    finally:
        timer.cancel()
        for future in futures:
            future.remove_done_callback(wake)
