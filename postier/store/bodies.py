"""Parse a message once, at delivery, into what every backend stores beside the body.

How this works: ``parse_body`` runs the MIME parser over the body bytes and keeps the part tree
(byte offsets, for BODY[section] without re-parsing), the summary (envelope, search fields,
preview, attachments) and the plain text for the full-text index. A per-recipient header prefix
(Return-Path, Received) is not parsed again: ``structure_for_prefix`` shifts the offsets.
Pure and CPU-bound: callers run it in a worker thread for large messages.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from postier import mime
from postier.types import BlobId

__all__ = ["ParsedBody", "StoredBody", "parse_body", "structure_for_prefix"]


@dataclass(frozen=True, slots=True)
class ParsedBody:
    tree: mime.MessageTree
    structure_json: str
    summary_json: str
    search_subject: str
    search_addresses: str
    search_body: str


@dataclass(frozen=True, slots=True)
class StoredBody:
    """A parsed body, either durably in the blob store or (``inline``) carried to the database."""

    blob: BlobId
    size: int
    parsed: ParsedBody
    inline: bytes | None = None  # small bodies are stored in the metadata commit itself


def parse_body(data: bytes) -> ParsedBody:
    tree = mime.parse_message(data)
    summary = mime.summarize(data, tree)
    addresses = " ".join(
        part for part in (summary.from_, summary.to, summary.cc, summary.bcc) if part)
    return ParsedBody(
        tree=tree,
        structure_json=json.dumps(tree.to_json(), separators=(",", ":")),
        summary_json=json.dumps(summary.to_json(), separators=(",", ":")),
        search_subject=summary.subject,
        search_addresses=addresses,
        search_body=mime.search_text(data, tree),
    )


def structure_for_prefix(body: ParsedBody, prefix_length: int) -> str:
    if prefix_length == 0:
        return body.structure_json
    return json.dumps(body.tree.shifted(prefix_length).to_json(), separators=(",", ":"))
