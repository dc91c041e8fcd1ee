"""The MX listener as conversations: local delivery, aliases, refusals, pipelining, BDAT."""

from __future__ import annotations

import re

import pytest

from postier.services import Services
from postier.store.interface import Store
from tests.session.smtp.conversation import HOST, Client, code_of, connect, inbox

BODY = b"From: someone@remote.example\r\nSubject: hello\r\n\r\nHi there.\r\n"


async def send_message(client: Client, sender: str, recipients: list[str],
                       body: bytes = BODY) -> list[str]:
    """One transaction; the codes of MAIL, each RCPT and the final reply (or of DATA if 5xx)."""
    codes = [await client.code(f"MAIL FROM:<{sender}>")]
    codes += [await client.code(f"RCPT TO:<{r}>") for r in recipients]
    data = await client.command("DATA")
    if not data.startswith("354"):
        return [*codes, code_of(data)]
    client.send(body.replace(b"\r\n.", b"\r\n..") + b".\r\n")
    return [*codes, code_of(await client.reply())]


async def test_greeting_and_ehlo_offer_no_auth(services: Services) -> None:
    client = await connect(services, ehlo=False)
    ehlo = await client.command("EHLO client.example")
    keywords = [line[4:] for line in ehlo.split("\r\n") if line]
    assert keywords[0] == HOST
    assert "PIPELINING" in keywords and "CHUNKING" in keywords and "8BITMIME" in keywords
    assert f"SIZE {services.config.limits.max_message_size}" in keywords
    assert not any(k.startswith("AUTH") for k in keywords)
    assert "STARTTLS" not in keywords  # no certificate in these services
    assert await client.code("AUTH PLAIN AGFsaWNlAHg=") == "502 5.5.1"
    await client.quit()


async def test_delivery_to_a_user_with_trace_fields(services: Services, users: Store) -> None:
    client = await connect(services)
    codes = await send_message(client, "sender@remote.example", ["alice@example.test"])
    assert codes == ["250 2.1.0", "250 2.1.5", "250 2.0.0"]
    await client.quit()
    [message] = await inbox(users, "alice@example.test")
    assert message.endswith(BODY)
    trace = message[: -len(BODY)].decode()
    assert trace.startswith("Return-Path: <sender@remote.example>\r\nReceived: from client.example"
                            " ([192.0.2.7])\r\n\tby mail.example.test with ESMTP id ")
    assert re.search(r"\r\n\tfor <alice@example\.test>; \w{3}, \d{2} \w{3} \d{4} "
                     r"\d{2}:\d{2}:\d{2} \+0000\r\n$", trace)


async def test_reply_carries_the_queue_id_of_the_received_field(services: Services,
                                                                users: Store) -> None:
    client = await connect(services)
    await client.code("MAIL FROM:<>")  # the null sender is welcome on MX
    await client.code("RCPT TO:<alice@example.test>")
    await client.command("DATA")
    client.send(BODY + b".\r\n")
    reply = await client.reply()
    queue_id = reply.split()[-1]
    await client.quit()
    [message] = await inbox(users, "alice@example.test")
    assert message.startswith(b"Return-Path: <>\r\n")
    assert f" id {queue_id}\r\n".encode() in message


async def test_alias_catch_all_and_subaddress(services: Services, users: Store) -> None:
    await users.add_alias("team@example.test", ["alice@example.test", "bob@example.test"])
    await users.set_catch_all("example.test", "bob@example.test")
    client = await connect(services)
    for recipient in ("team@example.test", "nobody-here@example.test", "alice+news@example.test",
                      "ALICE@Example.Test"):
        assert (await send_message(client, "x@remote.example", [recipient]))[-1] == "250 2.0.0"
    await client.quit()
    assert len(await inbox(users, "alice@example.test")) == 3  # team, +news, upper case
    assert len(await inbox(users, "bob@example.test")) == 2  # team, catch-all


async def test_one_copy_per_account_and_no_for_clause_with_several_recipients(
        services: Services, users: Store) -> None:
    await users.add_alias("a1@example.test", ["alice@example.test"])
    client = await connect(services)
    codes = await send_message(client, "x@remote.example",
                               ["alice@example.test", "a1@example.test", "alice+x@example.test",
                                "bob@example.test"])
    assert codes[-1] == "250 2.0.0"
    await client.quit()
    [alice] = await inbox(users, "alice@example.test")
    [bob] = await inbox(users, "bob@example.test")
    assert b"\tfor <" not in alice and alice == bob  # no recipient named: Bcc stays hidden


async def test_unknown_user_refused_others_still_delivered(services: Services,
                                                           users: Store) -> None:
    client = await connect(services)
    codes = await send_message(client, "x@remote.example",
                               ["alice@example.test", "nobody@example.test", "bob@example.test"])
    assert codes == ["250 2.1.0", "250 2.1.5", "550 5.1.1", "250 2.1.5", "250 2.0.0"]
    await client.quit()
    assert len(await inbox(users, "alice@example.test")) == 1
    assert len(await inbox(users, "bob@example.test")) == 1


TRICKY = [
    ("bob@remote.example", "550 5.7.1"),
    ("alice%remote.example@example.test", "550 5.7.1"),
    ('"alice@remote.example"@example.test', "550 5.7.1"),
    ('"alice%remote.example"@example.test', "550 5.7.1"),
    ("@relay.example:alice@example.test", "550 5.7.1"),
    ("@a.example,@b.example:bob@remote.example", "550 5.7.1"),
    ("alice!remote.example@example.test", "550 5.7.1"),
    ('"remote.example!alice"@example.test', "550 5.7.1"),
    ("alice@[127.0.0.1]", "550 5.7.1"),
    ("alice@example.test.remote.example", "550 5.7.1"),
]


@pytest.mark.parametrize(("recipient", "expected"), TRICKY)
async def test_relay_refused_even_with_a_catch_all(services: Services, users: Store,
                                                   recipient: str, expected: str) -> None:
    await users.set_catch_all("example.test", "bob@example.test")
    client = await connect(services)
    assert await client.code("MAIL FROM:<x@remote.example>") == "250 2.1.0"
    assert await client.code(f"RCPT TO:<{recipient}>") == expected
    assert await client.code("DATA") == "554 5.5.1"  # no valid recipients
    await client.quit()
    assert await inbox(users, "bob@example.test") == []
    assert await users.list_queue() == []


async def test_quoted_plain_local_part_is_the_same_mailbox(services: Services,
                                                           users: Store) -> None:
    client = await connect(services)
    codes = await send_message(client, "x@remote.example", ['"alice"@example.test'])
    assert codes[-1] == "250 2.0.0"
    assert await client.code('RCPT TO:<"a b"@example.test>') == "503 5.5.1"  # no MAIL
    await client.code("MAIL FROM:<x@remote.example>")
    assert await client.code('RCPT TO:<"a b"@example.test>') == "550 5.1.1"
    await client.quit()
    assert len(await inbox(users, "alice@example.test")) == 1


async def test_postmaster_without_domain(services: Services, users: Store) -> None:
    client = await connect(services)
    await client.code("MAIL FROM:<x@remote.example>")
    assert await client.code("RCPT TO:<Postmaster>") == "550 5.1.1"  # nobody is postmaster yet
    await client.code("RSET")
    await users.add_alias("postmaster@example.test", ["alice@example.test"])
    assert (await send_message(client, "", ["postmaster"]))[-1] == "250 2.0.0"
    await client.quit()
    [message] = await inbox(users, "alice@example.test")
    assert b"\tfor <postmaster>;" in message


async def test_pipelined_transaction_is_answered_in_order(services: Services,
                                                          users: Store) -> None:
    client = await connect(services)
    client.send(b"MAIL FROM:<x@remote.example>\r\nRCPT TO:<alice@example.test>\r\n"
                b"RCPT TO:<nobody@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n")
    replies = await client.replies(5)
    assert [code_of(reply) for reply in replies] == [
        "250 2.1.0", "250 2.1.5", "550 5.1.1", "250 2.1.5", "354"]
    client.send(BODY + b".\r\nMAIL FROM:<y@remote.example>\r\nRCPT TO:<bob@example.test>\r\n"
                b"DATA\r\n" + BODY + b".\r\nQUIT\r\n")
    assert [code_of(r) for r in await client.replies(6)] == [
        "250 2.0.0", "250 2.1.0", "250 2.1.5", "354", "250 2.0.0", "221 2.0.0"]
    await client.closed()
    assert len(await inbox(users, "alice@example.test")) == 1
    assert len(await inbox(users, "bob@example.test")) == 2


async def test_bdat_chunks_are_stored_byte_exact(services: Services, users: Store) -> None:
    body = b"Subject: chunks\r\n\r\n.leading dot stays\r\n" + bytes(range(32, 127)) + b"\r\n"
    client = await connect(services)
    first, second = body[:10], body[10:]
    client.send(b"MAIL FROM:<x@remote.example>\r\nRCPT TO:<alice@example.test>\r\n"
                + f"BDAT {len(first)}\r\n".encode() + first
                + f"BDAT {len(second)} LAST\r\n".encode() + second)
    assert [code_of(r) for r in await client.replies(4)] == [
        "250 2.1.0", "250 2.1.5", "250 2.0.0", "250 2.0.0"]
    await client.quit()
    [message] = await inbox(users, "alice@example.test")
    assert message.endswith(body)
    assert b" with ESMTP id " in message


async def test_client_vanishing_mid_data_leaves_nothing(services: Services,
                                                        users: Store) -> None:
    client = await connect(services)
    await client.code("MAIL FROM:<x@remote.example>")
    await client.code("RCPT TO:<alice@example.test>")
    await client.command("DATA")
    client.send(b"Subject: half\r\n\r\nthe first half")
    client.peer.close()
    await client.closed()
    assert await inbox(users, "alice@example.test") == []
