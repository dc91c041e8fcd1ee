"""FETCH and UID FETCH: items, \\Seen side effects, sequence errors, expunged messages."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from postier.imap.handlers import fetch as fetch_handler
from postier.services import Services
from postier.store.interface import Store
from tests.session.imap.client import ImapClient, account_of, connect, deliver, message


async def test_fetch_metadata(client: ImapClient, users: Store) -> None:
    await deliver(users, message(subject="Greetings"),
                  when=datetime(2024, 5, 1, 12, 0, tzinfo=UTC))
    await client.ok("SELECT INBOX")
    lines = await client.ok("FETCH 1 (UID FLAGS INTERNALDATE RFC822.SIZE)")
    size = len(message(subject="Greetings"))
    assert lines[0] == (f'* 1 FETCH (UID 1 FLAGS (\\Recent) INTERNALDATE '
                        f'"01-May-2024 12:00:00 +0000" RFC822.SIZE {size})')
    lines = await client.ok("FETCH 1 (ENVELOPE BODYSTRUCTURE)")
    assert '"Greetings"' in lines[0] and 'BODYSTRUCTURE ("TEXT" "PLAIN"' in lines[0]


async def test_body_sets_seen_and_peek_does_not(client: ImapClient, users: Store) -> None:
    await deliver(users)
    await deliver(users)
    await client.ok("SELECT INBOX")
    lines = await client.ok("FETCH 1 BODY.PEEK[HEADER.FIELDS (Subject)]")
    assert lines[0] == "* 1 FETCH (BODY[HEADER.FIELDS (Subject)] {18}"
    assert lines[1] == "Subject: Hello"
    lines = await client.ok("FETCH 2 BODY[TEXT]")
    assert lines[0] == "* 2 FETCH (BODY[TEXT] {11}"
    assert lines[2] == " FLAGS (\\Seen \\Recent))"
    assert (await client.ok("FETCH 1:2 FLAGS"))[:-1] == ["* 1 FETCH (FLAGS (\\Recent))",
                                                        "* 2 FETCH (FLAGS (\\Seen \\Recent))"]
    # Already seen: no FLAGS added, and no duplicate FETCH from the change hub afterwards.
    assert (await client.ok("FETCH 2 BODY[TEXT]"))[2] == ")"
    assert (await client.ok("NOOP"))[:-1] == []


async def test_uid_fetch_includes_uid_and_ignores_missing(client: ImapClient,
                                                          users: Store) -> None:
    await deliver(users)
    await deliver(users)
    await client.ok("SELECT INBOX")
    lines = await client.ok("UID FETCH 2:* FLAGS")
    assert lines[:-1] == ["* 2 FETCH (UID 2 FLAGS (\\Recent))"]
    assert (await client.ok("UID FETCH 50:* FLAGS"))[:-1] == ["* 2 FETCH (UID 2 FLAGS (\\Recent))"]
    assert (await client.ok("UID FETCH 50 FLAGS"))[:-1] == []


async def test_sequence_numbers_past_the_end_are_bad(client: ImapClient, users: Store) -> None:
    await client.ok("SELECT INBOX")
    assert (await client.ok("FETCH 1:* FLAGS"))[:-1] == []  # empty mailbox: nothing, no error
    assert (await client.command("FETCH 1 FLAGS"))[-1].startswith("a4 BAD")
    await deliver(users)
    await client.ok("NOOP")
    assert (await client.command("FETCH 1:3 FLAGS"))[-1].startswith("a6 BAD")
    assert (await client.ok("FETCH * FLAGS"))[0].startswith("* 1 FETCH")


async def test_binary_and_partial(client: ImapClient, users: Store) -> None:
    data = (b"Subject: b\r\nMIME-Version: 1.0\r\nContent-Type: application/octet-stream\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\nAAEC\r\n")
    await deliver(users, data)
    await client.ok("SELECT INBOX")
    client.send("a3 FETCH 1 (BINARY.PEEK[1] BINARY.SIZE[1])\r\n")
    output = await client.until_tagged("a3")
    assert output[0] == "* 1 FETCH (BINARY[1] ~{3}"
    assert output[-1] == "a3 OK FETCH completed"
    lines = await client.ok("FETCH 1 BODY.PEEK[]<0.7>")
    assert lines[0] == "* 1 FETCH (BODY[]<0> {7}"


async def test_expunged_elsewhere_fetch_gives_expungeissued(services: Services,
                                                            users: Store) -> None:
    await deliver(users)
    await deliver(users)
    a, _ = await connect(services)
    b, _ = await connect(services)
    await a.login()
    await b.login()
    await a.ok("SELECT INBOX")
    await b.ok("SELECT INBOX")
    await a.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
    await a.ok("EXPUNGE")
    lines = await b.command("FETCH 1:2 UID")
    # No EXPUNGE during FETCH (RFC 9051 §7.5.1); the vanished message is left out.
    assert lines[:-1] == ["* 2 FETCH (UID 2)"]
    assert lines[-1].startswith("a3 NO [EXPUNGEISSUED]")
    lines = await b.ok("NOOP")
    assert "* 1 EXPUNGE" in lines
    assert (await b.ok("FETCH 1 UID"))[0] == "* 1 FETCH (UID 2)"
    await a.stop()
    await b.stop()


async def test_fetch_many_messages_in_batches(client: ImapClient, users: Store) -> None:
    account = await account_of(users)
    box = await users.get_mailbox(account, "INBOX")
    for i in range(1200):
        await users.append(account, box.id, message(subject=f"n{i}"))
    await client.ok("SELECT INBOX")
    client.send("a3 FETCH 1:* (UID FLAGS ENVELOPE)\r\n")
    lines = await client.until_tagged("a3", timeout=60)
    assert len(lines) == 1201 and lines[-1] == "a3 OK FETCH completed"
    assert lines[1199].startswith("* 1200 FETCH (UID 1200 ")


async def test_listing_across_batches(services: Services, users: Store,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A metadata listing reads one batch ahead; every message comes once, in order, and one
    expunged by another session is left out with EXPUNGEISSUED."""
    monkeypatch.setattr(fetch_handler, "BATCH", 3)
    for n in range(8):
        await deliver(users, message(subject=f"number {n}"))
    a, _ = await connect(services)
    b, _ = await connect(services)
    await a.login()
    await b.login()
    await a.ok("SELECT INBOX")
    await b.ok("SELECT INBOX")
    lines = await b.ok("UID FETCH 1:* (FLAGS ENVELOPE)")
    assert [line.split(" (", 1)[0] for line in lines[:-1]] == \
        [f"* {n} FETCH" for n in range(1, 9)]
    assert all(f'"number {n}"' in lines[n] for n in range(8))
    await a.ok("STORE 5 +FLAGS.SILENT (\\Deleted)")
    await a.ok("EXPUNGE")
    lines = await b.command("FETCH 1:* (UID RFC822.SIZE)")
    assert [line.split(" ")[4] for line in lines[:-1]] == ["1", "2", "3", "4", "6", "7", "8"]
    assert lines[-1].startswith("a4 NO [EXPUNGEISSUED]")
    await a.stop()
    await b.stop()
