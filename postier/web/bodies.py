"""What the reading pane shows of one message: its text and HTML bodies, inline images, headers.

How this works: the part tree stored at delivery (or, when it cannot be read, a fresh parse of
the bytes) is walked like the summary walks it, without entering attached messages. The first
text/html and the first text/plain part that are not attachments are the message's two views;
images with a Content-ID inside it are the candidates for ``cid:`` references from the HTML,
turned into ``data:`` URLs within a size budget so the sandboxed frame needs no extra requests.
Pure: bytes in, strings out.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass

from postier.mime import MessageTree, Part, decode_body, decode_words, header_fields, parse_message
from postier.mime.charsets import decode_text
from postier.mime.text import html_to_text
from postier.types import MessageRecord

__all__ = ["Bodies", "find_bodies", "header_list", "html_source", "inline_images",
           "load_tree", "plain_text"]

MAX_DISPLAY_BYTES = 8 * 1024 * 1024
_INLINE_BUDGET = 10 * 1024 * 1024
_INLINE_TYPES = frozenset({"png", "jpeg", "gif", "webp"})
_META_CHARSET = re.compile(rb"<meta[^>]{0,200}?charset\s*=\s*[\"']?([A-Za-z0-9._:-]{1,40})",
                           re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Bodies:
    html: Part | None
    text: Part | None
    images: dict[str, Part]  # Content-ID (lower case, no brackets) → image part


def load_tree(record: MessageRecord, data: bytes) -> MessageTree:
    try:
        return MessageTree.from_json(json.loads(record.structure_json))
    except (ValueError, TypeError, AttributeError, RecursionError):
        return parse_message(data)


def _leaves(root: Part) -> list[Part]:
    if not root.children:
        return [root]
    out: list[Part] = []
    stack = list(reversed(root.children))
    while stack:
        part = stack.pop()
        if part.children:
            stack.extend(reversed(part.children))
        else:
            out.append(part)
    return out


def find_bodies(tree: MessageTree) -> Bodies:
    html: Part | None = None
    text: Part | None = None
    images: dict[str, Part] = {}
    for part in _leaves(tree.root):
        if part.content_id and part.media_type == "image":
            images[part.content_id.strip().strip("<>").lower()] = part
        if part.media_type != "text" or part.disposition == "attachment":
            continue
        if part.subtype == "html" and html is None:
            html = part
        elif part.subtype == "plain" and text is None:
            text = part
    return Bodies(html, text, images)


def _decoded(data: bytes, part: Part) -> bytes:
    limited = Part(part.start, part.body_start, min(part.end, part.body_start + MAX_DISPLAY_BYTES),
                   encoding=part.encoding)
    return decode_body(data, limited) or b""


def html_source(data: bytes, part: Part) -> str:
    raw = _decoded(data, part)
    charset = part.params.get("charset")
    if charset is None:
        sniffed = _META_CHARSET.search(raw, 0, 2048)
        charset = sniffed.group(1).decode("ascii") if sniffed else None
    return decode_text(raw, charset)


def plain_text(data: bytes, bodies: Bodies) -> str:
    """The text view: the text/plain body, else the HTML body as text; LF line ends."""
    if bodies.text is not None:
        text = decode_text(_decoded(data, bodies.text), bodies.text.params.get("charset"))
    elif bodies.html is not None:
        text = html_to_text(html_source(data, bodies.html))
    else:
        return ""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def inline_images(data: bytes, bodies: Bodies) -> dict[str, str]:
    """Content-ID → data: URL for the raster images the HTML may reference."""
    urls: dict[str, str] = {}
    budget = _INLINE_BUDGET
    for content_id, part in bodies.images.items():
        if part.subtype not in _INLINE_TYPES:
            continue
        decoded = decode_body(data, part)
        if not decoded or len(decoded) > budget:
            continue
        budget -= len(decoded)
        urls[content_id] = (f"data:image/{part.subtype};base64,"
                            + base64.b64encode(decoded).decode("ascii"))
    return urls


def header_list(data: bytes, tree: MessageTree) -> list[tuple[str, str]]:
    """Every top-level header field, names as written and values decoded, in order."""
    root = tree.root
    return [(field.name or "(no name)", decode_words(field.value))
            for field in header_fields(data[root.start:root.body_start])]
