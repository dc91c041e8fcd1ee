"""SEARCH (plain, ESEARCH, SAVE/$, charsets, full-text), SORT and THREAD."""

from __future__ import annotations

from datetime import UTC, datetime

from postier.store.interface import Store
from tests.session.imap.client import ImapClient, deliver, message


async def _three(users: Store) -> None:
    await deliver(users, message("Quarterly report", "Numbers inside: revenue grew.\r\n",
                                 sender="carol@example.test"),
                  flags=frozenset({"\\Seen"}), when=datetime(2024, 1, 10, tzinfo=UTC))
    await deliver(users, message("Lunch?", "Pizza or sushi today?\r\n"),
                  flags=frozenset({"\\Flagged", "$Later"}),
                  when=datetime(2024, 2, 10, tzinfo=UTC))
    await deliver(users, message("Re: Quarterly report", "Thanks for the numbers.\r\n",
                                 extra="X-Priority: 1\r\n"),
                  when=datetime(2024, 3, 10, tzinfo=UTC))


async def test_search_keys(client: ImapClient, users: Store) -> None:
    await _three(users)
    await client.ok("SELECT INBOX")
    cases = {
        "ALL": "1 2 3",
        "SEEN": "1",
        "UNSEEN": "2 3",
        "FLAGGED": "2",
        "KEYWORD $Later": "2",
        "UNKEYWORD $Later": "1 3",
        "SUBJECT quarterly": "1 3",
        "FROM carol": "1",
        "NOT FROM carol": "2 3",
        "OR SEEN FLAGGED": "1 2",
        "SINCE 1-Feb-2024": "2 3",
        "BEFORE 1-Feb-2024": "1",
        "ON 10-Feb-2024": "2",
        "HEADER X-Priority 1": "3",
        "BODY pizza": "2",
        "TEXT numbers": "1 3",
        "TEXT carol": "1",
        "2:3": "2 3",
        "UID 1,3": "1 3",
        "LARGER 1": "1 2 3",
        "SMALLER 1": "",
        "RECENT": "1 2 3",
        "NEW": "2 3",
        "(SEEN) (NOT FLAGGED)": "1",
    }
    for criteria, expected in cases.items():
        lines = await client.ok(f"SEARCH {criteria}")
        assert lines[0] == f"* SEARCH {expected}".rstrip(), criteria


async def test_uid_search_and_charset(client: ImapClient, users: Store) -> None:
    await _three(users)
    await client.ok("SELECT INBOX")
    assert (await client.ok("UID SEARCH SUBJECT lunch"))[0] == "* SEARCH 2"
    assert (await client.ok("SEARCH CHARSET UTF-8 SUBJECT lunch"))[0] == "* SEARCH 2"
    lines = await client.command("SEARCH CHARSET KOI9 SUBJECT x")
    assert lines[-1].startswith("a5 NO [BADCHARSET")
    assert (await client.command("SEARCH BOGUS"))[-1].startswith("a6 BAD")


async def test_esearch_return_options(client: ImapClient, users: Store) -> None:
    await _three(users)
    await client.ok("SELECT INBOX")
    lines = await client.ok("SEARCH RETURN (MIN MAX COUNT ALL) SUBJECT quarterly")
    assert lines[0] == '* ESEARCH (TAG "a3") MIN 1 MAX 3 ALL 1,3 COUNT 2'
    lines = await client.ok("UID SEARCH RETURN () ALL")
    assert lines[0] == '* ESEARCH (TAG "a4") UID ALL 1:3'
    lines = await client.ok("SEARCH RETURN (COUNT) SUBJECT nothing-like-this")
    assert lines[0] == '* ESEARCH (TAG "a5") COUNT 0'


async def test_imap4rev2_search_answers_esearch(client: ImapClient, users: Store) -> None:
    await _three(users)
    await client.ok("ENABLE IMAP4rev2")
    await client.ok("SELECT INBOX")
    assert (await client.ok("SEARCH SEEN"))[0] == '* ESEARCH (TAG "a4") ALL 1'


async def test_searchres_save_and_reuse(client: ImapClient, users: Store) -> None:
    await _three(users)
    await client.ok("SELECT INBOX")
    lines = await client.ok("SEARCH RETURN (SAVE) SUBJECT quarterly")
    assert lines[:-1] == []
    assert (await client.ok("FETCH $ UID"))[:-1] == ["* 1 FETCH (UID 1)", "* 3 FETCH (UID 3)"]
    assert (await client.ok("SEARCH $ SEEN"))[0] == "* SEARCH 1"
    await client.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
    await client.ok("EXPUNGE")
    assert (await client.ok("UID FETCH $ UID"))[:-1] == ["* 2 FETCH (UID 3)"]
    lines = await client.ok("SEARCH RETURN (SAVE MIN) ALL")
    assert lines[:-1] == ['* ESEARCH (TAG "a9") MIN 1']
    assert (await client.ok("FETCH $ UID"))[:-1] == ["* 1 FETCH (UID 2)"]


async def test_sort(client: ImapClient, users: Store) -> None:
    await _three(users)
    await client.ok("SELECT INBOX")
    assert (await client.ok("SORT (SUBJECT) UTF-8 ALL"))[0] == "* SORT 2 1 3"
    assert (await client.ok("SORT (REVERSE ARRIVAL) UTF-8 ALL"))[0] == "* SORT 3 2 1"
    assert (await client.ok("UID SORT (FROM) UTF-8 SUBJECT quarterly"))[0] == "* SORT 3 1"


async def test_thread(client: ImapClient, users: Store) -> None:
    await deliver(users, message("Plan", extra="Message-ID: <a@x>\r\n"))
    await deliver(users, message("Other"))
    await deliver(users, message("Re: Plan", extra="In-Reply-To: <a@x>\r\nReferences: <a@x>\r\n"))
    await client.ok("SELECT INBOX")
    lines = await client.ok("THREAD ORDEREDSUBJECT UTF-8 ALL")
    assert lines[0] == "* THREAD (1 3)(2)"  # same Date: in mailbox order
    lines = await client.ok("UID THREAD REFERENCES UTF-8 ALL")
    assert lines[0].startswith("* THREAD ")


async def test_header_message_id_with_angle_brackets(client: ImapClient, users: Store) -> None:
    await deliver(users, message("with id"))  # Message-ID: <...@x>
    await deliver(users, b"X-Only: no usual fields\r\n\r\nbody\r\n")
    await client.ok("SELECT INBOX")
    lines = await client.command("FETCH 1 BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]")
    message_id = lines[1].split(": ", 1)[1]
    assert (await client.ok(f"SEARCH HEADER Message-ID {message_id}"))[0] == "* SEARCH 1"
    assert (await client.ok('SEARCH HEADER Message-ID "@x>"'))[0] == "* SEARCH 1"
    assert (await client.ok('SEARCH HEADER Message-ID ""'))[0] == "* SEARCH 1"


async def test_empty_subject_matches_only_messages_with_one(client: ImapClient,
                                                            users: Store) -> None:
    await deliver(users, message("has one"))
    await deliver(users, b"X-Only: no usual fields\r\n\r\nbody\r\n")
    await client.ok("SELECT INBOX")
    assert (await client.ok('SEARCH SUBJECT ""'))[0] == "* SEARCH 1"
    assert (await client.ok('SEARCH FROM ""'))[0] == "* SEARCH 1"
    assert (await client.ok('SEARCH NOT SUBJECT ""'))[0] == "* SEARCH 2"


async def test_full_text_keys_alone_and_combined(client: ImapClient, users: Store) -> None:
    # 40 messages: "harbour" in every one but each fifth (many hits, read with the mailbox),
    # "lighthouse" in two (few hits, looked up one by one).
    for n in range(1, 41):
        words = ("lighthouse " if n in (7, 33) else "") + ("" if n % 5 == 0 else "harbour ")
        await deliver(users, message(f"note {n}", f"{words}tide {n}\r\n"),
                      flags=frozenset({"\\Seen"}) if n % 2 else frozenset(),
                      when=datetime(2024, 1, n % 28 + 1, tzinfo=UTC))
    await client.ok("SELECT INBOX")
    harbour = [n for n in range(1, 41) if n % 5]

    async def search(criteria: str) -> list[int]:
        line = (await client.ok(f"SEARCH {criteria}"))[0]
        return [int(n) for n in line.split()[2:]]

    assert await search("TEXT harbour") == harbour
    assert await search("BODY harbour") == harbour
    assert await search("TEXT HARB") == harbour  # words match by their beginning
    assert await search("TEXT arbour") == []  # not inside a word: see imap/search.py
    assert await search("TEXT harbour BODY lighthouse") == [7, 33]
    assert await search("TEXT harbour SEEN") == [n for n in harbour if n % 2]
    assert await search("TEXT harbour 10:20") == [n for n in harbour if 10 <= n <= 20]
    assert await search("NOT TEXT harbour") == [5, 10, 15, 20, 25, 30, 35, 40]
    assert await search("OR BODY lighthouse SUBJECT \"note 5\"") == [5, 7, 33]
    assert await search("TEXT harbour SINCE 20-Jan-2024") == [
        n for n in harbour if n % 28 + 1 >= 20]
    assert await search("TEXT lighthouse BEFORE 8-Jan-2024") == [33]
    lines = await client.ok("UID SEARCH RETURN (COUNT MIN MAX) TEXT harbour")
    assert lines[0] == '* ESEARCH (TAG "a14") UID MIN 1 MAX 39 COUNT 32'
