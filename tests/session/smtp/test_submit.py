"""The local submission path: same policy and delivery as SMTP, without a socket."""

from __future__ import annotations

from postier.services import Services
from postier.smtp.delivery import ClientInfo
from postier.smtp.submit import submit_message
from postier.store.interface import Store
from postier.types import Principal
from tests.session.smtp.conversation import code_of, inbox

BODY = b"From: alice@example.test\r\nSubject: web\r\n\r\nSent from the web.\r\n"


async def alice(store: Store) -> Principal:
    account = await store.get_account("alice@example.test")
    assert account is not None
    return Principal(account.id, account.address)


async def test_user_submission_goes_local_and_remote(services: Services, users: Store) -> None:
    result = await submit_message(
        services, await alice(users), "alice@example.test",
        ["bob@example.test", "carol@remote.example", "nobody@example.test"], BODY,
        client=ClientInfo("webmail", "198.51.100.4", "HTTPSA"))
    assert result.accepted and result.queue_id is not None
    assert result.reply.lines == (f"OK queued as {result.queue_id}",)
    assert {a: code_of(r.to_bytes().decode()) for a, r in result.refused.items()} == {
        "nobody@example.test": "550 5.1.1"}
    [message] = await inbox(users, "bob@example.test")
    assert message.startswith(b"Return-Path: <alice@example.test>\r\nReceived: from webmail"
                              b" ([198.51.100.4])\r\n\tby mail.example.test with HTTPSA id ")
    [queued] = await users.list_queue()
    assert [r.address for r in queued.envelope.recipients] == ["carol@remote.example"]


async def test_user_submission_checks_the_sender(services: Services, users: Store) -> None:
    principal = await alice(users)
    result = await submit_message(services, principal, "bob@example.test",
                                  ["bob@example.test"], BODY)
    assert not result.accepted and code_of(result.reply.to_bytes().decode()) == "553 5.7.1"
    result = await submit_message(services, principal, "", ["bob@example.test"], BODY)
    assert code_of(result.reply.to_bytes().decode()) == "553 5.7.1"
    assert await inbox(users, "bob@example.test") == []


async def test_system_mail_may_use_the_null_sender(services: Services, users: Store) -> None:
    result = await submit_message(services, None, "", ["alice@example.test"], BODY)
    assert result.accepted
    [message] = await inbox(users, "alice@example.test")
    assert message.startswith(b"Return-Path: <>\r\nReceived: by mail.example.test (Postier, "
                              b"local submission) id ")
    assert b"\tfor <alice@example.test>; " in message


async def test_bad_input_is_refused_like_on_the_wire(services: Services, users: Store) -> None:
    principal = await alice(users)

    async def code(sender: str, recipients: list[str], data: bytes = BODY) -> str:
        result = await submit_message(services, principal, sender, recipients, data)
        return code_of(result.reply.to_bytes().decode())

    assert await code("alice@example.test> ENVID=x", ["bob@example.test"]) == "501 5.1.7"
    assert await code("alice@example.test\r\nRSET", ["bob@example.test"]) == "501 5.1.7"
    assert await code("alice@example.test", ["bob@example.test> NOTIFY=NEVER"]) == "554 5.5.1"
    result = await submit_message(services, principal, "alice@example.test",
                                  ["bob@example.test> NOTIFY=NEVER"], BODY)
    [refusal] = result.refused.values()
    assert code_of(refusal.to_bytes().decode()) == "501 5.1.3"
    assert await code("alice@example.test", ["bob@example.test"], b"bare\nLF\r\n") == "550 5.6.11"
    assert await code("alice@example.test", []) == "554 5.5.1"
    too_big = b"x" * (services.config.limits.max_message_size + 1)
    assert await code("alice@example.test", ["bob@example.test"], too_big) == "552 5.3.4"
    assert await inbox(users, "bob@example.test") == []
