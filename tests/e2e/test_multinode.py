"""Several ``postier serve`` processes on one PostgreSQL database, as behind a load balancer.

Each node is a real process with its own ports and its own data_dir (run/ files, DKIM keys)
and the same ``[store] dsn``. The tests check what a cluster must guarantee: an IMAP IDLE on
one node wakes for mail delivered over SMTP to another; concurrent deliveries through both
nodes never share a UID; a POP3 session on one node locks the maildrop on the other; every
queued message goes out exactly once while both nodes run queue runners; and the recipients a
killed node had claimed are delivered by the other once the leases end.
"""

from __future__ import annotations

import asyncio
import poplib
import smtplib
import ssl
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import imapclient
import pytest

from postier.store.interface import OutboundEnvelope, OutboundRecipient, RecipientState
from postier.store.postgres.store import PostgresStore
from tests.e2e.queue_sinks import SinkBehaviour, SmtpSink, make_message, wait_until
from tests.harness import ServerProcess, add_users, write_config
from tests.postgres_support import fresh_schema

pytestmark = pytest.mark.slow

BOB = "bob@example.test"
ALICE = "alice@example.test"


@dataclass
class Node:
    process: ServerProcess
    directory: Path
    ports: dict[str, int]

    def tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.directory / "ca.pem"))


@dataclass
class Cluster:
    dsn: str
    store: PostgresStore  # the test's own connection to the shared store (a third "node")
    sink: SmtpSink
    root: Path
    nodes: list[Node]

    def config(self, name: str, queue: str = "") -> Path:
        return write_config(self.root / name, extra=f"""
[store]
backend = "postgresql"
dsn = "{self.dsn}"

[queue]
poll_interval = 0.2
connect_timeout = 5
command_timeout = 30
retry_schedule = ["1s"]
{queue}

[relay]
smarthost = "127.0.0.1:{self.sink.port}"
tls = "none"
""")

    async def start(self, name: str, queue: str = "") -> Node:
        process = ServerProcess(self.config(name, queue))
        ports = await asyncio.to_thread(process.start)
        node = Node(process, self.root / name, ports)
        self.nodes.append(node)
        return node


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[Cluster]:
    async with fresh_schema() as dsn:
        store = await PostgresStore.open(dsn)
        sink = await SmtpSink().start()
        built = Cluster(dsn, store, sink, tmp_path, [])
        try:
            await add_users(store)
            yield built
        finally:
            for node in built.nodes:
                node.process.kill()
            await sink.stop()
            await store.close()


def _idle_until_exists(node: Node, ready: asyncio.Event,
                       loop: asyncio.AbstractEventLoop) -> list[tuple[int, bytes]]:
    with imapclient.IMAPClient("127.0.0.1", port=node.ports["imaps"],
                               ssl_context=node.tls()) as client:
        client.login(BOB, "bob-password")
        client.select_folder("INBOX")
        client.idle()
        loop.call_soon_threadsafe(ready.set)
        seen: list[tuple[int, bytes]] = []
        for _ in range(20):
            seen += [(number, kind) for number, kind, *_ in client.idle_check(timeout=1)
                     if isinstance(number, int)]
            if any(kind == b"EXISTS" for _, kind in seen):
                break
        client.idle_done()
        client.logout()
        return seen


def _send(node: Node, recipient: str, subject: str) -> None:
    with smtplib.SMTP("127.0.0.1", node.ports["smtp"], timeout=20) as client:
        client.sendmail("someone@remote.example", [recipient],
                        make_message("someone@remote.example", recipient, subject=subject,
                                     message_id=f"{subject.replace(' ', '-')}@remote.example"))


async def test_idle_on_one_node_wakes_for_smtp_delivery_to_another(cluster: Cluster) -> None:
    first = await cluster.start("a")
    second = await cluster.start("b")
    ready = asyncio.Event()
    watcher = asyncio.create_task(asyncio.to_thread(
        _idle_until_exists, first, ready, asyncio.get_running_loop()))
    await asyncio.wait_for(ready.wait(), 20)
    await asyncio.sleep(0.2)  # IDLE is running on node a
    await asyncio.to_thread(_send, second, BOB, "across nodes")
    assert (1, b"EXISTS") in await asyncio.wait_for(watcher, 30)


async def test_concurrent_smtp_deliveries_through_both_nodes_get_distinct_uids(
        cluster: Cluster) -> None:
    nodes = [await cluster.start("a"), await cluster.start("b")]
    per_node = 25

    def deliver_all() -> None:
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda i: _send(nodes[i % 2], BOB, f"parallel {i}"),
                          range(2 * per_node)))

    await asyncio.to_thread(deliver_all)
    account = await cluster.store.get_account(BOB)
    assert account is not None
    inbox = await cluster.store.get_mailbox(account.id, "INBOX")
    records = await cluster.store.get_messages(account.id, inbox.id)
    assert [r.uid for r in records] == list(range(1, 2 * per_node + 1))
    assert len({r.modseq for r in records}) == len(records)
    assert inbox.uidnext == 2 * per_node + 1


@contextmanager
def _pop3(node: Node) -> Iterator[poplib.POP3_SSL]:
    client = poplib.POP3_SSL("127.0.0.1", node.ports["pop3s"], context=node.tls(), timeout=10)
    try:
        yield client
    finally:
        client.close()


async def test_a_pop3_session_on_one_node_locks_the_maildrop_on_the_other(
        cluster: Cluster) -> None:
    first = await cluster.start("a")
    second = await cluster.start("b")

    def conversation() -> None:
        with _pop3(first) as one, _pop3(second) as two:
            one.user(ALICE)
            one.pass_("alice-password")
            two.user(ALICE)
            with pytest.raises(poplib.error_proto, match=r"\[IN-USE\]"):
                two.pass_("alice-password")
            one.quit()
        with _pop3(second) as two:
            two.user(ALICE)
            assert two.pass_("alice-password").startswith(b"+OK")
            two.quit()

    await asyncio.to_thread(conversation)


async def _enqueue(store: PostgresStore, count: int, tag: str) -> None:
    for i in range(count):
        await store.enqueue(make_message(subject=f"{tag} {i}", message_id=f"{tag}-{i}@x"),
                            OutboundEnvelope(ALICE, (OutboundRecipient(f"r{i}@remote.example"),)))


def _message_ids(sink: SmtpSink) -> list[str]:
    ids = []
    for received in sink.messages:
        for line in received.data.split(b"\r\n"):
            if line.lower().startswith(b"message-id:"):
                ids.append(line.split(b"<")[1].split(b">")[0].decode())
    return ids


async def _all_delivered(store: PostgresStore) -> bool:
    queued = await store.list_queue()
    return bool(queued) and all(r.state is RecipientState.DELIVERED
                                for m in queued for r in m.recipients)


async def test_each_queued_message_goes_out_once_with_two_runners(cluster: Cluster) -> None:
    await cluster.start("a")
    await cluster.start("b")
    await _enqueue(cluster.store, 40, "once")
    await cluster.sink.wait_messages(40, timeout=60)
    await wait_until(lambda: _all_delivered(cluster.store), 30, "every recipient delivered")
    await asyncio.sleep(1.0)  # anything sent twice would have arrived by now
    ids = _message_ids(cluster.sink)
    assert sorted(ids) == sorted(f"once-{i}@x" for i in range(40))
    attempts = [r.attempts for m in await cluster.store.list_queue() for r in m.recipients]
    assert attempts == [1] * 40


async def test_a_killed_nodes_claims_are_delivered_by_the_other(cluster: Cluster) -> None:
    cluster.sink.behaviour = SinkBehaviour(hang_before_greeting=True)
    first = await cluster.start("a", queue='lease = "3s"')
    await _enqueue(cluster.store, 5, "orphan")

    async def claimed() -> bool:
        queued = await cluster.store.list_queue()
        return len(queued) == 5 and all(r.lease_until is not None
                                        for m in queued for r in m.recipients)
    await wait_until(claimed, 20, "node a claimed the queue")
    await wait_until(lambda: cluster.sink.connections > 0, 20, "node a connected")
    first.process.kill()  # dies mid-delivery, holding the leases
    cluster.sink.behaviour = SinkBehaviour()
    await cluster.start("b", queue='lease = "3s"')
    await cluster.sink.wait_messages(5, timeout=30)
    await wait_until(lambda: _all_delivered(cluster.store), 30, "every recipient delivered")
    assert sorted(_message_ids(cluster.sink)) == sorted(f"orphan-{i}@x" for i in range(5))
