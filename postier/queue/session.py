"""One SMTP client session over one connection: the async driver of ``smtp.client``.

How this works: ``run_session`` feeds the connection's bytes to the machine and writes what it
produces, mapping the machine's waits to the configured RFC 5321 §4.5.3.2 timeouts. Each time
the machine is ``Ready`` the next job is prepared (its body read and signed only now, so many
queued messages never sit in memory at once) and sent; each ``TransactionDone`` is handed to
``on_done`` and awaited, which records it durably before the session goes on: a crash after the
remote's 250 must not send the message again.

Whatever goes wrong — timeout, reset, TLS failure, a machine ``Closed`` with a reason — ends in
the returned ``SessionEnd``: how many jobs were sent (the rest may go to another host) and why
the session ended. Nothing here raises for the remote's faults.
"""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from postier.queue.connection import ConnectionFailed, SmtpConnection
from postier.smtp.client import (
    ClientConfig,
    Closed,
    MailTransaction,
    NeedData,
    Ready,
    SmtpClientProtocol,
    TlsRequested,
    TransactionDone,
    Wait,
)

__all__ = ["SessionEnd", "Timeouts", "run_session"]

J = TypeVar("J")


@dataclass(frozen=True, slots=True)
class Timeouts:
    connect: float = 30.0
    command: float = 300.0
    data: float = 600.0

    def of(self, wait: Wait) -> float:
        return self.data if wait is Wait.DATA_END else self.command


@dataclass(frozen=True, slots=True)
class SessionEnd(Generic[J]):
    sent: int  # jobs handed to the server (or settled without it); the rest were not tried
    ready: bool  # the session got past greeting, EHLO, STARTTLS and AUTH
    reason: str | None  # None: ended with QUIT


async def run_session(connection: SmtpConnection, config: ClientConfig, jobs: Sequence[J], *,
                      prepare: Callable[[J], Awaitable[MailTransaction | None]],
                      on_done: Callable[[J, TransactionDone], Awaitable[None]],
                      tls_context: ssl.SSLContext | None, server_hostname: str,
                      timeouts: Timeouts) -> SessionEnd[J]:
    machine = SmtpClientProtocol(config)
    sent = 0
    ready = False
    current: J | None = None
    while True:
        event = machine.next_event()
        out = machine.data_to_send()
        if out and not isinstance(event, Closed):
            try:
                await connection.write(out, timeouts.command)
            except ConnectionFailed as exc:
                machine.connection_lost(f"{connection.label}: {exc}")
                if isinstance(event, (NeedData, TlsRequested)):
                    continue  # the machine now has the failure to report instead
        if isinstance(event, NeedData):
            try:
                data = await connection.read(timeouts.of(event.wait))
            except TimeoutError:
                machine.timed_out()
            except ConnectionFailed as exc:
                machine.connection_lost(f"{connection.label}: {exc}")
            else:
                machine.receive_data(data)
        elif isinstance(event, TlsRequested):
            if tls_context is None:
                machine.connection_lost("STARTTLS accepted but no TLS context")
                continue
            try:
                await connection.start_tls(tls_context, server_hostname, timeouts.command)
            except ConnectionFailed as exc:
                machine.connection_lost(f"{connection.label}: {exc}")
            else:
                machine.tls_started()
        elif isinstance(event, Ready):
            ready = True
            transaction = None
            while transaction is None and sent < len(jobs):
                current = jobs[sent]
                sent += 1
                transaction = await prepare(current)
            if transaction is None:
                machine.quit()
            else:
                machine.send_mail(transaction)
        elif isinstance(event, TransactionDone):
            assert current is not None
            await on_done(current, event)
        else:
            assert isinstance(event, Closed)
            if out:  # a polite QUIT after a refused session
                try:
                    await connection.write(out, min(timeouts.command, 5.0))
                except ConnectionFailed:
                    pass
            await connection.close()
            reason = None if event.reason is None else _located(connection.label, event.reason)
            return SessionEnd(sent, ready, reason)


def _located(label: str, reason: str) -> str:
    return reason if reason.startswith(label) else f"{label}: {reason}"
