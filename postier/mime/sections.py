"""Section extraction by offsets (RFC 9051 §6.4.5), without re-parsing the message.

How this works: ``resolve`` walks a part path through the tree. At a message (the top level, or
the embedded message of a message/rfc822 part) number n is the n-th part of its multipart body,
or, for a non-multipart message, n = 1 is the body itself. At a multipart part n is its n-th
child; at a message/rfc822 part the numbers continue into the embedded message. Anything else
(0, past the last part, below a leaf) does not exist.

``extract`` then slices ``data`` with the part's offsets:

    path () , ""        the whole message          path p, ""      the body of part p
    HEADER / TEXT       top-level header / body    p.MIME          part p's MIME header
    HEADER.FIELDS[.NOT] matching fields (names case-insensitive) in message order, then the
                        blank line
    p.HEADER, p.TEXT, p.HEADER.FIELDS...  only when part p is message/rfc822 or message/global

A section that does not exist, or a malformed spec, yields b"" (IMAP answers an empty string).
Partial fetches (<n.m>) and CRLF conversion are the protocol's business.
"""

from __future__ import annotations

from postier.mime.headers import header_fields
from postier.mime.transfer import decode_transfer
from postier.mime.tree import MessageTree, Part

__all__ = ["decode_body", "extract", "resolve"]

_MESSAGE_SPECS = frozenset({"HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT", "TEXT"})


def resolve(tree: MessageTree, path: tuple[int, ...]) -> Part | None:
    """The part numbered ``path`` (the root for ``()``), or None when there is none."""
    message = tree.root
    part: Part | None = None
    for number in path:
        if part is not None:
            if part.message is not None:
                message = part.message
            elif part.children:
                part = part.children[number - 1] if 1 <= number <= len(part.children) else None
                if part is None:
                    return None
                continue
            else:
                return None
        if message.children:
            if not 1 <= number <= len(message.children):
                return None
            part = message.children[number - 1]
        elif number == 1:
            part = message  # the body of a non-multipart message is its part 1
        else:
            return None
    return part if path else tree.root


def _line_break(header: bytes) -> bytes:
    """The header's own line ending: LF-only messages get LF, everything else CRLF."""
    newline = header.find(b"\n")
    if newline == 0 or (newline > 0 and header[newline - 1] != 0x0D):
        return b"\n"
    return b"\r\n"


def _header_subset(header: bytes, names: tuple[str, ...], keep_matching: bool) -> bytes:
    wanted = {name.lower() for name in names}
    line_break = _line_break(header)
    out: list[bytes] = []
    for field in header_fields(header):
        if (field.name.lower() in wanted) == keep_matching:
            raw = field.raw
            out.append(raw if raw.endswith(b"\n") else raw + line_break)
    out.append(line_break)
    return b"".join(out)


def _message_section(data: bytes, message: Part, spec: str, fields: tuple[str, ...]) -> bytes:
    if spec == "HEADER":
        return data[message.start:message.body_start]
    if spec == "TEXT":
        return data[message.body_start:message.end]
    header = data[message.start:message.body_start]
    return _header_subset(header, fields, keep_matching=spec == "HEADER.FIELDS")


def extract(data: bytes, tree: MessageTree, path: tuple[int, ...], spec: str = "",
            fields: tuple[str, ...] = ()) -> bytes:
    """The bytes of BODY[path.spec] (``fields`` for HEADER.FIELDS[.NOT])."""
    spec = spec.upper()
    if not path:
        root = tree.root
        if spec == "":
            return data[root.start:root.end]
        return _message_section(data, root, spec, fields) if spec in _MESSAGE_SPECS else b""
    part = resolve(tree, path)
    if part is None:
        return b""
    if spec == "":
        return data[part.body_start:part.end]
    if spec == "MIME":
        return data[part.start:part.body_start]
    if spec in _MESSAGE_SPECS and part.message is not None:
        return _message_section(data, part.message, spec, fields)
    return b""


def decode_body(data: bytes, part: Part) -> bytes | None:
    """The body with its Content-Transfer-Encoding undone; None for an unknown encoding."""
    return decode_transfer(data[part.body_start:part.end], part.encoding)
