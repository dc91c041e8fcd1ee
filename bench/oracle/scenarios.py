"""The command sequences replayed on both servers.

A step is a command without its tag (``"FETCH 1 FLAGS"``), sent on connection 1 and tagged by
the runner; ``"2:..."`` sends it on a second connection (logged in the same way);
``"RAW:..."`` sends the text as it is (no tag) and then a NOOP so the answer is bounded;
``"IDLE"`` starts IDLE on connection 1 and ``"DONE"`` ends it. Each scenario runs on a fresh
account; ``corpus`` APPENDs ``corpus.MESSAGES`` to INBOX first (setup, not compared).
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["IMAP_SCENARIOS", "POP3_SCENARIOS", "Scenario", "append"]


@dataclass(frozen=True)
class Scenario:
    name: str
    steps: list[str | bytes]
    corpus: bool = True
    login: bool = True
    protocol: str = "imap"
    notes: str = field(default="")


def append(mailbox: str, message: bytes, flags: str = "()",
           date: str = "01-Oct-2024 08:00:00 +0000", *, plus: bool = False) -> bytes:
    marker = f"{{{len(message)}{'+' if plus else ''}}}"
    return f'APPEND {mailbox} {flags} "{date}" {marker}\r\n'.encode() + message


SIMPLE = (b"From: x@example.com\r\nTo: y@example.com\r\nSubject: simple\r\n"
          b"Date: Thu, 10 Oct 2024 10:00:00 +0000\r\nMessage-ID: <simple@example.com>\r\n"
          b"\r\nsimple body\r\n")

FETCH_ITEMS = [
    "FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY", "BODYSTRUCTURE", "UID",
    "RFC822.HEADER", "RFC822.TEXT", "RFC822", "BODY.PEEK[]", "BODY.PEEK[HEADER]",
    "BODY.PEEK[TEXT]", "BODY.PEEK[1]", "BODY.PEEK[1.MIME]", "BODY.PEEK[2]", "BODY.PEEK[1.1]",
    "BODY.PEEK[2.MIME]", "BODY.PEEK[1.2]", "BODY.PEEK[2.HEADER]", "BODY.PEEK[2.TEXT]",
    "BODY.PEEK[2.1]", "BODY.PEEK[3]", "BODY.PEEK[HEADER.FIELDS (From Subject)]",
    "BODY.PEEK[HEADER.FIELDS.NOT (From Subject Date)]",
    "BODY.PEEK[HEADER.FIELDS (X-Nothing)]", "BODY.PEEK[]<0.10>", "BODY.PEEK[]<5.100000>",
    "BODY.PEEK[TEXT]<2.3>", "BODY.PEEK[1]<0.0>", "BODY.PEEK[]<100000.5>", "BINARY.PEEK[1]",
    "BINARY.PEEK[2]", "BINARY.SIZE[1]", "BINARY.SIZE[2]", "BINARY.PEEK[1]<1.4>", "BINARY.PEEK[]",
    "BINARY.PEEK[3]", "MODSEQ",
]

IMAP_SCENARIOS: list[Scenario] = [
    Scenario("not-authenticated", login=False, corpus=False, steps=[
        "NOOP", "SELECT INBOX", "LIST \"\" *", "FETCH 1 FLAGS", "LOGOUT"]),
    Scenario("login-errors", login=False, corpus=False, steps=[
        "LOGIN", "LOGIN onlyuser", "LOGIN bench1@bench.test wrongpassword",
        "LOGIN \"bench1@bench.test\" \"bench\" extra", "AUTHENTICATE UNKNOWN-MECH",
        "LOGIN bench1@bench.test bench", "LOGIN bench1@bench.test bench"]),
    Scenario("enable-and-id", corpus=False, steps=[
        "ENABLE CONDSTORE", "ENABLE QRESYNC CONDSTORE", "ENABLE NOSUCH", "ENABLE",
        "NAMESPACE", "GETQUOTAROOT INBOX", "GETQUOTAROOT nosuch", "GETQUOTA \"\"",
        "GETQUOTA \"nosuchroot\"", "SETQUOTA \"\" (STORAGE 10)"]),
    Scenario("list-patterns", corpus=False, steps=[
        "CREATE a", "CREATE a/b", "CREATE a/b/c", "CREATE x/y", "CREATE Inbox/child",
        "LIST \"\" \"\"", "LIST \"\" %", "LIST \"\" *", "LIST \"\" a/%", "LIST \"\" a/*",
        "LIST \"\" inbox", "LIST \"\" InBoX", "LIST \"\" INBOX*", "LIST \"\" inbox/%",
        "LIST a/ %", "LIST \"\" %/%", "LIST nosuch/ *", "LIST \"\" x", "LIST \"\" \"a/\"",
        "LIST \"/\" *", "LIST \"\" \"*b*\"", "LIST \"\" \"Sen%\"",
        "LSUB \"\" *", "SUBSCRIBE a/b", "SUBSCRIBE nosuch", "LSUB \"\" *", "LSUB \"\" %",
        "UNSUBSCRIBE nosuch", "UNSUBSCRIBE nosuch",
    ]),
    Scenario("list-extended", corpus=False, steps=[
        "CREATE a/b", "SUBSCRIBE a/b", "CREATE gone", "SUBSCRIBE gone", "DELETE gone",
        "LIST (SUBSCRIBED) \"\" *", "LIST (SUBSCRIBED RECURSIVEMATCH) \"\" %",
        "LIST \"\" * RETURN (SUBSCRIBED)", "LIST \"\" % RETURN (CHILDREN)",
        "LIST (SPECIAL-USE) \"\" *", "LIST \"\" * RETURN (SPECIAL-USE)",
        "LIST (SPECIAL-USE) \"\" * RETURN (SPECIAL-USE)",
        "LIST \"\" (INBOX a)", "LIST \"\" (INBOX Sent)",
        "LIST \"\" % RETURN (STATUS (MESSAGES UIDNEXT UNSEEN))",
        "LIST \"\" * RETURN (STATUS (MESSAGES RECENT SIZE))",
        "LIST (RECURSIVEMATCH) \"\" *", "LIST (NOSUCH) \"\" *", "LIST \"\" * RETURN (NOSUCH)",
        "CREATE \"Mine\" (USE (\\Important))", "CREATE \"Trash2\" (USE (\\Trash))",
        "LIST \"\" Trash2 RETURN (SPECIAL-USE)",
    ]),
    Scenario("create-delete-rename", corpus=False, steps=[
        "CREATE INBOX", "CREATE inbox", "CREATE \"\"", "CREATE p/", "LIST \"\" p*",
        "CREATE p/q/r", "LIST \"\" p*", "DELETE p", "LIST \"\" p*", "DELETE p/q/r",
        "DELETE p/q", "LIST \"\" p*", "DELETE nosuch", "DELETE INBOX", "DELETE inbox",
        "CREATE old", "CREATE old/kid", "RENAME old new", "LIST \"\" *", "RENAME new Sent",
        "RENAME nosuch other", "RENAME new new", "RENAME new new/inside",
        "RENAME Sent \"Sent Items\"", "LIST \"\" * RETURN (SPECIAL-USE)",
        append("INBOX", SIMPLE), "RENAME INBOX Saved", "STATUS INBOX (MESSAGES)",
        "STATUS Saved (MESSAGES)", "RENAME inbox Saved2", "RENAME Saved INBOX",
        "CREATE \"with space\"", "CREATE \"&AOk-t&AOk-\"", "CREATE \"bad&name\"",
        "CREATE \"a%b\"", "CREATE \"a*b\"", "LIST \"\" *", "SELECT \"&AOk-t&AOk-\"",
        "DELETE \"&AOk-t&AOk-\"",
    ]),
    Scenario("select-examine", steps=[
        "SELECT INBOX", "EXAMINE INBOX", "SELECT Sent", "SELECT nosuch", "FETCH 1 FLAGS",
        "SELECT INBOX (CONDSTORE)", "STATUS INBOX (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN "
        "HIGHESTMODSEQ SIZE)", "STATUS INBOX (DELETED)", "STATUS INBOX ()", "STATUS INBOX (NOSUCH)",
        "STATUS nosuch (MESSAGES)", "STATUS Sent (MESSAGES RECENT UNSEEN)", "CLOSE",
        "CLOSE", "EXAMINE INBOX", "UNSELECT", "UNSELECT",
    ]),
    Scenario("recent", steps=[
        "2:SELECT INBOX", "2:LOGOUT", "SELECT INBOX", "2:SELECT INBOX",
        "2:" + append("INBOX", SIMPLE).decode(), "NOOP", "2:NOOP", "FETCH 1:* FLAGS",
        "SEARCH RECENT", "SEARCH NEW", "SEARCH OLD", "EXAMINE INBOX", "STATUS INBOX (RECENT)",
    ]),
    Scenario("fetch-items", steps=[
        "EXAMINE INBOX",
        *[f"FETCH 1:* ({item})" for item in FETCH_ITEMS],
        "FETCH 1 FAST", "FETCH 1 ALL", "FETCH 1 FULL", "FETCH 1:2 (FLAGS UID RFC822.SIZE)",
        "UID FETCH 1:* FLAGS", "UID FETCH 3,5 (FLAGS)", "UID FETCH 100:* FLAGS",
        "UID FETCH 12:10 UID", "FETCH 13 FLAGS", "FETCH 0 FLAGS", "FETCH 12:* FLAGS",
        "FETCH * UID", "FETCH 1 (NOSUCH)", "FETCH 1 BODY[4.NOSUCH]", "FETCH 1 BODY[0]",
        "FETCH 2 BODY.PEEK[1.2.3]", "FETCH 1 BODY.PEEK[]<0>", "FETCH 1 BINARY[1.MIME]",
        "FETCH 1 (FLAGS", "FETCH 1 RFC822.SIZE RFC822.SIZE",
    ]),
    Scenario("fetch-sets-seen", steps=[
        "SELECT INBOX", "FETCH 3 BODY[1]", "FETCH 3 FLAGS", "FETCH 5 RFC822.TEXT",
        "FETCH 8 BINARY[1]", "FETCH 10 RFC822", "FETCH 3,5,8,10 FLAGS", "FETCH 9 RFC822.HEADER",
        "FETCH 9 FLAGS", "EXAMINE INBOX", "FETCH 12 BODY[]", "FETCH 12 FLAGS",
    ]),
    Scenario("search", steps=[
        "EXAMINE INBOX", "SEARCH ALL", "SEARCH SEEN", "SEARCH UNSEEN", "SEARCH FLAGGED",
        "SEARCH UNFLAGGED", "SEARCH ANSWERED", "SEARCH UNANSWERED", "SEARCH DELETED",
        "SEARCH UNDELETED", "SEARCH DRAFT", "SEARCH UNDRAFT", "SEARCH KEYWORD $Important",
        "SEARCH UNKEYWORD $Important", "SEARCH KEYWORD work", "SEARCH KEYWORD nosuch",
        "SEARCH FROM alice", "SEARCH FROM \"example.de\"", "SEARCH FROM Müller",
        "SEARCH TO bob", "SEARCH CC dave", "SEARCH BCC hidden", "SEARCH SUBJECT hello",
        "SEARCH SUBJECT \"Grüße\"", "SEARCH CHARSET UTF-8 SUBJECT \"Grüße\"",
        "SEARCH CHARSET UTF-8 SUBJECT {6}\r\nGrüße", "SEARCH CHARSET NOSUCH SUBJECT x",
        "SEARCH CHARSET ISO-8859-1 SUBJECT caf", "SEARCH BODY plain", "SEARCH BODY München",
        "SEARCH TEXT epilogue", "SEARCH TEXT inner", "SEARCH HEADER X-Only \"\"",
        "SEARCH HEADER X-Only usual", "SEARCH HEADER Message-ID <plain-1@example.org>",
        "SEARCH HEADER nosuch \"\"", "SEARCH LARGER 1000", "SEARCH SMALLER 200",
        "SEARCH LARGER 100000", "SEARCH BEFORE 1-Oct-2024", "SEARCH ON 1-Oct-2024",
        "SEARCH SINCE 5-Oct-2024", "SEARCH SENTBEFORE 1-Oct-2024", "SEARCH SENTON 3-Oct-2024",
        "SEARCH SENTON 4-Oct-2024", "SEARCH SENTSINCE 8-Oct-2024", "SEARCH SINCE 31-Feb-2024",
        "SEARCH SINCE 1-Foo-2024", "SEARCH SINCE \"1-Oct-2024\"", "SEARCH OR SEEN FLAGGED",
        "SEARCH NOT SEEN", "SEARCH NOT NOT SEEN", "SEARCH OR (SEEN FLAGGED) DELETED",
        "SEARCH (SEEN) (UNDELETED)", "SEARCH OR OR SEEN DRAFT DELETED", "SEARCH 1:3",
        "SEARCH 2,4:*", "SEARCH *", "SEARCH *:10", "SEARCH 20:*", "SEARCH 13",
        "SEARCH UID 1:5", "SEARCH UID 5:1", "SEARCH UID *", "SEARCH UID 100:*",
        "UID SEARCH ALL", "UID SEARCH 1:3", "UID SEARCH UID 3:1", "SEARCH NEW", "SEARCH OLD",
        "SEARCH RECENT", "SEARCH NOSUCHKEY", "SEARCH", "SEARCH OR SEEN", "SEARCH (SEEN",
        "SEARCH LARGER abc", "SEARCH 0", "SEARCH MODSEQ 1", "SEARCH YOUNGER 1",
        "SEARCH OLDER 1", "SEARCH FROM", "SEARCH SUBJECT \"very long subject very\"",
        "SEARCH SUBJECT \"\"", "SEARCH HEADER Subject \"fwd\"", "SEARCH TO \"Friends\"",
        "SEARCH TO f2", "SEARCH HEADER X-Folded \"second line\"",
    ]),
    Scenario("esearch", steps=[
        "EXAMINE INBOX", "SEARCH RETURN () ALL", "SEARCH RETURN (MIN MAX COUNT) SEEN",
        "SEARCH RETURN (ALL) 1:*", "SEARCH RETURN (COUNT) NOSUCHFLAG", "SEARCH RETURN (MIN) DRAFT",
        "SEARCH RETURN (MIN MAX) KEYWORD nosuch", "UID SEARCH RETURN (ALL COUNT) ALL",
        "SEARCH RETURN (SAVE) SEEN", "FETCH $ FLAGS", "SEARCH RETURN (SAVE MIN) FLAGGED",
        "FETCH $ UID", "UID SEARCH $", "SEARCH RETURN (NOSUCH) ALL",
        "SEARCH CHARSET UTF-8 RETURN (COUNT) ALL", "SEARCH RETURN (COUNT) CHARSET UTF-8 ALL",
        "SEARCH RETURN (MODSEQ) ALL", "SEARCH RETURN (ALL) MODSEQ 1",
    ]),
    Scenario("sort-thread", steps=[
        "EXAMINE INBOX", "SORT (DATE) UTF-8 ALL", "SORT (ARRIVAL) UTF-8 ALL",
        "SORT (REVERSE DATE) UTF-8 ALL", "SORT (SUBJECT) UTF-8 ALL", "SORT (FROM) UTF-8 ALL",
        "SORT (TO) UTF-8 ALL", "SORT (CC) UTF-8 ALL", "SORT (SIZE) UTF-8 ALL",
        "SORT (SIZE REVERSE ARRIVAL) US-ASCII ALL", "UID SORT (SUBJECT) UTF-8 SEEN",
        "SORT (DISPLAYFROM) UTF-8 ALL", "SORT (NOSUCH) UTF-8 ALL", "SORT () UTF-8 ALL",
        "SORT (DATE) NOSUCH ALL", "SORT (DATE) UTF-8", "SORT RETURN (COUNT) (DATE) UTF-8 ALL",
        "THREAD ORDEREDSUBJECT UTF-8 ALL", "THREAD REFERENCES UTF-8 ALL",
        "UID THREAD REFERENCES UTF-8 ALL", "THREAD NOSUCH UTF-8 ALL",
        "THREAD REFERENCES UTF-8 SUBJECT nested",
    ]),
    Scenario("store", steps=[
        "SELECT INBOX", "STORE 1 +FLAGS (\\Flagged)", "STORE 1 -FLAGS (\\Seen)",
        "STORE 1 FLAGS (\\Answered foo)", "STORE 1 +FLAGS.SILENT (bar)", "FETCH 1 FLAGS",
        "STORE 1:3 -FLAGS.SILENT (\\Answered)", "STORE 2 +FLAGS (\\Recent)",
        "STORE 2 +FLAGS (\\NoSuchSystemFlag)", "STORE 2 +FLAGS ()", "STORE 2 FLAGS ()",
        "STORE 2 +FLAGS \\Seen", "STORE 2 +FLAGS (\"quoted\")", "STORE 2 +FLAGS (a]b)",
        "STORE 20 +FLAGS (\\Seen)", "UID STORE 100 +FLAGS (\\Seen)", "STORE 1 BADITEM (x)",
        "UID STORE 1:3 +FLAGS (uidflag)", "FETCH 1:3 FLAGS",
        "STORE 1 (UNCHANGEDSINCE 1) +FLAGS (x)",
        "FETCH 1 (FLAGS MODSEQ)", "SELECT INBOX (CONDSTORE)",
        "FETCH 1 (MODSEQ)", "STORE 1 +FLAGS (y)", "FETCH 1:2 (FLAGS) (CHANGEDSINCE 1)",
        "STORE 1:2 (UNCHANGEDSINCE 2) +FLAGS (z)", "STORE 1 (UNCHANGEDSINCE 0) +FLAGS (z)",
        "EXAMINE INBOX", "STORE 1 +FLAGS (\\Seen)", "FETCH 1 FLAGS",
    ]),
    Scenario("copy-move-expunge", steps=[
        "SELECT INBOX", "COPY 1:2 Archive", "COPY 1 nosuch", "UID COPY 5,3 Archive",
        "UID COPY 100 Archive", "COPY 20 Archive", "MOVE 3 Archive", "UID MOVE 7:8 Trash",
        "FETCH 1:* UID", "STORE 1:2 +FLAGS.SILENT (\\Deleted)", "UID EXPUNGE 1",
        "UID EXPUNGE 100:200", "EXPUNGE", "FETCH 1:* (UID FLAGS)",
        "STATUS Archive (MESSAGES UIDNEXT)",
        "EXAMINE Archive", "FETCH 1:* (UID FLAGS)", "SELECT INBOX", "MOVE 1:* INBOX",
        "COPY 1 INBOX", "STORE 1:* +FLAGS.SILENT (\\Deleted)", "CLOSE", "SELECT INBOX",
        append("Drafts", SIMPLE, "(\\Draft)"), append("nosuch", SIMPLE),
        append("INBOX", SIMPLE, "(\\Seen \\Recent)"), append("INBOX", SIMPLE, "(\\Bogus)"),
        append("INBOX", b""), append("INBOX", SIMPLE, "()", "99-Foo-2024 00:00:00 +0000"),
        append("INBOX", SIMPLE, plus=True), "APPEND INBOX", "NOOP",
    ]),
    Scenario("expunge-order", steps=[
        "SELECT INBOX", "STORE 2,4,5,9,12 +FLAGS.SILENT (\\Deleted)", "EXPUNGE",
        "2:SELECT INBOX", "2:STORE 1,3 +FLAGS.SILENT (\\Deleted)", "2:EXPUNGE", "NOOP",
        "FETCH 1:* UID", "2:STORE 1 +FLAGS (\\Seen)", "FETCH 1 FLAGS", "SEARCH ALL",
    ]),
    Scenario("qresync", corpus=True, steps=[
        "ENABLE QRESYNC", "SELECT INBOX", "STORE 2 +FLAGS (\\Seen)",
        "STORE 3 +FLAGS.SILENT (\\Deleted)", "EXPUNGE",
        "FETCH 1:* (UID FLAGS) (CHANGEDSINCE 1 VANISHED)",
        "UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)", "2:SELECT INBOX",
        "2:STORE 1 +FLAGS.SILENT (\\Deleted)", "2:EXPUNGE", "NOOP", "UNSELECT",
    ]),
    Scenario("idle", steps=[
        "SELECT INBOX", "IDLE", "2:" + append("INBOX", SIMPLE).decode(), "DONE",
        "IDLE", "2:SELECT INBOX", "2:STORE 1 +FLAGS (\\Flagged)", "DONE", "RAW:DONE",
    ]),
    Scenario("malformed", steps=[
        "RAW:", "RAW:*", "RAW:tag", "RAW:tag NOSUCHCOMMAND", "RAW:tag noop", "RAW:+ NOOP",
        "RAW:tag SELECT", "RAW:tag SELECT \"unterminated", "RAW:tag FETCH", "RAW:tag FETCH 1",
        "RAW:tag FETCH x FLAGS", "RAW:tag FETCH 1 FLAGS extra", "RAW:tag  NOOP",
        "RAW:tag NOOP ", "RAW:tag LIST", "RAW:tag STATUS INBOX", "RAW:tag UID", "RAW:tag UID NOOP",
        "RAW:tag LOGIN a b", "RAW:tag AUTHENTICATE PLAIN", "RAW:tag STARTTLS",
        "RAW:tag SEARCH", "RAW:tag CAPABILITY extra", "RAW:tag LOGOUT extra",
        "RAW:ta%g NOOP", "RAW:ta(g NOOP", "RAW:tag CREATE", "RAW:tag STORE 1 FLAGS",
        "RAW:tag COPY 1", "RAW:tag EXAMINE INBOX INBOX",
    ]),
    Scenario("selected-state-errors", corpus=False, steps=[
        "FETCH 1 FLAGS", "STORE 1 +FLAGS (x)", "SEARCH ALL", "COPY 1 INBOX", "MOVE 1 INBOX",
        "EXPUNGE", "UID EXPUNGE 1", "CLOSE", "UNSELECT", "CHECK", "SORT (DATE) UTF-8 ALL",
        "IDLE", "DONE", "SELECT INBOX", "FETCH 1 FLAGS", "SEARCH ALL", "FETCH * FLAGS",
        "UID FETCH * FLAGS", "UID SEARCH *", "STORE * +FLAGS (x)", "CHECK",
    ]),
    Scenario("logout", corpus=False, steps=["SELECT INBOX", "LOGOUT"]),
]

POP3_SCENARIOS: list[Scenario] = [
    Scenario("pop3-auth", protocol="pop3", login=False, steps=[
        "CAPA", "STAT", "LIST", "PASS bench", "USER", "USER bench1@bench.test", "PASS wrong",
        "USER bench1@bench.test", "APOP bench1@bench.test 0123456789abcdef0123456789abcdef",
        "USER bench1@bench.test", "USER bench1@bench.test", "PASS bench", "USER x", "CAPA",
        "QUIT",
    ]),
    Scenario("pop3-transaction", protocol="pop3", steps=[
        "STAT", "LIST", "LIST 1", "LIST 12", "LIST 13", "LIST 0", "LIST x", "LIST 1 2",
        "UIDL", "UIDL 2", "UIDL 99", "RETR 1", "RETR 99", "RETR", "TOP 1 0", "TOP 1 2",
        "TOP 1 1000", "TOP 9 5", "TOP 1", "TOP 1 -1", "TOP x 1", "TOP 2 3", "DELE 1", "DELE 1",
        "RETR 1", "LIST 1", "UIDL 1", "TOP 1 0", "STAT", "LIST", "RSET", "STAT", "DELE 2",
        "NOOP", "NOOP x", "NOSUCH", "", "stat", "LAST", "QUIT",
    ]),
    Scenario("pop3-update", protocol="pop3", steps=[
        "DELE 1", "DELE 3", "QUIT", "STAT", "UIDL", "DELE 12", "QUIT",
    ]),
]
