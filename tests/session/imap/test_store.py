"""STORE and UID STORE: operations, .SILENT, keywords, read-only, and updates to other sessions."""

from __future__ import annotations

from postier.services import Services
from postier.store.interface import Store
from tests.session.imap.client import ImapClient, connect, deliver


async def test_store_operations(client: ImapClient, users: Store) -> None:
    await deliver(users)
    await deliver(users)
    await client.ok("ENABLE IMAP4rev2")
    await client.ok("SELECT INBOX")
    lines = await client.ok("STORE 1:2 +FLAGS (\\Seen $Work)")
    assert lines[:-1] == [  # a new keyword: FLAGS and PERMANENTFLAGS first (RFC 9051 §7.3.5)
        "* FLAGS (\\Seen \\Answered \\Flagged \\Deleted \\Draft $Work)",
        "* OK [PERMANENTFLAGS (\\Seen \\Answered \\Flagged \\Deleted \\Draft $Work \\*)] "
        "flags permitted",
        "* 1 FETCH (FLAGS (\\Seen $Work))", "* 2 FETCH (FLAGS (\\Seen $Work))"]
    lines = await client.ok("STORE 1 -FLAGS ($Work)")
    assert lines[:-1] == ["* 1 FETCH (FLAGS (\\Seen))"]
    lines = await client.ok("STORE 2 FLAGS (\\Flagged)")
    assert lines[:-1] == ["* 2 FETCH (FLAGS (\\Flagged))"]
    # Unchanged messages are reported too.
    lines = await client.ok("STORE 1:2 +FLAGS (\\Flagged)")
    assert lines[:-1] == ["* 1 FETCH (FLAGS (\\Seen \\Flagged))", "* 2 FETCH (FLAGS (\\Flagged))"]
    lines = await client.ok("UID STORE 2 +FLAGS (\\Answered)")
    assert lines[:-1] == ["* 2 FETCH (UID 2 FLAGS (\\Answered \\Flagged))"]
    assert (await client.ok("STORE 1:2 +FLAGS.SILENT (\\Draft)"))[:-1] == []
    assert (await client.ok("NOOP"))[:-1] == []  # no echo of the session's own changes
    assert (await client.ok("FETCH 2 FLAGS"))[0] == \
        "* 2 FETCH (FLAGS (\\Answered \\Flagged \\Draft))"


async def test_store_recent_is_ignored_and_bad_flags_rejected(client: ImapClient,
                                                              users: Store) -> None:
    await deliver(users)
    await client.ok("SELECT INBOX")
    lines = await client.ok("STORE 1 +FLAGS (\\Recent \\Seen)")
    assert lines[0] == "* 1 FETCH (FLAGS (\\Seen \\Recent))"
    assert (await client.command("STORE 5 +FLAGS (\\Seen)"))[-1].startswith("a4 BAD")


async def test_flag_changes_reach_other_sessions(services: Services, users: Store) -> None:
    await deliver(users)
    a, _ = await connect(services)
    b, _ = await connect(services)
    await a.login()
    await b.login()
    await a.ok("SELECT INBOX")
    await b.ok("EXAMINE INBOX")
    await a.ok("STORE 1 +FLAGS.SILENT (\\Flagged)")
    lines = await b.ok("NOOP")
    assert lines[:-1] == ["* 1 FETCH (UID 1 FLAGS (\\Flagged))"]  # \\Recent is a's
    assert (await b.ok("NOOP"))[:-1] == []
    await a.stop()
    await b.stop()


async def test_new_keyword_updates_flags_in_every_selected_session(
        client: ImapClient, users: Store, services: Services) -> None:
    await deliver(users)
    other, _ = await connect(services)
    await other.login()
    await other.ok("EXAMINE INBOX")
    await client.ok("ENABLE IMAP4rev2")
    await client.ok("SELECT INBOX")
    assert (await client.ok("STORE 1 +FLAGS.SILENT ($Late)"))[:-1] == [
        "* FLAGS (\\Seen \\Answered \\Flagged \\Deleted \\Draft $Late)",
        "* OK [PERMANENTFLAGS (\\Seen \\Answered \\Flagged \\Deleted \\Draft $Late \\*)] "
        "flags permitted"]
    assert (await client.ok("STORE 1 +FLAGS.SILENT ($Late)"))[:-1] == []  # known now
    # The other session (read-only: no PERMANENTFLAGS) hears FLAGS before the FETCH.
    assert (await other.ok("NOOP"))[:-1] == [
        "* FLAGS (\\Seen \\Answered \\Flagged \\Deleted \\Draft $Late)",
        "* OK [PERMANENTFLAGS ()] flags permitted",
        "* 1 FETCH (UID 1 FLAGS ($Late \\Recent))"]
    # APPEND with a new keyword: FLAGS before EXISTS.
    data = b"Subject: k\r\n\r\nk\r\n"
    client.send(b"k1 APPEND INBOX ($New) {%d+}\r\n%s\r\n" % (len(data), data))
    lines = await client.until_tagged("k1")
    assert lines[:3] == [
        "* FLAGS (\\Seen \\Answered \\Flagged \\Deleted \\Draft $Late $New)",
        "* OK [PERMANENTFLAGS (\\Seen \\Answered \\Flagged \\Deleted \\Draft $Late $New \\*)] "
        "flags permitted",
        "* 2 EXISTS"]
    await other.stop()
