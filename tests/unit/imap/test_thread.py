"""THREAD=ORDEREDSUBJECT and THREAD=REFERENCES (RFC 5256 §3) and the thread-list syntax (§4)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from postier import mime
from postier.imap.commands import ThreadAlgorithm
from postier.imap.responses import Atom, serialize
from postier.imap.sort_thread import (
    SortMessage,
    ThreadNode,
    render_threads,
    thread,
    thread_response,
)

REFERENCES = ThreadAlgorithm.REFERENCES
ORDEREDSUBJECT = ThreadAlgorithm.ORDEREDSUBJECT
BASE = datetime(2024, 1, 1, tzinfo=UTC)


def message(seq: int, subject: str, minute: int, message_id: str | None = None,
            references: str = "", in_reply_to: str = "") -> SortMessage:
    headers = [f"Subject: {subject}",
               f"Date: {(BASE + timedelta(minutes=minute)):%a, %d %b %Y %H:%M:%S +0000}"]
    if message_id is not None:
        headers.append(f"Message-ID: <{message_id}>")
    if references:
        headers.append(f"References: {references}")
    if in_reply_to:
        headers.append(f"In-Reply-To: {in_reply_to}")
    data = ("\r\n".join(headers) + "\r\n\r\nbody\r\n").encode()
    summary = mime.summarize(data, mime.parse_message(data))
    return SortMessage(seq=seq, uid=seq + 100, internal_date=BASE, size=len(data),
                       summary_json=json.dumps(summary.to_json()))


def text(messages: list[SortMessage], algorithm: ThreadAlgorithm = REFERENCES,
         uid: bool = False) -> str:
    return render_threads(thread(messages, algorithm), uid).text


def numbers(nodes: list[ThreadNode]) -> list[int]:
    found: list[int] = []
    stack = list(nodes)
    while stack:
        node = stack.pop()
        if node.message is not None:
            found.append(node.message.seq)
        stack.extend(node.children)
    return sorted(found)


def leaf(seq: int) -> ThreadNode:
    return ThreadNode(SortMessage(seq, seq, BASE, 0, "{}"))


def test_render_the_rfc_example_tree() -> None:
    tree = [leaf(2), ThreadNode(leaf(3).message, (ThreadNode(leaf(6).message, (
        ThreadNode(leaf(4).message, (leaf(23),)),
        ThreadNode(leaf(44).message, (ThreadNode(leaf(7).message, (leaf(96),)),)),
    )),))]
    assert render_threads(tree, uid=False) == Atom("(2)(3 6 (4 23)(44 7 96))")
    dummy = ThreadNode(None, (leaf(1), ThreadNode(leaf(2).message, (leaf(3),))))
    assert render_threads([dummy], uid=False) == Atom("((1)(2 3))")


def test_references_builds_the_rfc_example() -> None:
    refs = {6: "<3@x>", 4: "<3@x> <6@x>", 23: "<3@x> <6@x> <4@x>", 44: "<3@x> <6@x>",
            7: "<3@x> <6@x> <44@x>", 96: "<3@x> <6@x> <44@x> <7@x>"}
    minutes = {2: 0, 3: 1, 6: 2, 4: 3, 23: 4, 44: 5, 7: 6, 96: 7}
    messages = [message(seq, "Other" if seq == 2 else ("Topic" if seq == 3 else "Re: Topic"),
                        minutes[seq], f"{seq}@x", refs.get(seq, ""))
                for seq in sorted(minutes)]
    assert text(messages) == "(2)(3 6 (4 23)(44 7 96))"
    assert text(messages, uid=True) == "(102)(103 106 (104 123)(144 107 196))"
    assert text(list(reversed(messages))) == "(2)(3 6 (4 23)(44 7 96))"


def test_in_reply_to_is_used_without_references() -> None:
    messages = [message(1, "a", 0, "1@x"), message(2, "b", 1, "2@x", in_reply_to="<1@x>"),
                message(3, "c", 2, "3@x", references="<2@x>", in_reply_to="<1@x>")]
    assert text(messages) == "(1 2 3)"


def test_dummy_parents() -> None:
    # Two replies to a message we do not have stay together under a dummy ...
    two = [message(1, "Re: gone", 0, "1@x", "<gone@x>"),
           message(2, "Re: gone", 1, "2@x", "<gone@x>")]
    assert text(two) == "((1)(2))"
    # ... one is simply promoted; a dummy below the top is spliced out.
    assert text(two[:1]) == "(1)"
    chain = [message(1, "a", 0, "1@x"), message(2, "b", 1, "2@x", "<1@x> <gone@x>"),
             message(3, "c", 2, "3@x", "<1@x> <gone@x>")]
    assert text(chain) == "(1 (2)(3))"


def test_subject_merging() -> None:
    assert text([message(1, "Hello", 0, "1@x"), message(2, "Re: Hello", 1, "2@x")]) == "(1 2)"
    assert text([message(1, "Re: Hello", 0, "1@x"), message(2, "Hello", 1, "2@x")]) == "(2 1)"
    assert text([message(1, "Hello", 0, "1@x"), message(2, "hello", 1, "2@x")]) == "((1)(2))"
    merged = [message(1, "Re: X", 0, "1@x", "<gone@x>"),
              message(2, "Re: X", 2, "2@x", "<gone@x>"), message(3, "X", 1, "3@x"),
              message(4, "", 3, "4@x"), message(5, "", 4, "5@x")]
    assert text(merged) == "((1)(3)(2))(4)(5)"  # empty subjects never merge


def test_loops_duplicates_and_missing_ids() -> None:
    loop = [message(1, "a", 0, "a@x", "<b@x>"), message(2, "b", 1, "b@x", "<a@x>"),
            message(3, "c", 2, "c@x", "<c@x>")]
    assert numbers(thread(loop, REFERENCES)) == [1, 2, 3]
    dupes = [message(1, "a", 0, "same@x"), message(2, "b", 1, "same@x"),
             message(3, "c", 2, None), message(4, "d", 3, "4@x", "<same@x>")]
    assert text(dupes) == "(1 4)(2)(3)"


def test_deep_threads_need_no_recursion() -> None:
    depth = 3000
    messages = [message(1, "deep", 0, "1@x")]
    messages += [message(n, "Re: deep", n, f"{n}@x", f"<{n - 1}@x>") for n in range(2, depth + 1)]
    assert text(messages) == "(" + " ".join(str(n) for n in range(1, depth + 1)) + ")"
    fan = [message(1, "fan", 0, "1@x")]
    for n in range(2, 2 * depth, 2):  # every level forks: a deep nest of parentheses
        fan += [message(n, "Re: fan", n, f"{n}@x", f"<{max(n - 2, 1)}@x>"),
                message(n + 1, "Re: fan", n + 1, f"{n + 1}@x", f"<{max(n - 2, 1)}@x>")]
    rendered = text(fan)
    assert rendered.startswith("(1 (2 (4 (6 ") and rendered.count("(") == rendered.count(")")


def test_ordered_subject() -> None:
    messages = [message(1, "A", 1), message(2, "Re: B", 2), message(3, "Re: A", 3),
                message(4, "B", 0), message(5, "[list] A", 4), message(6, "C", 5)]
    assert text(messages, ORDEREDSUBJECT) == "(4 2)(1 (3)(5))(6)"


def test_thread_response() -> None:
    assert b"".join(serialize(thread_response([], uid=True))) == b"* THREAD\r\n"
    nodes = thread([message(1, "x", 0, "1@x"), message(2, "Re: x", 1, "2@x", "<1@x>")],
                   REFERENCES)
    assert b"".join(serialize(thread_response(nodes, uid=False))) == b"* THREAD (1 2)\r\n"
    assert thread([], REFERENCES) == [] and thread([], ORDEREDSUBJECT) == []
