"""Whole-session fuzzing: random command sequences and garbage never break a session.

Each example runs a real session over net.memory on a fresh SQLite store with three messages,
feeds it a random mix of valid commands, broken commands and raw bytes in random chunks, then
closes the client's side. Properties: the session task ends by itself (no hang, no exception
escaping ``run``), no command was answered ``[SERVERBUG]`` (no handler crashed), and every
line the server wrote is a well-formed response start (``*``, ``+`` or a tag).
"""

from __future__ import annotations

import asyncio
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from postier.auth.passwords import hash_password, scram_credentials
from postier.imap.session import ImapSession
from postier.net.memory import memory_pair
from postier.store.sqlite.store import SqliteStore
from tests.session.imap.client import make_services, message

_HASH = hash_password("alice-password")
_SCRAM = scram_credentials("alice-password")

COMMANDS = [
    b"LOGIN alice@example.test alice-password", b"LOGIN alice@example.test wrong",
    b"AUTHENTICATE PLAIN", b"AGFsaWNlQGV4YW1wbGUudGVzdABhbGljZS1wYXNzd29yZA==", b"*",
    b"SELECT INBOX", b"EXAMINE INBOX", b"SELECT Archive", b"CREATE Fuzz/Box", b"DELETE Fuzz",
    b"RENAME Fuzz/Box Other", b"RENAME INBOX Moved", b"SUBSCRIBE Fuzz", b"UNSUBSCRIBE Fuzz",
    b'LIST "" *', b'LIST (SUBSCRIBED RECURSIVEMATCH) "" % RETURN (STATUS (MESSAGES SIZE))',
    b'LSUB "" *', b"STATUS INBOX (MESSAGES UIDNEXT UNSEEN DELETED SIZE RECENT)",
    b"FETCH 1:* (FLAGS ENVELOPE BODYSTRUCTURE)", b"FETCH 1 BODY[]", b"FETCH 2 BINARY[1]<0.5>",
    b"UID FETCH 1:* (UID RFC822.SIZE BODY.PEEK[HEADER.FIELDS (Subject)])", b"FETCH $ FLAGS",
    b"FETCH 9 FLAGS", b"STORE 1:* +FLAGS (\\Deleted)", b"STORE 2 -FLAGS.SILENT (\\Seen)",
    b"UID STORE 1:3 FLAGS ($Label)", b"EXPUNGE", b"UID EXPUNGE 1:2", b"CLOSE", b"UNSELECT",
    b"SEARCH RETURN (SAVE MIN COUNT) TEXT hello", b"SEARCH OR SEEN NOT DELETED",
    b"UID SEARCH HEADER Subject x SINCE 1-Jan-2020", b"SORT (REVERSE DATE) UTF-8 ALL",
    b"THREAD REFERENCES UTF-8 ALL", b"COPY 1:* Archive", b"MOVE 1 Trash", b"UID MOVE 2:* Junk",
    b"APPEND INBOX {12}", b"APPEND INBOX (\\Seen) {12+}\r\nSubject: x\r\n",
    b"APPEND INBOX {5+}\r\nabcde {3+}\r\nxyz", b"IDLE", b"DONE", b"NOOP", b"CHECK",
    b"ENABLE IMAP4rev2", b"NAMESPACE", b"ID NIL", b"GETQUOTAROOT INBOX", b'GETQUOTA ""',
    b"COMPRESS DEFLATE", b"STARTTLS", b"UNAUTHENTICATE", b"CAPABILITY", b"LOGOUT",
    b"SELECT INBOX (CONDSTORE)", b"FETCH 1:* (FLAGS) (CHANGEDSINCE 1)", b"SEARCH MODSEQ 2",
    b"STORE 1:* (UNCHANGEDSINCE 3) +FLAGS (\\Seen)", b"ENABLE CONDSTORE IMAP4rev2",
]  # fmt: skip

_line = st.builds(lambda tag, command: tag + b" " + command + b"\r\n",
                  st.sampled_from([b"a1", b"b2", b"*", b"", b"x" * 3]),
                  st.sampled_from(COMMANDS))
_chunk = st.one_of(_line, _line, _line, st.binary(max_size=30),
                   st.sampled_from([b"\r\n", b"DONE\r\n", b"{5}\r\n", b"{3+}\r\n", b"\x00"]))
_RESPONSE_START = re.compile(rb"^(\* |\+ |[\x21-\x7e]+ )")


async def _run_session(chunks: list[bytes], directory: Path) -> bytes:
    store = await asyncio.to_thread(SqliteStore.open, directory)
    try:
        await store.add_domain("example.test")
        account = await store.add_account("alice@example.test", _HASH, _SCRAM)
        inbox = await store.get_mailbox(account.id, "INBOX")
        for subject in ("hello", "world", "again"):
            await store.append(account.id, inbox.id, message(subject),
                               internal_date=datetime(2024, 1, 1, tzinfo=UTC))
        conn, peer = memory_pair("imaps", tls=True)
        task = asyncio.create_task(ImapSession(make_services(store), conn).run())
        for chunk in chunks:
            peer.send(chunk)
            await asyncio.sleep(0)
        peer.close()
        async with asyncio.timeout(30):
            await task  # run() handles every error itself: nothing may escape
        return bytes(conn.outbound)
    finally:
        await store.close()


_PREFIXES = [b"", b"p1 LOGIN alice@example.test alice-password\r\n",
             b"p1 LOGIN alice@example.test alice-password\r\np2 SELECT INBOX\r\n"]
MAX_EXAMPLES = 60


@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(prefix=st.sampled_from(_PREFIXES), chunks=st.lists(_chunk, max_size=25))
def test_random_sessions_never_break(prefix: bytes, chunks: list[bytes]) -> None:
    chunks = [prefix, *chunks]
    with tempfile.TemporaryDirectory() as directory:
        output = asyncio.run(_run_session(chunks, Path(directory)))
    assert b"[SERVERBUG]" not in output, output
    for line in output.split(b"\r\n"):
        # Literal payloads span lines of their own; they follow a "{n}" line.
        if line and not _RESPONSE_START.match(line):
            assert b"{" in output, line
