"""The MX path itself: a tiny DNS server on loopback answers MX and A queries, and SMTP sinks
listen on loopback addresses (127.0.0.1, 127.0.0.2, ...) at one port, the configured
``[queue] remote_port``."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme

from postier.store.interface import QueuedMessage, QueueId, RecipientState
from tests.e2e.queue_sinks import DnsServer, SinkBehaviour, SmtpSink, wait_until
from tests.e2e.test_queue_delivery import enqueue, inbox, parse, report_fields, settled
from tests.harness import RunningServer, start_server

CONFIG = """
[dns]
nameservers = ["127.0.0.1:{dns}"]

[queue]
retry_schedule = ["30s"]
poll_interval = 0.1
connect_timeout = 2
command_timeout = {command_timeout}
data_timeout = 5
dns_timeout = 2
remote_port = {port}
"""


@dataclass
class World:
    dns: DnsServer
    sinks: dict[str, SmtpSink]  # by loopback address
    port: int
    directory: Path
    server: RunningServer | None = None

    async def sink(self, address: str, behaviour: SinkBehaviour | None = None) -> SmtpSink:
        sink = SmtpSink(behaviour or SinkBehaviour())
        await sink.start(address, self.port)
        self.sinks[address] = sink
        return sink

    async def start(self, command_timeout: float = 2.0) -> RunningServer:
        self.server = await start_server(self.directory, extra=CONFIG.format(
            dns=self.dns.port, port=self.port, command_timeout=command_timeout))
        return self.server


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    dns = await DnsServer().start()
    first = await SmtpSink().start("127.0.0.1", 0)
    state = World(dns, {"127.0.0.1": first}, first.port, tmp_path / "server")
    yield state
    if state.server is not None:
        await state.server.stop()
    for sink in state.sinks.values():
        await sink.stop()
    dns.stop()


async def attempted(server: RunningServer, queue_id: QueueId) -> QueuedMessage:
    async def check() -> QueuedMessage | None:
        message = await server.store.get_queued(queue_id)
        return message if all(r.attempts for r in message.recipients) else None
    found = await wait_until(check, what="an attempt")
    assert isinstance(found, QueuedMessage)
    return found


async def test_mx_hosts_in_preference_order_with_fallback(world: World) -> None:
    world.dns.add("example.org", "MX", "10 mx1.example.org.", "20 mx2.example.org.")
    world.dns.add("mx1.example.org", "A", "127.0.0.3")  # nothing listens there
    world.dns.add("mx2.example.org", "A", "127.0.0.1")
    server = await world.start()
    queue_id = await enqueue(server.store, "bob@example.org", "carol@example.org")
    (received,) = await world.sinks["127.0.0.1"].wait_messages(1)
    assert received.recipients == ["bob@example.org", "carol@example.org"]
    message = await settled(server.store, queue_id)
    assert {r.remote_mta for r in message.recipients} == {"mx2.example.org"}
    assert ("mx1.example.org.", "A") in world.dns.queries  # tried first


async def test_implicit_mx_uses_the_domain_address(world: World) -> None:
    world.dns.add("plain.example", "A", "127.0.0.1")
    server = await world.start()
    queue_id = await enqueue(server.store, "bob@plain.example")
    await world.sinks["127.0.0.1"].wait_messages(1)
    message = await settled(server.store, queue_id)
    assert message.recipients[0].remote_mta == "plain.example"


@pytest.mark.parametrize(("setup", "state", "status", "error"), [
    (lambda dns: dns.add("nomail.example", "MX", "0 ."), RecipientState.FAILED, "5.1.10",
     "does not accept mail (null MX"),
    (lambda dns: dns.nxdomain.add("nomail.example."), RecipientState.FAILED, "5.1.2",
     "no such domain"),
    (lambda dns: dns.servfail.add("nomail.example."), RecipientState.DEFERRED, "4.4.3",
     "MX lookup for nomail.example failed"),
], ids=["null-mx", "nxdomain", "servfail"])
async def test_dns_answers_decide_permanent_or_temporary(world: World, setup: object,
                                                         state: RecipientState, status: str,
                                                         error: str) -> None:
    setup(world.dns)  # type: ignore[operator]
    server = await world.start()
    queue_id = await enqueue(server.store, "bob@nomail.example")
    message = await attempted(server, queue_id)
    recipient = message.recipients[0]
    assert (recipient.state, recipient.status) == (state, status)
    assert error in (recipient.last_error or "")
    if state is RecipientState.FAILED:
        await settled(server.store, queue_id)
        (bounce,) = await inbox(server)
        _per_message, report = report_fields(parse(bounce))
        assert report["Status"] == status


async def test_a_hanging_mx_does_not_hold_back_other_domains(world: World) -> None:
    await world.sink("127.0.0.2", SinkBehaviour(hang_before_greeting=True))
    world.dns.add("slow.example", "MX", "10 mx.slow.example.")
    world.dns.add("mx.slow.example", "A", "127.0.0.2")
    world.dns.add("fast.example", "MX", "10 mx.fast.example.")
    world.dns.add("mx.fast.example", "A", "127.0.0.1")
    server = await world.start(command_timeout=30)
    slow = await enqueue(server.store, "bob@slow.example")
    fast = await enqueue(server.store, "bob@fast.example")
    await world.sinks["127.0.0.1"].wait_messages(1, timeout=5)
    assert (await settled(server.store, fast, timeout=5)).recipients[0].state \
        is RecipientState.DELIVERED
    waiting = (await server.store.get_queued(slow)).recipients[0]
    assert waiting.state is RecipientState.PENDING and waiting.lease_until is not None


async def test_opportunistic_starttls_without_certificate_checks(world: World) -> None:
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    trustme.CA().issue_cert("mx.tls.example").configure_cert(server_context)  # untrusted CA
    sink = await world.sink("127.0.0.2", SinkBehaviour(starttls=server_context))
    world.dns.add("tls.example", "MX", "10 mx.tls.example.")
    world.dns.add("mx.tls.example", "A", "127.0.0.2")
    server = await world.start()
    queue_id = await enqueue(server.store, "bob@tls.example")
    (received,) = await sink.wait_messages(1)
    assert received.tls
    await settled(server.store, queue_id)


async def test_failed_tls_handshake_defers(world: World) -> None:
    await world.sink("127.0.0.2", SinkBehaviour(broken_tls=True))
    world.dns.add("badtls.example", "MX", "10 mx.badtls.example.")
    world.dns.add("mx.badtls.example", "A", "127.0.0.2")
    server = await world.start()
    queue_id = await enqueue(server.store, "bob@badtls.example")
    message = await attempted(server, queue_id)
    recipient = message.recipients[0]
    assert recipient.state is RecipientState.DEFERRED
    assert "TLS handshake failed" in (recipient.last_error or "")
    assert world.sinks["127.0.0.2"].messages == []
