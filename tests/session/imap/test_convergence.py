"""Property: whatever STORE/EXPUNGE/APPEND/MOVE commands several sessions interleave, each
session's view after NOOP is the store's state, with consistent sequence numbers."""

from __future__ import annotations

import asyncio
import re
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from postier.store.sqlite.store import SqliteStore
from tests.harness import add_users
from tests.session.imap.client import ImapClient, account_of, connect, make_services, message

_OPERATIONS = st.lists(
    st.tuples(st.integers(0, 2),
              st.sampled_from(["store", "unstore", "delete", "expunge", "append", "move"]),
              st.integers(1, 8)),
    min_size=1, max_size=14)

_FETCH = re.compile(r"^\* (\d+) FETCH \(UID (\d+) FLAGS \(([^)]*)\)")


async def _view(client: ImapClient) -> list[tuple[int, frozenset[str]]]:
    """(uid, flags) in sequence order, as the session reports them after NOOP."""
    await client.ok("NOOP")
    lines = await client.ok("FETCH 1:* (UID FLAGS)")
    out = []
    for line in lines[:-1]:
        found = _FETCH.match(line)
        if found is None:
            continue
        assert int(found.group(1)) == len(out) + 1, lines  # 1, 2, 3, ... no holes
        flags = frozenset(found.group(3).split()) - {"\\Recent"}
        out.append((int(found.group(2)), flags))
    return out


async def _scenario(operations: list[tuple[int, str, int]], qresync: list[bool]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        store = await asyncio.to_thread(SqliteStore.open, Path(directory) / "store")
        try:
            await add_users(store)
            services = make_services(store)
            clients: list[ImapClient] = []
            for index, enable in enumerate(qresync):
                client, _ = await connect(services)
                await client.login()
                if index == 0:
                    await client.ok("CREATE Other")
                    for _ in range(3):
                        await client.ok(f"APPEND INBOX {{{len(message())}+}}\r\n"
                                        f"{message().decode()}")
                if enable:
                    await client.ok("ENABLE QRESYNC")
                await client.ok("SELECT INBOX")
                clients.append(client)
            for who, operation, number in operations:
                client = clients[who % len(clients)]
                await client.ok("NOOP")
                exists = len(await _view(client))
                seq = (number - 1) % exists + 1 if exists else 0
                match operation:
                    case "store" if seq:
                        await client.ok(f"STORE {seq} +FLAGS (\\Seen $Work)")
                    case "unstore" if seq:
                        await client.ok(f"STORE {seq} -FLAGS (\\Seen)")
                    case "delete" if seq:
                        await client.ok(f"STORE {seq} +FLAGS.SILENT (\\Deleted)")
                    case "expunge":
                        await client.ok("EXPUNGE")
                    case "append":
                        data = message(f"m{number}").decode()
                        await client.ok(f"APPEND INBOX {{{len(data)}+}}\r\n{data}")
                    case "move" if seq:
                        await client.ok(f"MOVE {seq} Other")
            account = await account_of(store)
            box = await store.get_mailbox(account, "INBOX")
            truth = [(s.uid, frozenset(s.flags)) for s in
                     await store.message_states(account, box.id)]
            for client in clients:
                assert await _view(client) == truth
            for client in clients:
                await client.stop()
        finally:
            await store.close()


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(_OPERATIONS, st.lists(st.booleans(), min_size=2, max_size=3))
def test_sessions_converge_to_the_store(operations: list[tuple[int, str, int]],
                                        qresync: list[bool]) -> None:
    asyncio.run(_scenario(operations, qresync))
