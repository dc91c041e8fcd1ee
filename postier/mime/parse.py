"""Message bytes → MessageTree: part boundaries as byte offsets, MIME fields parsed.

How this works: ``_parse_entity`` reads one entity (header, blank line, body) between two
offsets. The header ends at the first empty line, found with ``bytes.find`` for both "\\n\\r\\n"
and "\\n\\n", so CRLF, LF-only and mixed messages work and offsets always point into the
original bytes. A multipart body is then cut at its delimiter lines (RFC 2046 §5.1.1: "--"
boundary at the start of a line, then only whitespace, or "--" for the close delimiter), found
by a regex that starts with the literal "\\n--boundary" and so scans at ``find`` speed; each
piece is parsed recursively inside its own range, so an inner part can never run past its
outer delimiter. The body of a message/rfc822 (or message/global) part is parsed
as an embedded message unless it is base64 or quoted-printable encoded.

Never raises; what it does with damage, mostly as Dovecot does:

- no blank line: all header, empty body
- multipart without boundary, or whose boundary never appears: a leaf (no children)
- no close delimiter: the last part runs to the end of its container; text after the close
  delimiter (epilogue) and before the first delimiter (preamble) belongs to no part
- a malformed Content-Type: text/plain; charset=us-ascii (RFC 2045 §5.2), or message/rfc822
  inside multipart/digest (RFC 2046 §5.1.5)
- nesting deeper than MAX_DEPTH, or more than about MAX_PARTS parts: the rest is left
  unsplit, inside the last part reached
- only the first MAX_HEADER_BYTES of a header are read for fields; offsets cover all of it
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from postier.mime.envelope import Envelope, build_envelope
from postier.mime.headers import HeaderField, first_values, header_fields
from postier.mime.params import parse_parameterized
from postier.mime.transfer import IDENTITY_ENCODINGS, normalize_encoding
from postier.mime.tree import MessageTree, Part

__all__ = ["MAX_DEPTH", "MAX_HEADER_BYTES", "MAX_PARTS", "parse_message"]

MAX_DEPTH = 50
MAX_PARTS = 10_000
MAX_HEADER_BYTES = 256 * 1024

_LF = 0x0A
_EMBEDDED_MESSAGES = frozenset({"rfc822", "global"})
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`{|}~0-9a-z]+")


class _Budget:
    """Parts still allowed; shared by the whole recursive parse."""

    __slots__ = ("parts",)

    def __init__(self, parts: int) -> None:
        self.parts = parts


@dataclass(frozen=True, slots=True)
class _ContentType:
    media_type: str
    subtype: str
    params: dict[str, str]


def parse_message(data: bytes) -> MessageTree:
    """Parse a whole message; ``tree.root`` spans ``data[0:len(data)]``."""
    root, _fields = _parse_entity(data, 0, len(data), False, 0, _Budget(MAX_PARTS))
    return MessageTree(root)


def _body_start(data: bytes, start: int, end: int) -> int:
    if data.startswith(b"\r\n", start, end):
        return start + 2  # empty header
    if data.startswith(b"\n", start, end):
        return start + 1
    crlf = data.find(b"\n\r\n", start, end)
    # a "\n\n" can only come first if it starts before the "\n\r\n"
    lf = data.find(b"\n\n", start, end if crlf < 0 else crlf + 1)
    if lf >= 0:
        return lf + 2
    if crlf >= 0:
        return crlf + 3
    return end


def _count_lines(data: bytes, start: int, end: int) -> int:
    lines = data.count(b"\n", start, end)
    if end > start and data[end - 1] != _LF:
        lines += 1
    return lines


def _content_type(value: str | None, in_digest: bool) -> _ContentType:
    if value is not None:
        kind, params = parse_parameterized(value)
        media_type, _slash, subtype = kind.partition("/")
        media_type, subtype = media_type.strip(), subtype.strip()
        if _TOKEN.fullmatch(media_type) and _TOKEN.fullmatch(subtype):
            return _ContentType(media_type, subtype, params)
    if in_digest:
        return _ContentType("message", "rfc822", {})
    return _ContentType("text", "plain", {"charset": "us-ascii"})


def _disposition(value: str | None) -> tuple[str | None, dict[str, str]]:
    if value is None:
        return None, {}
    kind, params = parse_parameterized(value)
    return (kind or None), params


def _languages(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    return tuple(tag.strip() for tag in value.split(",") if tag.strip())


def _before_line_break(data: bytes, start: int, delimiter: int) -> int:
    """The line break before a delimiter belongs to the delimiter (RFC 2046 §5.1.1)."""
    end = delimiter
    if end > start and data[end - 1] == _LF:
        end -= 1
        if end > start and data[end - 1] == 0x0D:
            end -= 1
    return end


def _delimiters(data: bytes, body_start: int, end: int,
                boundary: bytes) -> Iterator[tuple[int, int, bool]]:
    """(line start, next line start, is close delimiter) of each delimiter line.

    A delimiter line is "--" boundary at a line start, then "--" (close) or only whitespace.
    A line that merely starts with the delimiter ("--b-1" when the boundary is "b") is text:
    nested multiparts often use boundaries that extend their parent's. Searching for
    "\\n--boundary" keeps the regex on its fast literal-prefix path; the newline ending a
    delimiter line is only looked at, so it can start the next delimiter.
    """
    tail = rb"(?:(--)|[ \t\r]*(?=\n|\Z))"
    escaped = re.escape(boundary)
    first = re.compile(rb"--" + escaped + tail).match(data, body_start, end)
    if first is not None:
        yield body_start, min(first.end() + 1, end), first.group(1) is not None
    for found in re.compile(rb"\n--" + escaped + tail).finditer(data, body_start, end):
        yield found.start() + 1, min(found.end() + 1, end), found.group(1) is not None


def _split_multipart(data: bytes, body_start: int, end: int, boundary: bytes,
                     limit: int) -> list[tuple[int, int]]:
    """(start, end) of each part of a multipart body, at most ``limit`` of them."""
    ranges: list[tuple[int, int]] = []
    open_start = -1  # start of the part being read; -1 while in the preamble
    for line_start, next_line, closing in _delimiters(data, body_start, end, boundary):
        if open_start >= 0:
            if not closing and len(ranges) + 1 >= limit:
                break  # out of parts: the rest stays in the open one
            ranges.append((open_start, _before_line_break(data, open_start, line_start)))
        if closing:
            return ranges
        open_start = next_line
    if open_start >= 0:
        ranges.append((open_start, end))
    return ranges


def _parse_entity(data: bytes, start: int, end: int, in_digest: bool, depth: int,
                  budget: _Budget) -> tuple[Part, list[HeaderField]]:
    budget.parts -= 1
    body_start = _body_start(data, start, end)
    fields = header_fields(data[start:min(body_start, start + MAX_HEADER_BYTES)])
    values = first_values(fields)
    content_type = _content_type(values.get("content-type"), in_digest)
    encoding = normalize_encoding(values.get("content-transfer-encoding"))
    disposition, disposition_params = _disposition(values.get("content-disposition"))
    children: tuple[Part, ...] = ()
    message: Part | None = None
    envelope: Envelope | None = None
    if depth < MAX_DEPTH and budget.parts > 0:
        boundary = content_type.params.get("boundary")
        if content_type.media_type == "multipart" and boundary:
            in_digest_body = content_type.subtype == "digest"
            children = tuple(
                _parse_entity(data, part_start, part_end, in_digest_body, depth + 1, budget)[0]
                for part_start, part_end in _split_multipart(
                    data, body_start, end, boundary.encode("utf-8"), budget.parts)
            )
        elif (content_type.media_type == "message"
              and content_type.subtype in _EMBEDDED_MESSAGES
              and encoding in IDENTITY_ENCODINGS):
            message, message_fields = _parse_entity(data, body_start, end, False, depth + 1,
                                                    budget)
            envelope = build_envelope(message_fields)
    part = Part(
        start=start,
        body_start=body_start,
        end=end,
        media_type=content_type.media_type,
        subtype=content_type.subtype,
        params=content_type.params,
        content_id=values.get("content-id"),
        description=values.get("content-description"),
        encoding=encoding,
        disposition=disposition,
        disposition_params=disposition_params,
        language=_languages(values.get("content-language")),
        location=values.get("content-location"),
        md5=values.get("content-md5"),
        lines=_count_lines(data, body_start, end),
        children=children,
        message=message,
        envelope=envelope,
    )
    return part, fields
