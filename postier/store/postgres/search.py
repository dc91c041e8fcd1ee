"""Full-text search documents and queries for PostgreSQL's tsvector/GIN, built in Python.

How this works: the embedded store indexes with SQLite FTS5's ``unicode61 remove_diacritics 2``
tokenizer and searches with ``"word"*`` terms joined by AND. PostgreSQL's own text parser
splits differently (an address stays one "email" token, so ``alice`` would not find
``alice@example.test``), so tokens are made here the way unicode61 makes them — runs of letters
and digits, lower-cased, diacritics removed — and handed to PostgreSQL as a ready ``tsvector``
(with positions) and ``tsquery``. A query word that splits into several tokens is a phrase
(``example.te`` → ``'example' <-> 'te':*``), as in FTS5; a word with no token matches nothing.

Limits: PostgreSQL keeps at most 256 positions per lexeme, positions up to 16383 and 1 MB of
lexemes per document; beyond them a very long body's later words are indexed without exact
positions, or (past 1 MB of distinct words) not at all.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["document", "query", "tokens"]

_TOKEN = re.compile(r"[^\W_]+")
_MAX_POSITION = 16383
_MAX_POSITIONS = 256
_MAX_LEXEME_BYTES = 2046
_MAX_DOCUMENT_BYTES = 900_000
_FIELD_GAP = 8  # keeps a phrase from running from the subject into the addresses


# Combining marks of the Latin, Greek and Cyrillic scripts (what unicode61's
# remove_diacritics removes), found by a C-level regex rather than a Python loop per character.
_COMBINING = re.compile("[\u0300-\u036f\u0483-\u0489\u1ab0-\u1aff\u1dc0-\u1dff"
                        "\u20d0-\u20ff\ufe20-\ufe2f]")


def _normalize(text: str) -> str:
    if text.isascii():
        return text.lower()
    return _COMBINING.sub("", unicodedata.normalize("NFKD", text)).lower()


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(_normalize(text))


def _quote(lexeme: str) -> str:
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def document(*fields: str) -> str:
    """A ``tsvector`` literal for the fields of one body (subject, addresses, text)."""
    positions: dict[str, list[int]] = {}
    size = 0
    position = 0
    for text in fields:
        for token in tokens(text):
            position += 1
            where = positions.get(token)
            if where is None:
                length = len(token) if token.isascii() else len(token.encode())
                if length > _MAX_LEXEME_BYTES or size + length > _MAX_DOCUMENT_BYTES:
                    continue
                size += length
                positions[token] = [min(position, _MAX_POSITION)]
            elif len(where) < _MAX_POSITIONS and where[-1] < _MAX_POSITION:
                where.append(min(position, _MAX_POSITION))
        position += _FIELD_GAP
    return " ".join(f"'{lexeme}':{','.join(map(str, where))}" if lexeme.isalnum()
                    else f"{_quote(lexeme)}:{','.join(map(str, where))}"
                    for lexeme, where in positions.items())


def query(text: str) -> str | None:
    """A ``tsquery`` literal: every word (as a prefix) must match; None when none can."""
    words = [w for w in text.replace('"', " ").split() if w]
    terms = []
    for word in words:
        parts = tokens(word)
        if not parts:
            return None
        quoted = [_quote(p) for p in parts]
        quoted[-1] += ":*"
        terms.append("(" + " <-> ".join(quoted) + ")")
    return " & ".join(terms)
