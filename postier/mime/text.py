"""Readable text from text/* parts: transfer decoding, charset decoding, HTML to text.

How this works: ``part_text`` decodes at most ``max_bytes`` of a part's stored body (a prefix of
base64 or quoted-printable decodes to a prefix of the content), decodes the charset leniently
(charsets.py) and, for text/html, strips markup. HTML without a charset parameter is sniffed for
a ``<meta charset>`` near its start.

``html_to_text`` uses regular expressions, not an HTML parser: it only needs words for a preview
and a search index, must be fast on multi-megabyte newsletters and must never raise (the stdlib
``html.parser`` raises AssertionError on some malformed declarations). Every pattern can match
up to the end of the input, so an unclosed tag or comment costs one pass, never a quadratic
search. Script, style and title contents and comments are dropped, block-level tags become line
breaks, other tags vanish and entities are unescaped with ``html.unescape``.
"""

from __future__ import annotations

import html
import re

from postier.mime.charsets import decode_text
from postier.mime.transfer import decode_transfer
from postier.mime.tree import Part

__all__ = ["collapse_whitespace", "html_to_text", "part_text"]

_HIDDEN = re.compile(r"<(script|style|title)\b.*?(?:</\1\s*>|\Z)", re.IGNORECASE | re.DOTALL)
_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.DOTALL)
_BLOCK_TAG = re.compile(
    r"</?(?:p|div|br|hr|tr|li|ul|ol|dl|dt|dd|h[1-6]|table|thead|tbody|blockquote|pre|"
    r"section|article|header|footer|address|center)\b[^>]*(?:>|\Z)",
    re.IGNORECASE,
)
_CELL_TAG = re.compile(r"</?t[dh]\b[^>]*(?:>|\Z)", re.IGNORECASE)
_OTHER_TAG = re.compile(r"<(?:/?[A-Za-z][^>]*|[!?][^>]*)(?:>|\Z)")
_SPACES = re.compile(r"[^\S\n]+")  # whitespace other than line breaks
_BLANK_LINES = re.compile(r" ?\n\s*")
_META_CHARSET = re.compile(rb"<meta[^>]{0,200}?charset\s*=\s*[\"']?([A-Za-z0-9._:-]{1,40})",
                           re.IGNORECASE)
# Invisible characters newsletters use to pad their preheader text.
_INVISIBLE = re.compile("[\u00ad\u034f\u200b-\u200f\u2060\ufeff]")
_WHITESPACE = re.compile(r"\s+")


def html_to_text(markup: str) -> str:
    text = _COMMENT.sub(" ", markup)
    text = _HIDDEN.sub(" ", text)
    text = _BLOCK_TAG.sub("\n", text)
    text = _CELL_TAG.sub(" ", text)
    text = _OTHER_TAG.sub("", text)
    text = html.unescape(text)
    text = _SPACES.sub(" ", text)
    return _BLANK_LINES.sub("\n", text).strip()


def collapse_whitespace(text: str) -> str:
    """One space for every run of whitespace; invisible padding characters removed."""
    return _WHITESPACE.sub(" ", _INVISIBLE.sub("", text)).strip()


def part_text(data: bytes, part: Part, max_bytes: int) -> str:
    """Decoded text of a text/* part, from at most ``max_bytes`` of its stored body."""
    raw = data[part.body_start:min(part.end, part.body_start + max_bytes)]
    decoded = decode_transfer(raw, part.encoding)
    if decoded is None:
        return ""  # an unknown transfer encoding gives no readable text
    charset = part.params.get("charset")
    if part.subtype == "html":
        if charset is None:
            sniffed = _META_CHARSET.search(decoded, 0, 2048)
            charset = sniffed.group(1).decode("ascii") if sniffed else None
        return html_to_text(decode_text(decoded, charset))
    return decode_text(decoded, charset)
