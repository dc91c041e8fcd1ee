"""The TRANSACTION state against a real store: the snapshot, sizes, UIDL, RETR and TOP."""

from __future__ import annotations

from postier.pop3.wire import wire_form
from postier.services import Services
from postier.store.interface import Store
from postier.types import INBOX, UidSet
from tests.session.pop3.conversation import account_id, connect, deliver, message


async def test_snapshot_at_login(services: Services, users: Store) -> None:
    first = await deliver(users, message("one"))
    client = await connect(services)
    await client.login()
    await deliver(users, message("two"))  # arrives during the session
    assert await client.command("STAT") == f"+OK 1 {len(message('one'))}"
    assert (await client.command("RETR 2")).startswith("-ERR no such message")
    _, uidl = await client.multi("UIDL")
    inbox = await users.get_mailbox(await account_id(users), INBOX)
    assert uidl == [f"1 {inbox.uidvalidity}.{first}"]
    await client.quit()
    again = await connect(services)
    await again.login()
    _, uidl = await again.multi("UIDL")
    assert uidl[0] == f"1 {inbox.uidvalidity}.{first}"  # stable across sessions
    assert len(uidl) == 2
    await again.quit()


async def test_retr_round_trips_dot_lines_byte_exact(services: Services, users: Store) -> None:
    body = message("dots", ".\r\n..\r\n.leading\r\nmiddle.\r\n. space\r\n...\r\n")
    await deliver(users, body)
    client = await connect(services)
    await client.login()
    assert await client.retr(1) == body
    _, listing = await client.multi("LIST")
    assert listing == [f"1 {len(body)}"]
    await client.quit()


async def test_bare_lf_message_size_matches_what_retr_sends(services: Services,
                                                           users: Store) -> None:
    stored = b"From: a@example.test\nSubject: bare\n\n.line one\nline two"
    await deliver(users, stored)
    client = await connect(services)
    await client.login()
    wire = wire_form(stored)
    assert await client.command("LIST 1") == f"+OK 1 {len(wire)}"
    assert await client.command("RETR 1") == f"+OK {len(wire)} octets"
    assert await client.body() == wire
    await client.quit()


async def test_top(services: Services, users: Store) -> None:
    await deliver(users, message("top", "l1\r\n.l2\r\nl3\r\n"))
    client = await connect(services)
    await client.login()
    assert await client.command("TOP 1 0") == "+OK top of message follows"
    assert (await client.body()).endswith(b"Subject: top\r\n\r\n")
    assert await client.command("TOP 1 2") == "+OK top of message follows"
    assert (await client.body()).endswith(b"\r\n\r\nl1\r\n.l2\r\n")
    await client.quit()


async def test_large_message_is_streamed(services: Services, users: Store) -> None:
    body = message("big", "".join(f".{i:07d} " + "x" * 90 + "\r\n" for i in range(20000)))
    await deliver(users, body)
    client = await connect(services)
    await client.login()
    assert await client.retr(1) == body
    await client.quit()


async def test_message_removed_by_another_client_during_the_session(services: Services,
                                                                     users: Store) -> None:
    uid = await deliver(users, message("going", "unique content 8c1f\r\n"))
    await deliver(users, message("staying"))
    client = await connect(services)
    await client.login()
    account = await account_id(users)
    inbox = await users.get_mailbox(account, INBOX)
    await users.remove(account, inbox.id, UidSet.of([uid]))
    # Numbers stay fixed for the session (RFC 1939 §5); the vanished one cannot be fetched.
    assert (await client.command("STAT")).startswith("+OK 2 ")
    assert await client.command("RETR 1") == "-ERR the message no longer exists"
    assert await client.retr(2) == message("staying")
    assert (await client.command("DELE 1")).startswith("+OK")
    assert (await client.quit()).startswith("+OK")


async def test_hidden_messages_are_not_in_the_maildrop(services: Services,
                                                       users: Store) -> None:
    await deliver(users, message("kept earlier"), flags=frozenset({"$POP3Deleted", "\\Seen"}))
    await deliver(users, message("new"))
    client = await connect(services)
    await client.login()
    assert await client.retr(1) == message("new")
    assert await client.command("STAT") == f"+OK 1 {len(message('new'))}"
    await client.quit()


async def test_retr_reads_ahead_in_order_out_of_order_and_past_large_messages(
        services: Services, users: Store) -> None:
    big = "".join(f".{i:06d} " + "y" * 100 + "\r\n" for i in range(12_000))  # over 1 MiB
    bodies = [message(f"m{n}", (big if n in (40, 41) else f".line {n}\r\n" * (n % 7 + 1)))
              for n in range(1, 91)]
    for body in bodies:
        await deliver(users, body)
    client = await connect(services)
    await client.login()
    for number in range(1, 91):
        assert await client.retr(number) == bodies[number - 1]
    for number in (77, 3, 41, 40, 90, 1, 2):
        assert await client.retr(number) == bodies[number - 1]
    assert await client.command("TOP 5 0") == "+OK top of message follows"
    assert await client.body() == b"".join(
        line + b"\r\n" for line in bodies[4].split(b"\r\n\r\n")[0].split(b"\r\n")) + b"\r\n"
    assert await client.retr(5) == bodies[4]
    await client.quit()


async def test_message_removed_after_the_first_retr_is_not_retrieved(services: Services,
                                                                       users: Store) -> None:
    for n in range(1, 101):
        await deliver(users, message(f"m{n}"))
    client = await connect(services)
    await client.login()
    assert await client.retr(1) == message("m1")
    account = await account_id(users)
    inbox = await users.get_mailbox(account, INBOX)
    await users.remove(account, inbox.id, UidSet.of([100]))  # far beyond what is read ahead
    for number in range(2, 100):
        assert await client.retr(number) == message(f"m{number}")
    assert await client.command("RETR 100") == "-ERR the message no longer exists"
    await client.quit()
