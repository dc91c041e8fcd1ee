"""InputDeadline: how long the next read may wait, against slow-loris clients.

How this works
--------------
An idle timeout that counts from the last read does not stop a client that sends one byte every
few seconds: each byte restarts the clock, and the connection (with its buffers) is held for
ever. Every protocol session (IMAP, SMTP, POP3) therefore tells the deadline, before each read,
where the client is in the stream (:class:`Phase`):

* ``IDLE``     between commands: the protocol's idle timeout alone (IMAP autologout, RFC 5321
  §4.5.3.2, RFC 1939 §3).
* ``LINE``     part of a command line has arrived: the line must be complete within
  ``[limits] command_timeout`` seconds of entering this phase.
* ``PAYLOAD``  an IMAP literal, SMTP DATA or BDAT chunk: big messages may take long, so the
  transfer must keep an average of ``[limits] min_upload_rate`` octets per second, counted from
  the start of the payload, but is never cut before ``command_timeout`` has passed.

A phase change restarts the count, and so does :meth:`InputDeadline.reset`, which the session
calls when a command is complete (a pipelined second command gets its own time).
:meth:`InputDeadline.timeout` returns the read timeout and whether its expiry means "too slow"
(:class:`TooSlow`) rather than "idle"; :meth:`InputDeadline.received` counts payload octets.
The clock is the event loop's monotonic time; nothing here blocks or schedules anything.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable

__all__ = ["InputDeadline", "Phase", "TooSlow"]


class Phase(enum.Enum):
    IDLE = "idle"
    LINE = "line"
    PAYLOAD = "payload"


class TooSlow(Exception):
    """A command line or payload did not arrive within its deadline."""


class InputDeadline:
    __slots__ = ("_clock", "_octets", "_phase", "_since", "command_timeout", "min_rate")

    def __init__(self, command_timeout: float, min_rate: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.command_timeout = command_timeout
        self.min_rate = min_rate
        self._clock = clock
        self._phase = Phase.IDLE
        self._since = 0.0
        self._octets = 0

    def reset(self) -> None:
        """A command is complete: whatever follows is timed afresh."""
        self._phase = Phase.IDLE

    def timeout(self, phase: Phase, idle_timeout: float) -> tuple[float, bool]:
        """The timeout for the next read in ``phase``, and True if its expiry is TooSlow."""
        now = self._clock()
        if phase is not self._phase:
            self._phase, self._since, self._octets = phase, now, 0
        if phase is Phase.IDLE:
            return idle_timeout, False
        allowed = self.command_timeout
        if phase is Phase.PAYLOAD and self.min_rate > 0:
            allowed = max(allowed, self._octets / self.min_rate)
        remaining = self._since + allowed - now
        if remaining < idle_timeout:
            return max(remaining, 0.0), True
        return idle_timeout, False

    def received(self, octets: int) -> None:
        self._octets += octets
