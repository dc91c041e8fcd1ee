"""The outbound queue through the smarthost, against local SMTP sinks with one behaviour each.

Each test runs a real Postier (in-process, listeners on 127.0.0.1:0) whose ``[relay]``
smarthost is a sink on loopback; messages are queued with ``store.enqueue``, the contract the
SMTP side uses. Retry timing is shortened by configuration, never by patching.
"""

from __future__ import annotations

import email
import email.message
import email.policy
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from postier.store.interface import (
    OutboundEnvelope,
    OutboundRecipient,
    QueuedMessage,
    QueueId,
    RecipientState,
    Store,
)
from tests.e2e.queue_sinks import SinkBehaviour, SmtpSink, make_message, wait_until
from tests.harness import RunningServer, start_server

FAST = """
[queue]
retry_schedule = ["1s", "2s"]
poll_interval = 0.1
connect_timeout = 2
command_timeout = 1
data_timeout = 2
{queue}

[relay]
smarthost = "127.0.0.1:{port}"
tls = "none"
"""

Start = Callable[..., Any]


@pytest.fixture
async def launch(tmp_path: Path) -> AsyncIterator[Start]:
    """launch(behaviour, queue="extra [queue] keys") → (server, sink)."""
    started: list[tuple[RunningServer, SmtpSink]] = []

    async def start(behaviour: SinkBehaviour | None = None,
                    queue: str = "") -> tuple[RunningServer, SmtpSink]:
        sink = await SmtpSink(behaviour or SinkBehaviour()).start()
        server = await start_server(tmp_path / f"server{len(started)}",
                                    extra=FAST.format(port=sink.port, queue=queue))
        started.append((server, sink))
        return server, sink

    yield start
    for server, sink in started:
        await server.stop()
        await sink.stop()


async def enqueue(store: Store, *recipients: str, sender: str = "alice@example.test",
                  notify: tuple[str, ...] = (), ret: str | None = None,
                  envid: str | None = None, data: bytes | None = None) -> QueueId:
    account = await store.get_account(sender) if sender else None
    envelope = OutboundEnvelope(
        sender=sender,
        recipients=tuple(OutboundRecipient(r, notify) for r in recipients or ("bob@example.org",)),
        account_id=account.id if account else None, ret=ret, envid=envid)
    return await store.enqueue(data or make_message(sender or "mailer@example.test"), envelope)


async def settled(store: Store, queue_id: QueueId, timeout: float = 20.0) -> QueuedMessage:
    """Wait until every recipient is delivered or failed and no DSN is still owed."""
    async def check() -> QueuedMessage | None:
        message = await store.get_queued(queue_id)
        done = all(r.state.is_final and r.notice is None for r in message.recipients)
        return message if done else None
    found = await wait_until(check, timeout, f"queue {queue_id} settled")
    assert isinstance(found, QueuedMessage)
    return found


async def inbox(server: RunningServer, address: str = "alice@example.test") -> list[bytes]:
    store = server.store
    account = await store.get_account(address)
    assert account is not None
    box = await store.get_mailbox(account.id, "INBOX")
    return [await store.read_message(account.id, record)
            for record in await store.get_messages(account.id, box.id)]


def parse(data: bytes) -> email.message.EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, email.message.EmailMessage)
    return message


def report_fields(dsn: email.message.EmailMessage) -> list[email.message.Message]:
    """The message/delivery-status part as per-message then per-recipient field blocks."""
    assert dsn.get_content_type() == "multipart/report"
    assert dsn.get_param("report-type") == "delivery-status"
    parts = list(dsn.iter_parts())
    assert [p.get_content_type() for p in parts][:2] == ["text/plain", "message/delivery-status"]
    blocks = parts[1].get_payload()
    assert isinstance(blocks, list)
    return blocks


async def test_delivery_through_the_smarthost(launch: Start) -> None:
    server, sink = await launch()
    queue_id = await enqueue(server.store, "bob@example.org", "carol@example.net")
    (received,) = await sink.wait_messages(1)
    assert received.sender == "alice@example.test"
    assert received.recipients == ["bob@example.org", "carol@example.net"]  # one transaction
    assert b"\r\n.leading dot\r\n" in received.data  # dot-stuffed on the wire, unstuffed here
    message = await settled(server.store, queue_id)
    assert [(r.state, r.remote_reply) for r in message.recipients] == [
        (RecipientState.DELIVERED, "250 2.0.0 queued")] * 2
    assert message.recipients[0].remote_mta == "127.0.0.1"
    account = await server.store.get_account("alice@example.test")
    assert account is not None
    status = await server.store.queue_status(account.id, ["<m1@example.test>"])
    assert [m.id for m in status] == [queue_id]
    assert sink.connections == 1
    assert await inbox(server) == []  # no NOTIFY=SUCCESS asked: no report


async def test_4xx_is_retried_on_the_backoff_schedule(launch: Start) -> None:
    behaviour = SinkBehaviour(
        rcpt_reply=lambda address, n: b"451 4.7.1 greylisted, come back later\r\n" if n == 1
        else None)
    server, sink = await launch(behaviour)
    queue_id = await enqueue(server.store)

    async def deferred() -> QueuedMessage | None:
        message = await server.store.get_queued(queue_id)
        return message if message.recipients[0].state is RecipientState.DEFERRED else None
    first = await wait_until(deferred, what="first attempt deferred")
    assert isinstance(first, QueuedMessage)
    recipient = first.recipients[0]
    assert recipient.attempts == 1
    assert recipient.last_error == "451 4.7.1 greylisted, come back later"
    assert recipient.last_attempt is not None
    assert (recipient.next_attempt - recipient.last_attempt).total_seconds() == pytest.approx(
        1.0, abs=0.05)  # retry_schedule[0]
    await sink.wait_messages(1)
    message = await settled(server.store, queue_id)
    assert message.recipients[0].state is RecipientState.DELIVERED
    assert message.recipients[0].attempts == 2
    assert sink.connected_at[1] - sink.connected_at[0] >= 0.95


async def test_5xx_fails_the_recipient_and_bounces_to_the_local_sender(launch: Start) -> None:
    behaviour = SinkBehaviour(rcpt_reply=lambda address, n: b"550 5.1.1 no such user here\r\n"
                              if address.startswith("nobody") else None)
    server, sink = await launch(behaviour)
    queue_id = await enqueue(server.store, "nobody@example.org", "bob@example.org",
                             envid="env-42")
    message = await settled(server.store, queue_id)
    assert [r.state for r in message.recipients] == [RecipientState.FAILED,
                                                     RecipientState.DELIVERED]
    assert (await sink.wait_messages(1))[0].recipients == ["bob@example.org"]
    (bounce,) = await inbox(server)
    assert bounce.startswith(b"Return-Path: <>\r\n")
    dsn = parse(bounce)
    assert dsn["From"].addresses[0].addr_spec == "MAILER-DAEMON@mail.example.test"
    assert dsn["Auto-Submitted"] == "auto-replied"
    assert dsn["In-Reply-To"] == "<m1@example.test>"
    per_message, *recipients = report_fields(dsn)
    assert per_message["Reporting-MTA"] == "dns; mail.example.test"
    assert per_message["Original-Envelope-Id"] == "env-42"
    assert len(recipients) == 1  # only the failed one is reported
    assert recipients[0]["Final-Recipient"] == "rfc822; nobody@example.org"
    assert recipients[0]["Action"] == "failed"
    assert recipients[0]["Status"] == "5.1.1"
    assert recipients[0]["Diagnostic-Code"] == "smtp; 550 5.1.1 no such user here"
    assert recipients[0]["Remote-MTA"] == "dns; 127.0.0.1"
    returned = list(dsn.iter_parts())[2]
    assert returned.get_content_type() == "message/rfc822"  # small message, no RET: all of it
    assert "leading dot" in returned.as_string()


async def test_expiry_fails_and_bounces_with_the_last_error(launch: Start) -> None:
    behaviour = SinkBehaviour(rcpt_reply=lambda address, n: b"452 4.2.2 mailbox full\r\n")
    server, _sink = await launch(behaviour, queue='expire_after = "2s"')
    queue_id = await enqueue(server.store, ret="HDRS")
    message = await settled(server.store, queue_id)
    recipient = message.recipients[0]
    assert recipient.state is RecipientState.FAILED
    assert recipient.status == "5.4.7"
    assert recipient.attempts >= 2
    assert recipient.last_error is not None
    assert recipient.last_error.startswith("gave up after")
    (bounce,) = await inbox(server)
    dsn = parse(bounce)
    _per_message, report = report_fields(dsn)
    assert report["Action"] == "failed"
    assert report["Status"] == "5.4.7"
    assert report["Diagnostic-Code"] == "smtp; 452 4.2.2 mailbox full"
    assert list(dsn.iter_parts())[2].get_content_type() == "text/rfc822-headers"  # RET=HDRS


async def test_a_bounce_is_never_bounced(launch: Start) -> None:
    behaviour = SinkBehaviour(rcpt_reply=lambda address, n: b"550 5.1.1 unknown\r\n")
    server, _sink = await launch(behaviour)
    queue_id = await enqueue(server.store, sender="")
    message = await settled(server.store, queue_id)
    assert message.recipients[0].state is RecipientState.FAILED
    assert message.recipients[0].notice is None
    assert [m.id for m in await server.store.list_queue()] == [queue_id]  # nothing new queued
    assert await inbox(server) == []


async def test_notify_never_suppresses_and_success_reports_relayed(launch: Start) -> None:
    behaviour = SinkBehaviour(rcpt_reply=lambda address, n: b"550 5.1.1 unknown\r\n"
                              if address.startswith("nobody") else None)
    server, _sink = await launch(behaviour)
    silent = await enqueue(server.store, "nobody@example.org", notify=("NEVER",))
    await settled(server.store, silent)
    success = await enqueue(server.store, "bob@example.org", notify=("SUCCESS",))
    await settled(server.store, success)
    (report_message,) = await inbox(server)
    dsn = parse(report_message)
    _per_message, report = report_fields(dsn)
    assert report["Action"] == "relayed"  # the sink offers no DSN: RFC 3461 §5.2.2.3
    assert report["Status"] == "2.0.0"
    assert list(dsn.iter_parts())[2].get_content_type() == "text/rfc822-headers"


async def test_delay_notice_then_delivery(launch: Start) -> None:
    behaviour = SinkBehaviour(rcpt_reply=lambda address, n: b"451 4.3.0 busy\r\n" if n <= 2
                              else None)
    server, sink = await launch(behaviour, queue='delay_notice_after = "0.5s"')
    queue_id = await enqueue(server.store)
    await sink.wait_messages(1)
    message = await settled(server.store, queue_id)
    assert message.recipients[0].state is RecipientState.DELIVERED
    assert message.recipients[0].delay_notified
    (notice,) = await inbox(server)
    dsn = parse(notice)
    _per_message, report = report_fields(dsn)
    assert report["Action"] == "delayed"
    assert report["Status"] == "4.3.0"
    assert report["Will-Retry-Until"]


@pytest.mark.parametrize(("behaviour", "reason"), [
    (SinkBehaviour(hang_before_greeting=True), "timeout waiting for the greeting"),
    (SinkBehaviour(close_in_data=True), "connection closed by the server while waiting for the"
                                        " reply to the end of the message data"),
    (SinkBehaviour(greeting=b"hello, I am not an SMTP server\r\n"),
     "protocol error from the server: not an SMTP reply"),
], ids=["hanging", "closing-mid-data", "garbage"])
async def test_a_bad_remote_defers_with_a_readable_reason(launch: Start, behaviour: SinkBehaviour,
                                                          reason: str) -> None:
    server, sink = await launch(behaviour)
    queue_id = await enqueue(server.store)

    async def deferred() -> QueuedMessage | None:
        message = await server.store.get_queued(queue_id)
        return message if message.recipients[0].attempts >= 1 else None
    message = await wait_until(deferred, what="an attempt")
    assert isinstance(message, QueuedMessage)
    recipient = message.recipients[0]
    assert recipient.state is RecipientState.DEFERRED
    assert recipient.last_error is not None and reason in recipient.last_error
    assert recipient.lease_until is None
    assert sink.messages == []


async def test_starttls_to_the_smarthost_is_required_and_verified(launch: Start,
                                                                  tmp_path: Path) -> None:
    server, sink = await launch()  # the sink offers no STARTTLS
    await server.stop()
    # The same sink, now behind a required STARTTLS: the attempt is deferred, nothing is sent.
    server2 = await start_server(tmp_path / "strict", extra=FAST.format(
        port=sink.port, queue="").replace('tls = "none"', 'tls = "starttls"'))
    try:
        queue_id = await enqueue(server2.store)

        async def deferred() -> QueuedMessage | None:
            message = await server2.store.get_queued(queue_id)
            return message if message.recipients[0].attempts >= 1 else None
        message = await wait_until(deferred, what="an attempt")
        assert isinstance(message, QueuedMessage)
        assert "does not offer STARTTLS" in (message.recipients[0].last_error or "")
        assert sink.messages == []
    finally:
        await server2.stop()
