"""Parsing of the mailbox commands: SELECT, CREATE, LIST, STATUS, NOTIFY, QUOTA, ..."""

from __future__ import annotations

import pytest

from postier.imap.commands import (
    Create,
    Delete,
    Examine,
    FetchAttribute,
    GetQuota,
    GetQuotaRoot,
    List,
    ListReturn,
    ListSelection,
    Lsub,
    Notify,
    NotifyEvent,
    NotifyFilter,
    NotifyGroup,
    QResync,
    Rename,
    Select,
    SequenceSet,
    SetQuota,
    Status,
    StatusItem,
    Subscribe,
    Unsubscribe,
)

from ._support import parse, parse_error


def test_select_forms() -> None:
    assert parse('a0004 SELECT "INBOX"') == Select("INBOX")  # mutt
    assert parse("a SELECT INBOX") == Select("INBOX")
    assert parse("a select inbox") == Select("inbox")  # INBOX folding is the session's job
    assert parse("a SELECT INBOX (CONDSTORE)") == Select("INBOX", condstore=True)
    assert parse("a EXAMINE Archive/2023") == Examine("Archive/2023")


def test_select_keeps_modified_utf7_and_utf8_names_raw() -> None:
    assert parse("a SELECT &ZeVnLIqe-") == Select("&ZeVnLIqe-")
    assert parse('a SELECT "日本語"') == Select("日本語")
    assert parse(b"a SELECT {6}\r\n\xd0\xbf\xd0\xb0\xd0\xbf") == Select("пап")


def test_select_qresync() -> None:
    command = parse('a SELECT "INBOX" (QRESYNC (67890007 20050715194045000 41,43:211,214:541))')
    assert command == Select(
        "INBOX",
        qresync=QResync(67890007, 20050715194045000, SequenceSet.of(41, (43, 211), (214, 541))),
    )


def test_select_qresync_with_sequence_match_data() -> None:
    line = "a EXAMINE INBOX (QRESYNC (67890007 90060115194045000 41:211,214:541 (1:20 1:200)))"
    assert parse(line) == Examine(
        "INBOX",
        qresync=QResync(67890007, 90060115194045000, SequenceSet.of((41, 211), (214, 541)),
                        SequenceSet.of((1, 20)), SequenceSet.of((1, 200))),
    )  # fmt: skip
    only_match = parse("a SELECT INBOX (QRESYNC (1 2 (1:2 5:6)) CONDSTORE)")
    assert only_match == Select(
        "INBOX", True, QResync(1, 2, None, SequenceSet.of((1, 2)), SequenceSet.of((5, 6)))
    )
    assert parse("a SELECT INBOX (QRESYNC (1 2))") == Select("INBOX", qresync=QResync(1, 2))


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("a SELECT INBOX (FOO)", "unexpected select parameter FOO"),
        ("a SELECT INBOX (CONDSTORE CONDSTORE)", "unexpected select parameter CONDSTORE"),
        ("a SELECT INBOX (QRESYNC (0 1))", "expected non-zero number"),
        ("a SELECT INBOX (QRESYNC (1 2 1:*))", "invalid sequence set"),
        ("a SELECT INBOX ()", "expected select parameter"),
        ("a SELECT", "expected space"),
    ],
)
def test_select_errors(line: str, message: str) -> None:
    assert parse_error(line).message == message


def test_create_delete_rename_subscribe() -> None:
    assert parse("a CREATE Projects/postier") == Create("Projects/postier")
    assert parse('a CREATE "Sent Items" (USE (\\sent))') == Create("Sent Items", ("\\Sent",))
    assert parse("a CREATE X (USE (\\Archive \\X-Custom))") == Create(
        "X", ("\\Archive", "\\X-Custom")
    )
    assert parse("a CREATE X (USE ())") == Create("X")
    assert parse_error("a CREATE X (FOO (\\Sent))").message == "unknown create parameter"
    assert parse("a DELETE Trash/old") == Delete("Trash/old")
    assert parse('a RENAME "Old Name" "New Name"') == Rename("Old Name", "New Name")
    assert parse("a SUBSCRIBE Lists") == Subscribe("Lists")
    assert parse("a UNSUBSCRIBE Lists") == Unsubscribe("Lists")


def test_list_basic() -> None:
    assert parse('a0003 LIST "" ""') == List("", ("",))  # mutt asks for the separator
    assert parse('a LIST "" "*"') == List("", ("*",))
    assert parse('a LIST "" *') == List("", ("*",))  # list-char includes the wildcards
    assert parse("a LIST ~/Mail/ %") == List("~/Mail/", ("%",))
    assert parse('a LIST "" Lists/%/]') == List("", ("Lists/%/]",))


def test_list_extended_as_thunderbird_and_apple_mail_send_it() -> None:
    assert parse('a LIST "" "*" RETURN (SPECIAL-USE SUBSCRIBED)') == List(
        "", ("*",), returns=frozenset({ListReturn.SPECIAL_USE, ListReturn.SUBSCRIBED}),
        extended=True,
    )  # fmt: skip
    assert parse('3 list (subscribed) "" "*" return (special-use)') == List(
        "", ("*",), frozenset({ListSelection.SUBSCRIBED}),
        frozenset({ListReturn.SPECIAL_USE}), extended=True,
    )  # fmt: skip


def test_list_extended_patterns_and_status() -> None:
    command = parse(
        'a LIST (REMOTE SUBSCRIBED RECURSIVEMATCH) "" ("INBOX" "Lists/*") '
        "RETURN (CHILDREN STATUS (MESSAGES UNSEEN) MYRIGHTS)"
    )
    assert command == List(
        "", ("INBOX", "Lists/*"),
        frozenset({ListSelection.REMOTE, ListSelection.SUBSCRIBED, ListSelection.RECURSIVEMATCH}),
        frozenset({ListReturn.CHILDREN, ListReturn.MYRIGHTS}),
        (StatusItem.MESSAGES, StatusItem.UNSEEN), extended=True,
    )  # fmt: skip
    assert parse('a LIST () "" %') == List("", ("%",), extended=True)
    assert parse('a LIST "" "*" RETURN ()') == List("", ("*",), extended=True)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('a LIST (RECURSIVEMATCH) "" *', "RECURSIVEMATCH needs another selection option"),
        ('a LIST (FOO) "" *', "unknown option FOO"),
        ('a LIST "" * RETURN (BAR)', "unknown option BAR"),
        ('a LIST "" * RETURN (STATUS ())', "expected status item"),
        ('a LIST "" * FOO (CHILDREN)', "expected RETURN"),
        ('a LIST ""', "expected space"),
        ('a LIST "" (a b', "expected space"),
    ],
)
def test_list_errors(line: str, message: str) -> None:
    assert parse_error(line).message == message


def test_lsub() -> None:
    assert parse('4 lsub "" "*"') == Lsub("", "*")


def test_status() -> None:
    assert parse("a STATUS INBOX (MESSAGES UNSEEN UIDNEXT)") == Status(
        "INBOX", (StatusItem.MESSAGES, StatusItem.UNSEEN, StatusItem.UIDNEXT)
    )
    every = "MESSAGES UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE RECENT HIGHESTMODSEQ APPENDLIMIT"
    command = parse(f'a STATUS "Sent Items" ({every.lower()} MAILBOXID)')
    assert isinstance(command, Status) and len(command.items) == 10
    assert parse_error("a STATUS INBOX ()").message == "expected status item"
    assert parse_error("a STATUS INBOX (X-GUID)").message == "unknown option X-GUID"
    assert parse_error("a STATUS INBOX MESSAGES").message == "expected '('"


def test_notify_none_and_set() -> None:
    assert parse("a NOTIFY NONE") == Notify(None)
    command = parse(
        "a NOTIFY SET STATUS (selected (MessageNew (UID BODY.PEEK[HEADER.FIELDS (From To)]) "
        "MessageExpunge FlagChange)) (subtree Lists (MessageNew MessageExpunge)) "
        "(mailboxes (INBOX Drafts) NONE) (personal (MailboxName SubscriptionChange XFuture))"
    )
    assert isinstance(command, Notify) and command.status and command.groups is not None
    selected, subtree, mailboxes, personal = command.groups
    assert selected.filter is NotifyFilter.SELECTED
    assert selected.events[0].name == "MessageNew"
    assert selected.events[0].fetch_items[0] is FetchAttribute.UID
    assert subtree == NotifyGroup(
        NotifyFilter.SUBTREE, ("Lists",),
        (NotifyEvent("MessageNew"), NotifyEvent("MessageExpunge")),
    )  # fmt: skip
    assert mailboxes == NotifyGroup(NotifyFilter.MAILBOXES, ("INBOX", "Drafts"))
    assert [e.name for e in personal.events] == ["MailboxName", "SubscriptionChange", "XFuture"]


def test_notify_names_are_case_insensitive() -> None:
    command = parse("a notify set (INBOXES (messagenew messageexpunge))")
    assert command == Notify(
        (NotifyGroup(NotifyFilter.INBOXES, (),
                     (NotifyEvent("MessageNew"), NotifyEvent("MessageExpunge"))),)
    )  # fmt: skip


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("a NOTIFY SET (selected)", "expected space"),
        ("a NOTIFY SET (mailboxes (MessageNew))", "expected space"),
        ("a NOTIFY SET (elsewhere (MessageNew MessageExpunge))",
         "unknown mailbox filter elsewhere"),
        ("a NOTIFY SET (selected ())", "expected event"),
        ("a NOTIFY SET (personal (MessageNew))", "MessageNew and MessageExpunge go together"),
        ("a NOTIFY SET (personal (FlagChange))", "FlagChange needs MessageNew and MessageExpunge"),
        ("a NOTIFY SET (selected (MailboxName))",
         "only message events apply to the selected mailbox"),
        ("a NOTIFY SET (selected NONE) (selected-delayed NONE)",
         "only one of SELECTED and SELECTED-DELAYED"),
        ("a NOTIFY SET (inboxes (MessageNew (UID) MessageExpunge))",
         "fetch attributes only apply to the selected mailbox"),
        ("a NOTIFY GET", "expected NONE or SET"),
    ],
)  # fmt: skip
def test_notify_errors(line: str, message: str) -> None:
    assert parse_error(line).message == message


def test_quota_commands() -> None:
    assert parse('a GETQUOTAROOT "INBOX"') == GetQuotaRoot("INBOX")
    assert parse('a GETQUOTA ""') == GetQuota("")
    assert parse('a SETQUOTA "" (STORAGE 512 messages 1000)') == SetQuota(
        "", (("STORAGE", 512), ("MESSAGES", 1000))
    )
    assert parse("a SETQUOTA x ()") == SetQuota("x", ())
