"""APPEND: flags, dates, APPENDUID, TRYCREATE, TOOBIG, OVERQUOTA, MULTIAPPEND, literal8."""

from __future__ import annotations

from postier.config import LimitsSection
from postier.services import Services
from postier.store.interface import Store
from tests.session.imap.client import ImapClient, account_of, connect, make_services, message

DATA = message("Appended")


async def test_append_with_flags_and_date(client: ImapClient, users: Store) -> None:
    box = await users.get_mailbox(await account_of(users), "Drafts")
    date = '"05-Mar-2024 10:11:12 +0100"'
    client.send(f"a2 APPEND Drafts (\\Draft $Label) {date} {{{len(DATA)}}}\r\n")
    assert (await client.line()).startswith("+ ")
    client.send(DATA + b"\r\n")
    lines = await client.until_tagged("a2")
    assert lines[-1] == f"a2 OK [APPENDUID {box.uidvalidity} 1] APPEND completed"
    await client.ok("SELECT Drafts")
    lines = await client.ok("FETCH 1 (FLAGS INTERNALDATE)")
    assert lines[0] == ('* 1 FETCH (FLAGS (\\Draft $Label \\Recent) '
                        'INTERNALDATE "05-Mar-2024 10:11:12 +0100")')


async def test_append_nonsynchronizing_literal(client: ImapClient) -> None:
    client.send(b"a2 APPEND INBOX {%d+}\r\n" % len(DATA) + DATA + b"\r\n")
    assert (await client.until_tagged("a2"))[-1].startswith("a2 OK [APPENDUID")


async def test_append_to_missing_mailbox_is_trycreate(client: ImapClient) -> None:
    client.send(b"a2 APPEND Nowhere {%d+}\r\n" % len(DATA) + DATA + b"\r\n")
    assert (await client.until_tagged("a2"))[-1].startswith("a2 NO [TRYCREATE]")


async def test_append_empty_message_is_refused(client: ImapClient) -> None:
    client.send(b"a2 APPEND INBOX {0+}\r\n\r\n")
    assert (await client.until_tagged("a2"))[-1].startswith("a2 NO")


async def test_append_over_quota(client: ImapClient, users: Store) -> None:
    await users.set_quota("alice@example.test", 10)
    client.send(b"a2 APPEND INBOX {%d+}\r\n" % len(DATA) + DATA + b"\r\n")
    assert (await client.until_tagged("a2"))[-1].startswith("a2 NO [OVERQUOTA]")


async def test_append_over_the_limit(users: Store) -> None:
    services = make_services(users, limits=LimitsSection(max_message_size=100))
    client, greeting = await connect(services)
    assert "APPENDLIMIT" not in greeting  # before login: not yet
    await client.login()
    assert "APPENDLIMIT=100" in (await client.ok("CAPABILITY"))[0]
    lines = await client.command("APPEND INBOX {101}")
    assert lines[-1].startswith("a3 NO [TOOBIG]")
    await client.stop()


async def test_multiappend_is_all_or_nothing(client: ImapClient, users: Store) -> None:
    box = await users.get_mailbox(await account_of(users), "INBOX")
    first, second = message("one"), message("two")
    client.send(b"a2 APPEND INBOX (\\Seen) {%d+}\r\n%s {%d+}\r\n%s\r\n"
                % (len(first), first, len(second), second))
    assert (await client.until_tagged("a2"))[-1] == \
        f"a2 OK [APPENDUID {box.uidvalidity} 1:2] APPEND completed"
    await users.set_quota("alice@example.test", len(first) * 2 + len(first) + 10)
    client.send(b"a3 APPEND INBOX {%d+}\r\n%s {%d+}\r\n%s\r\n"
                % (len(first), first, len(second), second))
    assert (await client.until_tagged("a3"))[-1].startswith("a3 NO [OVERQUOTA]")
    assert (await client.ok("STATUS INBOX (MESSAGES)"))[0] == "* STATUS INBOX (MESSAGES 2)"


async def test_append_to_selected_mailbox_announces_exists(client: ImapClient) -> None:
    await client.ok("SELECT INBOX")
    client.send(b"a3 APPEND INBOX {%d+}\r\n" % len(DATA) + DATA + b"\r\n")
    lines = await client.until_tagged("a3")
    assert "* 1 EXISTS" in lines and "* 1 RECENT" in lines


async def test_append_literal8(client: ImapClient) -> None:
    data = b"Subject: bin\r\nContent-Type: application/octet-stream\r\n\r\n\x00\x01\x02\r\n"
    client.send(b"a2 APPEND INBOX ~{%d+}\r\n" % len(data) + data + b"\r\n")
    assert (await client.until_tagged("a2"))[-1].startswith("a2 OK [APPENDUID")


async def test_failed_multiappend_is_never_seen_by_other_sessions(client: ImapClient,
                                                                  users: Store) -> None:
    watcher, _ = await connect(make_services(users))
    await watcher.login()
    await watcher.ok("SELECT INBOX")
    box = await users.get_mailbox(await account_of(users), "INBOX")
    parts = [message(f"part {i}") for i in range(3)]
    # Room for two of the three messages: the third fails the whole set (RFC 3502 §6.3.11).
    await users.set_quota("alice@example.test", len(parts[0]) + len(parts[1]) + 5)
    client.send(b"a2 APPEND INBOX" + b"".join(b" {%d+}\r\n%s" % (len(p), p) for p in parts)
                + b"\r\n")
    assert (await client.until_tagged("a2"))[-1].startswith("a2 NO [OVERQUOTA]")
    # The watcher sees nothing come and go, and no UID was spent on the failed set.
    assert len(await watcher.ok("NOOP")) == 1  # the tagged OK alone
    await users.set_quota("alice@example.test", None)
    client.send(b"a3 APPEND INBOX" + b"".join(b" {%d+}\r\n%s" % (len(p), p) for p in parts)
                + b"\r\n")
    assert (await client.until_tagged("a3"))[-1] == \
        f"a3 OK [APPENDUID {box.uidvalidity} 1:3] APPEND completed"
    lines = await watcher.ok("NOOP")
    assert "* 3 EXISTS" in lines and not any("EXPUNGE" in line for line in lines)
    await watcher.stop()


async def test_append_to_missing_mailbox_is_refused_before_the_literal(client: ImapClient) -> None:
    client.send(b"a2 APPEND nosuch () {%d}\r\n" % len(DATA))
    assert await client.line() == "a2 NO [TRYCREATE] no mailbox named 'nosuch'"
    # No "+" was sent, so the client sends no message: the next line is a new command.
    assert await client.command("NOOP", tag="n1") == ["n1 OK NOOP completed"]


async def test_append_over_quota_is_refused_before_the_literal(client: ImapClient,
                                                               users: Store) -> None:
    await users.set_quota("alice@example.test", 10)
    client.send(b"a2 APPEND INBOX {%d}\r\n" % len(DATA))
    assert await client.line() == "a2 NO [OVERQUOTA] the message would exceed the quota"
    assert await client.command("NOOP", tag="n1") == ["n1 OK NOOP completed"]


async def test_append_empty_and_malformed_are_refused_before_the_literal(
        client: ImapClient) -> None:
    client.send(b"a2 APPEND INBOX {0}\r\n")
    assert await client.line() == "a2 NO [CANNOT] an empty message cannot be appended"
    client.send(b'a3 APPEND INBOX () "99-Foo-2024 00:00:00 +0000" {5}\r\n')
    assert await client.line() == "a3 BAD invalid month"
    assert await client.command("NOOP", tag="n1") == ["n1 OK NOOP completed"]


async def test_append_before_login_is_refused_before_the_literal(services: Services) -> None:
    client, _ = await connect(services)
    client.send(b"a1 APPEND INBOX {5}\r\n")
    assert await client.line() == "a1 BAD log in first"
    assert await client.command("NOOP", tag="n1") == ["n1 OK NOOP completed"]
    await client.stop()


async def test_refused_nonsynchronizing_literal_is_read_and_answered(client: ImapClient) -> None:
    # LITERAL+: the octets come anyway; they are consumed and the command fails (RFC 7888).
    client.send(b"a2 APPEND nosuch {%d+}\r\n" % len(DATA) + DATA + b"\r\na3 NOOP\r\n")
    assert await client.line() == "a2 NO [TRYCREATE] no mailbox named 'nosuch'"
    assert await client.line() == "a3 OK NOOP completed"


async def test_multiappend_refused_at_the_first_literal(client: ImapClient) -> None:
    client.send(b"a2 APPEND nosuch {%d}\r\n" % len(DATA))
    assert await client.line() == "a2 NO [TRYCREATE] no mailbox named 'nosuch'"
    client.send(b"a3 APPEND INBOX {%d}\r\n" % len(DATA))
    assert (await client.line()).startswith("+ ")
    client.send(DATA + b" {%d}\r\n" % len(DATA))
    assert (await client.line()).startswith("+ ")  # the target was checked at the first
    client.send(DATA + b"\r\n")
    assert (await client.until_tagged("a3"))[-1].startswith("a3 OK [APPENDUID ")
