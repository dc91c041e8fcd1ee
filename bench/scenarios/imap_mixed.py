"""Mixed IMAP load in the manner of imaptest: C clients (10, then 50), two per account, each
looping for a fixed time through one session:

    LOGIN, SELECT INBOX, FETCH of the 10 last messages (UID FLAGS RFC822.SIZE BODY.PEEK[HEADER]),
    STORE +FLAGS (\\Seen) on one of them, APPEND a 3 KB message, NOOP,
    UID STORE +FLAGS.SILENT (\\Deleted) on the oldest message and UID EXPUNGE of it, LOGOUT.

Every command is one operation; the rate is operations per second over all clients. Two
clients share each mailbox, so each sees the other's appends and expunges. A state error is any
tagged NO or BAD, a FETCH for a sequence number above the session's EXISTS count, an EXISTS
count that goes down, a SELECT without UIDVALIDITY, or an APPEND without APPENDUID (both
servers advertise UIDPLUS). Each account starts with 50 messages.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field

from bench.clients import ClientError, ImapClient, ImapReply
from bench.common import Target
from bench.load import Stopwatch, populate_imap
from bench.messages import fixed_size_message

NAME = "imap_mixed"
FIRST_USER = 35          # bench35 ...
START_MESSAGES = 50
_FETCH_SEQ = re.compile(rb"^\* (\d+) FETCH ")
_EXPUNGE = re.compile(rb"^\* (\d+) EXPUNGE")
_UID = re.compile(rb"UID (\d+)")


@dataclass
class Tally:
    operations: int = 0
    sessions: int = 0
    errors: list[str] = field(default_factory=list)


class _Session:
    """One client's view of the selected mailbox: the EXISTS count, kept by the untagged
    responses as RFC 9051 §7.4.1 says."""

    def __init__(self, client: ImapClient, tally: Tally) -> None:
        self.client, self.tally, self.exists = client, tally, 0

    def _track(self, reply: ImapReply, command: str) -> None:
        for line in reply.untagged:
            if line.endswith(b" EXISTS\r\n"):
                count = int(line.split()[1])
                if count < self.exists:
                    self._error(f"{command}: EXISTS went down from {self.exists} to {count} "
                                "without EXPUNGE")
                self.exists = count
            elif _EXPUNGE.match(line):
                self.exists -= 1
            else:
                fetch = _FETCH_SEQ.match(line)
                if fetch and int(fetch.group(1)) > self.exists:
                    self._error(f"{command}: FETCH for message {fetch.group(1).decode()} "
                                f"of {self.exists}")
        if reply.status != "OK":
            self._error(f"{command}: {reply.text.decode(errors='replace').strip()}")
        self.tally.operations += 1

    def _error(self, text: str) -> None:
        if len(self.tally.errors) < 1000:
            self.tally.errors.append(text)

    async def run(self, command: str) -> ImapReply:
        reply = await self.client.command(command, check=False)
        self._track(reply, command.split(" ", 1)[0] if not command.startswith("UID")
                    else " ".join(command.split(" ", 2)[:2]))
        return reply


async def _one_session(target: Target, user: str, tally: Tally, number: int) -> None:
    client = await ImapClient.connect(target.imap)  # type: ignore[arg-type]
    session = _Session(client, tally)
    try:
        await session.run(f'LOGIN "{user}" "{target.password}"')
        selected = await session.run("SELECT INBOX")
        if not any(b"UIDVALIDITY" in line for line in selected.untagged):
            session._error("SELECT: no UIDVALIDITY")
        if session.exists:
            low = max(1, session.exists - 9)
            fetched = await session.run(
                f"FETCH {low}:{session.exists} (UID FLAGS RFC822.SIZE BODY.PEEK[HEADER])")
            if session.exists:
                await session.run(f"STORE {session.exists} +FLAGS (\\Seen)")
            uids = [int(m.group(1)) for line in fetched.untagged
                    if (m := _UID.search(line[:60]))]
        else:
            uids = []
        message = fixed_size_message(number, user, 3000)
        appended = await client.append("INBOX", message)
        session._track(appended, "APPEND")
        if appended.status == "OK" and b"APPENDUID" not in appended.text:
            session._error("APPEND: no APPENDUID")
        await session.run("NOOP")
        oldest = await session.run("UID SEARCH ALL") if not uids else None
        candidates = uids or [int(x) for line in (oldest.untagged if oldest else [])
                              if line.startswith(b"* SEARCH") for x in line.split()[2:]]
        if candidates:
            uid = min(candidates)
            await session.run(f"UID STORE {uid} +FLAGS.SILENT (\\Deleted)")
            await session.run(f"UID EXPUNGE {uid}")
        await session.run("LOGOUT")
        tally.sessions += 1
    finally:
        client.writer.close()


async def _client_loop(target: Target, user: str, tally: Tally, until: float,
                       index: int) -> None:
    number = index * 100_000
    while time.perf_counter() < until:
        number += 1
        try:
            await _one_session(target, user, tally, number)
        except (ClientError, OSError, asyncio.IncompleteReadError) as exc:
            tally.errors.append(f"connection: {exc!r}")
            await asyncio.sleep(0.1)


async def prepare(target: Target, clients: int) -> list[str]:
    users = [target.user(FIRST_USER + n) for n in range((clients + 1) // 2)]
    counts = await asyncio.to_thread(target.count_messages, users)
    await asyncio.gather(*(
        populate_imap(target, user, [fixed_size_message(n, user, 3000)
                                     for n in range(START_MESSAGES)], connections=1)
        for user in users if counts.get(user, 0) == 0))
    return users


async def run(target: Target, clients: int = 10, seconds: float = 20.0) -> dict[str, object]:
    if target.imap is None:
        raise RuntimeError("no imap listener")
    users = await prepare(target, clients)
    tally = Tally()
    with Stopwatch(target) as watch:
        started = time.perf_counter()
        await asyncio.gather(*(_client_loop(target, users[i % len(users)], tally,
                                            started + seconds, i) for i in range(clients)))
    elapsed = watch.wall
    return {**watch.stats(), "clients": clients, "operations": tally.operations,
            "operations_per_s": round(tally.operations / elapsed, 1),
            "sessions": tally.sessions, "state_errors": len(tally.errors),
            "first_errors": tally.errors[:5]}
