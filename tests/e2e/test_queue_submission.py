"""The whole outbound path: a user submits over SMTP (STARTTLS, AUTH), the queue signs the
message with DKIM and relays it to the smarthost, and the sender's delivery status says so."""

from __future__ import annotations

import asyncio
import smtplib
from pathlib import Path

import dkim

from postier.mailauth.dkim import dns_record
from postier.queue.signing import ensure_key
from postier.store.interface import RecipientState
from tests.e2e.queue_sinks import SmtpSink, make_message, wait_until
from tests.e2e.test_dkim import dnsfunc_for
from tests.harness import start_server


async def test_submitted_mail_is_signed_relayed_and_reported(tmp_path: Path) -> None:
    sink = await SmtpSink().start()
    server = await start_server(tmp_path / "server", extra=f"""
[queue]
poll_interval = 0.1
[relay]
smarthost = "127.0.0.1:{sink.port}"
tls = "none"
""")
    try:
        key, _ = ensure_key(server.server.config.data_dir, "example.test", "postier")

        def submit() -> dict[str, tuple[int, bytes]]:
            with smtplib.SMTP("127.0.0.1", server.port("submission"), timeout=10,
                              local_hostname="client.example") as client:
                client.starttls(context=server.client_tls())
                client.login("alice@example.test", "alice-password")
                return client.sendmail("alice@example.test", ["bob@example.org"],
                                       make_message(message_id="sub1@example.test"),
                                       mail_options=["RET=HDRS", "ENVID=track-1"],
                                       rcpt_options=["NOTIFY=FAILURE,DELAY"])

        assert await asyncio.to_thread(submit) == {}
        (received,) = await sink.wait_messages(1)
        assert received.sender == "alice@example.test"
        assert received.recipients == ["bob@example.org"]
        lookup = dnsfunc_for(dns_record(key.read_bytes()), "postier._domainkey.example.test")
        assert dkim.verify(received.data, dnsfunc=lookup)
        assert b"Received: from client.example" in received.data

        account = await server.store.get_account("alice@example.test")
        assert account is not None

        async def delivered() -> bool:
            status = await server.store.queue_status(account.id, ["sub1@example.test"])
            return bool(status) and status[0].recipients[0].state is RecipientState.DELIVERED
        await wait_until(delivered, what="delivery status")
        (status,) = await server.store.queue_status(account.id, ["sub1@example.test"])
        assert status.envelope.envid == "track-1" and status.envelope.ret == "HDRS"
        assert status.recipients[0].notify == ("FAILURE", "DELAY")
        assert status.recipients[0].remote_reply == "250 2.0.0 queued"
    finally:
        await server.stop()
        await sink.stop()
