"""MIME: message bytes → part tree with byte offsets, sections, envelope, summary, search text.

Pure and protocol-neutral: no I/O, no store, and no exception on any input bytes. Parse once at
delivery (``parse_message``, ``summarize``, ``search_text``), store the JSON forms, and answer
IMAP sections, BODYSTRUCTURE, ENVELOPE, PREVIEW and the webmail's lists from them later.
"""

from __future__ import annotations

from postier.mime.envelope import Envelope, EnvelopeAddress, build_envelope
from postier.mime.headers import (
    HeaderField,
    decode_words,
    header_fields,
    parse_addresses,
    parse_date,
    parse_message_ids,
    unfold,
)
from postier.mime.parse import MAX_DEPTH, MAX_PARTS, parse_message
from postier.mime.sections import decode_body, extract, resolve
from postier.mime.summary import (
    PREVIEW_LENGTH,
    SEARCH_TEXT_LIMIT,
    Attachment,
    MessageSummary,
    search_text,
    summarize,
)
from postier.mime.tree import MessageTree, Part

__all__ = [
    "MAX_DEPTH",
    "MAX_PARTS",
    "PREVIEW_LENGTH",
    "SEARCH_TEXT_LIMIT",
    "Attachment",
    "Envelope",
    "EnvelopeAddress",
    "HeaderField",
    "MessageSummary",
    "MessageTree",
    "Part",
    "build_envelope",
    "decode_body",
    "decode_words",
    "extract",
    "header_fields",
    "parse_addresses",
    "parse_date",
    "parse_message",
    "parse_message_ids",
    "resolve",
    "search_text",
    "summarize",
    "unfold",
]
