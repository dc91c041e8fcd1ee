"""Deterministic test messages: the same bytes go to both servers.

Messages have the headers a real client would see (Date, From with a display name, To,
Subject, Message-ID, MIME headers; some Cc, In-Reply-To and RFC 2047 subjects), CRLF line ends,
no line that starts with a dot and no line that ends with one, and a body of words drawn from a
fixed vocabulary with a Zipf-like spread, so full-text search has common and rare words.
``MARKER`` appears in exactly every ``MARKER_EVERY``-th message of ``varied_messages``: both
servers must find the same number of them.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

__all__ = [
    "COMMON_WORD",
    "MARKER",
    "MARKER_EVERY",
    "MISSING_WORD",
    "fixed_size_message",
    "varied_messages",
]

MARKER = "quasarmarker"
MARKER_EVERY = 1000
MISSING_WORD = "xylophonequartz"
COMMON_WORD = "harbour"

_VOCABULARY = (
    "the of and to in is that it was for on are as with his they at be this have from or one "
    "had by word but not what all were we when your can said there use an each which she do "
    "how their if will up other about out many then them these so some her would make like "
    "him into time has look two more write go see number no way could people my than first "
    "water been call who oil its now find long down day did get come made may part meeting "
    "budget report invoice schedule project review draft contract delivery shipment customer "
    "account payment quarter forecast harbour garden kitchen holiday weekend family travel "
    "ticket flight hotel conference agenda minutes proposal feedback question answer update "
    "release version server network backup storage archive folder message letter package "
    "address street office morning evening tomorrow yesterday thursday friday monday tuesday "
    "wednesday saturday sunday"
)
_WORDS = _VOCABULARY.split()
_NAMES = ("Alice Martin", "Bob Dupont", "Chloé Bernard", "David Leroy", "Émilie Moreau",
          "François Petit", "Gabrielle Roux", "Hugo Fournier", "Inès Girard", "Jules Bonnet")
_START = datetime(2026, 1, 1, 8, 0, tzinfo=UTC)


def _zipf_words(rng: random.Random, count: int) -> list[str]:
    # Word i is chosen with weight 1/(i+1): a few very common words, a long tail.
    return rng.choices(_WORDS, weights=_WEIGHTS, k=count)


_WEIGHTS = [1 / (i + 1) for i in range(len(_WORDS))]


def _encoded(name: str) -> str:
    if name.isascii():
        return f'"{name}"'
    import base64

    return "=?UTF-8?B?" + base64.b64encode(name.encode()).decode() + "?="


def _headers(rng: random.Random, number: int, to: str, subject_words: int = 5) -> list[str]:
    sender = _NAMES[number % len(_NAMES)]
    local = sender.split()[0].lower().encode("ascii", "ignore").decode() or "someone"
    subject = " ".join(_zipf_words(rng, subject_words)).capitalize()
    if number % 7 == 0:
        subject = "=?UTF-8?Q?R=C3=A9union_?= " + subject
    date = _START + timedelta(minutes=number)
    headers = [
        f"Date: {format_datetime(date)}",
        f"From: {_encoded(sender)} <{local}@sender.example>",
        f"To: <{to}>",
        f"Subject: {subject} #{number}",
        f"Message-ID: <{number}.{rng.randrange(10**9)}@sender.example>",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
    ]
    if number % 3 == 0:
        headers.insert(3, f"Cc: {_encoded(_NAMES[(number + 3) % 10])} <cc{number % 10}@cc.example>")
    if number % 4 == 0:
        headers.append(f"In-Reply-To: <{number - 1}.reply@sender.example>")
    return headers


def _body_lines(rng: random.Random, size: int, extra: list[str] | None = None) -> list[str]:
    lines, total = [], 0
    words = list(extra or [])
    while total < size:
        words += _zipf_words(rng, 11)
        line = " ".join(words)
        words = []
        lines.append(line)
        total += len(line) + 2
    return lines


def fixed_size_message(number: int, to: str, size: int) -> bytes:
    """A message of about ``size`` bytes (headers included) for ``to``."""
    rng = random.Random(number)
    head = "\r\n".join(_headers(rng, number, to)) + "\r\n\r\n"
    data = head.encode()
    for line in _body_lines(rng, max(0, size - len(data))):
        encoded = line.encode() + b"\r\n"
        if len(data) + len(encoded) > size - 4:
            break
        data += encoded
    # The last line pads to the exact size (at least one letter, then CRLF).
    return data + b"z" * max(1, size - len(data) - 2) + b"\r\n"


def varied_messages(count: int, to: str, size: int = 1500, start: int = 0) -> list[bytes]:
    """``count`` messages of about ``size`` bytes with varied text; see ``MARKER``."""
    messages = []
    for number in range(start, start + count):
        rng = random.Random(number * 7919)
        head = "\r\n".join(_headers(rng, number, to)) + "\r\n\r\n"
        extra = [MARKER] if number % MARKER_EVERY == MARKER_EVERY // 2 else None
        body = _body_lines(rng, max(200, size - len(head.encode())), extra)
        messages.append((head + "\r\n".join(body) + "\r\n").encode())
    return messages
