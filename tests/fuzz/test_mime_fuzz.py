"""Hypothesis: the MIME parser never raises, its offsets hold, and it agrees with the stdlib.

Three sources of messages: arbitrary bytes; "plausible" messages assembled from header and
boundary fragments (nesting, wrong boundaries, truncation, LF-only, injected garbage); and
well-formed messages built with ``email.message.EmailMessage``, whose structure the stdlib
parser reads back as a reference.
"""

from __future__ import annotations

import email
import email.policy
import json
from email.message import EmailMessage, Message

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from postier.mime import (
    MessageSummary,
    MessageTree,
    decode_body,
    decode_words,
    extract,
    parse_addresses,
    parse_date,
    parse_message,
    parse_message_ids,
    resolve,
    search_text,
    summarize,
)
from postier.mime.params import parse_parameterized
from tests.fuzz.budget import examples

SPECS = ("", "HEADER", "TEXT", "MIME", "HEADER.FIELDS", "HEADER.FIELDS.NOT", "bogus")
FUZZ = settings(max_examples=examples(300), deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


def check_tree(data: bytes, tree: MessageTree) -> None:
    root = tree.root
    assert (root.start, root.end) == (0, len(data))
    for part in tree.walk():
        assert 0 <= part.start <= part.body_start <= part.end <= len(data)
        assert part.size == part.end - part.body_start and part.lines >= 0
        previous_end = part.body_start
        for child in part.children:
            assert previous_end <= child.start and child.end <= part.end
            previous_end = child.end
        if part.message is not None:
            assert (part.message.start, part.message.end) == (part.body_start, part.end)
            assert part.envelope is not None
    assert MessageTree.from_json(json.loads(json.dumps(tree.to_json()))) == tree


def check_everything(data: bytes, paths: list[tuple[int, ...]]) -> None:
    tree = parse_message(data)
    check_tree(data, tree)
    summary = summarize(data, tree)
    stored = json.loads(json.dumps(summary.to_json()))
    assert MessageSummary.from_json(stored) == summary
    text = search_text(data, tree)
    text.encode("utf-8")  # storable: no lone surrogates
    assert "\x00" not in text and "\x00" not in summary.preview
    assert extract(data, tree, ()) == data
    assert extract(data, tree, (), "HEADER") + extract(data, tree, (), "TEXT") == data
    for path in paths:
        for spec in SPECS:
            assert isinstance(extract(data, tree, path, spec, ("subject", "content-type")), bytes)
        part = resolve(tree, path)
        if part is not None:
            decode_body(data, part)
    for attachment in summary.attachments:
        assert resolve(tree, attachment.path) is not None


paths = st.lists(st.lists(st.integers(-1, 5), max_size=4).map(tuple), max_size=4)


@FUZZ
@given(data=st.binary(max_size=3000), paths=paths)
def test_arbitrary_bytes(data: bytes, paths: list[tuple[int, ...]]) -> None:
    check_everything(data, paths)


HEADER_LINES = st.sampled_from([
    "Subject: =?utf-8?q?caf=C3=A9?= =?iso-8859-1?b?6Q==?=",
    "Subject: =?bogus?b?!!?= =?utf-8?b?Q?=",
    "From: =?utf-8?q?J=C3=B6rg?= <j@example.com>, Group: a@b, <c@d>;",
    "To: undisclosed-recipients:;",
    "Cc: \"unterminated <x@y",
    "Reply-To: <@route,@r2:a@b>",
    "Date: Mon, 1 Jan 2024 10:00:00 +0000",
    "Date: 31 Feb 99999 99:99 +9999",
    "Message-ID: <id@example.com>",
    "References: <a@b> <c@\r\n d>",
    "Content-Transfer-Encoding: base64",
    "Content-Transfer-Encoding: quoted-printable",
    "Content-Transfer-Encoding: x-unknown",
    "Content-Disposition: attachment; filename*0*=utf-8''%E2%82; filename*1=x",
    "Content-Disposition: inline; filename=\"a.txt",
    "Content-Type: text/plain; charset=x-nonsense",
    "Content-Type: text/html; charset=utf-7",
    "Content-Type: text/plain; name*=''%FF",
    "Content-Type: ;;;\"",
    "Content-Language: en, de",
    "Content-ID: <cid>",
    " continuation without field",
    "no colon at all",
    "X-8bit: caf\xe9 \u00fc\u20ac",
])
BOUNDARIES = st.sampled_from(["b", "b1", "b-1", "=_x", "a b", "", "--", "b" * 70])
BODIES = st.text(alphabet=st.sampled_from("ab \n=<>&;-é\x00\r"), max_size=60)


@st.composite
def plausible_entity(draw: st.DrawFn, depth: int = 0) -> str:
    lines = draw(st.lists(HEADER_LINES, max_size=4))
    kinds = ["leaf", "multipart", "message"] if depth < 4 else ["leaf"]
    kind = draw(st.sampled_from(kinds))
    if kind == "multipart":
        declared = draw(BOUNDARIES)
        used = declared if draw(st.booleans()) else draw(BOUNDARIES)
        subtype = draw(st.sampled_from(["mixed", "alternative", "digest", "related", "signed"]))
        lines.append(f'Content-Type: multipart/{subtype}; boundary="{declared}"')
        children = draw(st.lists(plausible_entity(depth + 1), max_size=3))
        body = draw(BODIES) + "".join(f"\n--{used}\n{child}" for child in children)
        if draw(st.booleans()):
            body += f"\n--{used}--\n" + draw(BODIES)
    elif kind == "message":
        lines.append(draw(st.sampled_from(["Content-Type: message/rfc822",
                                           "Content-Type: message/global"])))
        body = draw(plausible_entity(depth + 1))
    else:
        lines.append(draw(st.sampled_from(["Content-Type: text/plain", "Content-Type: text/html",
                                           "Content-Type: image/png", "Content-Type: garbage"])))
        body = draw(BODIES)
    draw(st.randoms()).shuffle(lines)
    separator = "\n" if draw(st.integers(0, 9)) else ""  # sometimes no blank line at all
    return "\n".join(lines) + "\n" + separator + body


@st.composite
def plausible_message(draw: st.DrawFn) -> bytes:
    text = draw(plausible_entity())
    data = text.encode("utf-8") if draw(st.booleans()) else text.encode("latin-1", "replace")
    if draw(st.booleans()):
        data = data.replace(b"\n", b"\r\n")
    if draw(st.booleans()):
        data = data[:draw(st.integers(0, len(data)))]
    if draw(st.booleans()):
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(max_size=8)) + data[at:]
    return data


@FUZZ
@given(data=plausible_message(), paths=paths)
def test_plausible_messages(data: bytes, paths: list[tuple[int, ...]]) -> None:
    check_everything(data, paths)


PREFIX_LINES = st.lists(
    st.sampled_from(["Return-Path: <a@example.com>", "Received: from x\r\n\tby y; now",
                     "Delivered-To: b@example.com", "X-Spam: no"]),
    min_size=1, max_size=3,
)


@FUZZ
@given(data=st.one_of(plausible_message(), st.binary(max_size=500)), lines=PREFIX_LINES,
       line_break=st.sampled_from(["\r\n", "\n"]))
def test_shifted_equals_parsing_with_prefix(data: bytes, lines: list[str], line_break: str) -> None:
    # A body whose first line starts with whitespace would continue the prefix's last field:
    # shifted() documents that it only holds for prefixes that stay separate fields.
    assume(not data[:1].isspace())
    prefix = "".join(line + line_break for line in lines).encode()
    assert parse_message(data).shifted(len(prefix)) == parse_message(prefix + data)


SAFE_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zl", "Zp")),
    max_size=40,
)


@st.composite
def built_message(draw: st.DrawFn, depth: int = 0) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = draw(SAFE_TEXT)
    message["From"] = "Sender <sender@example.com>"
    body = draw(SAFE_TEXT) + "\n" + draw(SAFE_TEXT)
    transfer = draw(st.sampled_from([None, "quoted-printable", "base64"]))
    message.set_content(body, cte=transfer)
    if draw(st.booleans()):
        message.add_alternative(f"<p>{body}</p>", subtype="html")
    for _ in range(draw(st.integers(0, 2))):
        message.add_attachment(draw(st.binary(max_size=80)), maintype="application",
                               subtype="octet-stream", filename=draw(SAFE_TEXT) or "file")
    if depth < 2 and draw(st.booleans()):
        message.add_attachment(draw(built_message(depth + 1)))
    return message


def stdlib_leaves(message: Message) -> list[Message]:
    return [p for p in message.walk()
            if not p.is_multipart() and p.get_content_maintype() != "message"]


@FUZZ
@given(message=built_message(), line_break=st.sampled_from(["\r\n", "\n"]))
def test_agrees_with_stdlib_on_well_formed_messages(message: EmailMessage,
                                                    line_break: str) -> None:
    data = message.as_bytes(policy=email.policy.default.clone(linesep=line_break))
    tree = parse_message(data)
    check_everything(data, [])
    reference = email.message_from_bytes(data, policy=email.policy.default)
    assert [p.content_type for p in tree.walk()] == [
        p.get_content_type() for p in reference.walk()]
    ours = [p for p in tree.walk() if not p.children and p.message is None]
    assert [decode_body(data, p) for p in ours] == [
        p.get_payload(decode=True) for p in stdlib_leaves(reference)]
    summary = summarize(data, tree)
    # folding may move whitespace around; the words must survive
    assert summary.subject.split() == str(reference["Subject"]).split()
    assert len(summary.attachments) == len(
        [p for p in reference.iter_attachments()])


HEADER_TEXT = st.one_of(
    st.text(max_size=300),
    st.lists(st.sampled_from(["=?", "?=", "?q?", "?b?", "utf-8", "<", ">", "\"", "(", ")", ",",
                              ";", ":", "@", "\\", "*", "'", "%", "=", " ", "\r\n ", "a", "é"]),
             max_size=60).map("".join),
)


@FUZZ
@given(value=HEADER_TEXT)
def test_header_functions_never_raise(value: str) -> None:
    for decoded in (decode_words(value), parse_parameterized(value)[0]):
        decoded.encode("utf-8")
    for address in parse_addresses(value):
        assert isinstance(address.local, str) and isinstance(address.domain, str)
    parse_message_ids(value)
    date = parse_date(value)
    assert date is None or date.tzinfo is not None
