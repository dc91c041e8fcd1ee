"""The submission listeners as conversations: TLS before AUTH, SASL, sender ownership, queue."""

from __future__ import annotations

from pathlib import Path

import pytest

from postier.config import AuthSection
from postier.services import Services
from postier.store.interface import Store
from tests.session.smtp.conversation import (
    Client,
    ScramClient,
    b64,
    code_of,
    connect,
    inbox,
    make_services,
    make_tls,
)

BODY = b"From: alice@example.test\r\nSubject: out\r\n\r\nHello.\r\n"
ALICE_PLAIN = b64("\0alice@example.test\0alice-password")


async def submit(services: Services, **kwargs: bool) -> Client:
    """A submission session over TLS (as on port 465), authenticated as alice."""
    client = await connect(services, "submissions", tls=True, **kwargs)
    assert await client.code(f"AUTH PLAIN {ALICE_PLAIN}") == "235 2.7.0"
    return client


async def send(client: Client, sender: str, recipients: list[str], *, params: str = "") -> str:
    assert await client.code(f"MAIL FROM:<{sender}>{params}") == "250 2.1.0"
    for recipient in recipients:
        assert await client.code(f"RCPT TO:<{recipient}>") == "250 2.1.5"
    assert (await client.command("DATA")).startswith("354")
    client.send(BODY + b".\r\n")
    return code_of(await client.reply())


async def test_no_auth_and_no_mail_before_tls(users: Store, tmp_path: Path) -> None:
    services = make_services(users, tls=make_tls(tmp_path))
    client = await connect(services, "submission")
    assert await client.code("MAIL FROM:<alice@example.test>") == "530 5.7.0"
    assert await client.code(f"AUTH PLAIN {ALICE_PLAIN}") == "538 5.7.11"
    ehlo = await client.command("EHLO client.example")
    assert "250-STARTTLS" in ehlo and "AUTH" not in ehlo
    assert await client.code("STARTTLS") == "220 2.0.0"
    assert client.peer.connection.tls_active
    ehlo = await client.command("EHLO client.example")
    assert "250-AUTH SCRAM-SHA-256 PLAIN LOGIN\r\n" in ehlo and "STARTTLS" not in ehlo
    assert "250-DSN\r\n" in ehlo or ehlo.endswith("250 DSN\r\n")
    assert await client.code(f"AUTH PLAIN {ALICE_PLAIN}") == "235 2.7.0"
    assert await send(client, "alice@example.test", ["bob@example.test"]) == "250 2.0.0"
    await client.quit()


async def test_plaintext_auth_when_the_operator_allows_it(users: Store) -> None:
    services = make_services(users, auth=AuthSection(allow_plaintext=True))
    client = await connect(services, "submission")
    assert await client.code(f"AUTH PLAIN {ALICE_PLAIN}") == "235 2.7.0"
    await client.quit()


async def test_auth_plain_login_and_wrong_password(services: Services) -> None:
    client = await connect(services, "submissions", tls=True)
    assert await client.code("MAIL FROM:<alice@example.test>") == "530 5.7.0"
    wrong = b64("\0alice@example.test\0nope")
    assert await client.code(f"AUTH PLAIN {wrong}") == "535 5.7.8"
    assert (await client.command("AUTH PLAIN")) == "334 \r\n"
    assert await client.code(ALICE_PLAIN) == "235 2.7.0"
    assert await client.code(f"AUTH PLAIN {ALICE_PLAIN}") == "503 5.5.1"  # once per session
    await client.quit()

    client = await connect(services, "submissions", tls=True)
    assert await client.command("AUTH LOGIN") == f"334 {b64('Username:')}\r\n"
    assert await client.command(b64("bob@example.test")) == f"334 {b64('Password:')}\r\n"
    assert await client.code(b64("bob-password")) == "235 2.7.0"
    assert await send(client, "bob@example.test", ["alice@example.test"]) == "250 2.0.0"
    await client.quit()


async def test_auth_scram_sha_256_sends_server_final_as_a_challenge(services: Services) -> None:
    scram = ScramClient("alice@example.test", "alice-password")
    client = await connect(services, "submissions", tls=True)
    server_first = await client.command(f"AUTH SCRAM-SHA-256 {b64(scram.first)}")
    assert server_first.startswith("334 ")
    import base64

    server_final = await client.command(b64(scram.final(base64.b64decode(server_first[4:]))))
    assert server_final.startswith("334 ")
    assert scram.verify(base64.b64decode(server_final[4:]))
    assert await client.code("") == "235 2.7.0"  # RFC 4954 §4: empty answer to final data
    assert await send(client, "alice@example.test", ["bob@example.test"]) == "250 2.0.0"
    await client.quit()


async def test_auth_scram_wrong_password(services: Services) -> None:
    import base64

    scram = ScramClient("alice@example.test", "not-her-password")
    client = await connect(services, "submissions", tls=True)
    server_first = await client.command("AUTH SCRAM-SHA-256")
    assert server_first == "334 \r\n"
    server_first = await client.command(b64(scram.first))
    assert await client.code(b64(scram.final(base64.b64decode(server_first[4:])))) == "535 5.7.8"
    await client.quit()


async def test_auth_cancelled_and_the_next_command_still_answered(services: Services) -> None:
    client = await connect(services, "submissions", tls=True)
    assert await client.command("AUTH LOGIN") == f"334 {b64('Username:')}\r\n"
    client.send("*\r\nEHLO again.example\r\nMAIL FROM:<alice@example.test>\r\n")
    cancelled, ehlo, mail = await client.replies(3)
    assert code_of(cancelled) == "501 5.0.0"
    assert ehlo.startswith("250-mail.example.test\r\n")
    assert code_of(mail) == "530 5.7.0"
    assert await client.code("AUTH FOO") == "504 5.5.4"
    await client.quit()


async def test_client_closing_during_auth_ends_the_session(services: Services) -> None:
    client = await connect(services, "submissions", tls=True)
    assert (await client.command("AUTH PLAIN")) == "334 \r\n"
    client.peer.close()
    await client.closed()


@pytest.mark.parametrize("sender", [
    "alice@example.test", "ALICE@Example.TEST", "alice+lists@example.test", "sales@example.test",
])
async def test_sender_the_user_owns(services: Services, users: Store, sender: str) -> None:
    await users.add_alias("sales@example.test", ["alice@example.test"])
    client = await submit(services)
    assert await send(client, sender, ["bob@example.test"]) == "250 2.0.0"
    await client.quit()
    [message] = await inbox(users, "bob@example.test")
    assert message.startswith(f"Return-Path: <{sender}>\r\n".encode())
    assert b" with ESMTPSA id " in message


@pytest.mark.parametrize("sender", [
    "bob@example.test", "", "alice@remote.example", "bob+alice@example.test",
    "alice@[127.0.0.1]", '"alice"@example.test.', "team@example.test",
])
async def test_sender_the_user_does_not_own(services: Services, users: Store,
                                            sender: str) -> None:
    await users.add_alias("team@example.test", ["bob@example.test"])
    client = await submit(services)
    assert await client.code(f"MAIL FROM:<{sender}>") in ("553 5.7.1", "501 5.1.7")
    await client.quit()


async def test_local_and_remote_recipients_with_dsn(services: Services, users: Store) -> None:
    client = await submit(services)
    assert await client.code("MAIL FROM:<alice@example.test> RET=HDRS ENVID=env+2B1") \
        == "250 2.1.0"
    assert await client.code("RCPT TO:<bob@example.test>") == "250 2.1.5"
    assert await client.code("RCPT TO:<carol@remote.example> NOTIFY=FAILURE,DELAY "
                             "ORCPT=rfc822;carol+2Bx@remote.example") == "250 2.1.5"
    assert await client.code('RCPT TO:<"dave smith"@remote.example>') == "250 2.1.5"
    assert await client.code("RCPT TO:<nobody@example.test>") == "550 5.1.1"
    assert await client.code("RCPT TO:<bob%remote.example@example.test>") == "550 5.7.1"
    assert (await client.command("DATA")).startswith("354")
    client.send(BODY + b".\r\n")
    assert code_of(await client.reply()) == "250 2.0.0"
    await client.quit()
    [local] = await inbox(users, "bob@example.test")
    assert local.endswith(BODY)
    [queued] = await users.list_queue()
    alice = await users.get_account("alice@example.test")
    assert alice is not None
    envelope = queued.envelope
    assert envelope.sender == "alice@example.test" and envelope.account_id == alice.id
    assert envelope.envid == "env+1" and envelope.ret == "HDRS"
    assert [(r.address, r.notify, r.orcpt) for r in envelope.recipients] == [
        ("carol@remote.example", ("FAILURE", "DELAY"), "rfc822;carol+x@remote.example"),
        ('"dave smith"@remote.example', (), None),
    ]
    data = await users.read_queued(queued)
    assert data.startswith(b"Received: from client.example ([192.0.2.7])\r\n")
    assert data.endswith(BODY) and b"Return-Path" not in data and b"\tfor <" not in data


async def test_submission_session_forgets_auth_after_starttls(users: Store,
                                                              tmp_path: Path) -> None:
    services = make_services(users, tls=make_tls(tmp_path),
                             auth=AuthSection(allow_plaintext=True))
    client = await connect(services, "submission")
    assert await client.code(f"AUTH PLAIN {ALICE_PLAIN}") == "235 2.7.0"
    assert await client.code("STARTTLS") == "220 2.0.0"
    await client.command("EHLO client.example")
    assert await client.code("MAIL FROM:<alice@example.test>") == "530 5.7.0"
    await client.quit()


async def test_a_queueing_failure_leaves_no_local_copy(services: Services, users: Store) -> None:
    """Local and remote copies commit together: when the queue refuses its copy (here the
    submitting account was deleted during the transaction), the client gets a 451 and the
    local recipient has no copy that the client's retry would duplicate."""
    client = await submit(services)
    assert await client.code("MAIL FROM:<alice@example.test>") == "250 2.1.0"
    assert await client.code("RCPT TO:<bob@example.test>") == "250 2.1.5"
    assert await client.code("RCPT TO:<carol@remote.example>") == "250 2.1.5"
    await users.delete_account("alice@example.test")
    assert (await client.command("DATA")).startswith("354")
    client.send(BODY + b".\r\n")
    assert code_of(await client.reply()) == "451 4.3.0"
    await client.quit()
    assert await inbox(users, "bob@example.test") == []
    assert await users.list_queue() == []
