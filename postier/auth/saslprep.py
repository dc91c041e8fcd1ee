"""SASLprep (RFC 4013): the one normalisation every password goes through.

How this works: the stringprep profile of RFC 4013 in four passes, using the stdlib's
``stringprep`` tables and the Unicode 3.2 database they were built from.

1. Map (§2.1): non-ASCII spaces (table C.1.2) become U+0020; characters "commonly mapped to
   nothing" (B.1, soft hyphens and zero-width joiners) are removed.
2. Normalise (§2.2): NFKC, with Unicode 3.2 so the result matches what every other SASLprep
   implementation computes for the same input.
3. Prohibit (§2.3): controls, private use, non-characters, surrogates, tagging characters, ...
4. Bidi (§2.4, RFC 3454 §6): a string with right-to-left characters must not contain
   left-to-right ones, and must start and end with a right-to-left character.

Unassigned code points (table A.1) are allowed by default, which RFC 3454 §7 calls "queries".
The "stored strings" rule would reject every character newer than Unicode 3.2, emoji included;
since the normalised password is only ever hashed, never displayed or compared as text, letting
them through costs nothing and keeps such passwords usable. Hashing and verification use the
same rule, which is what matters.
"""

from __future__ import annotations

import stringprep
import unicodedata
from collections.abc import Callable

_PROHIBITED: tuple[Callable[[str], bool], ...] = (
    stringprep.in_table_c12,  # non-ASCII space (already mapped, kept for completeness)
    stringprep.in_table_c21_c22,  # ASCII and non-ASCII control characters
    stringprep.in_table_c3,  # private use
    stringprep.in_table_c4,  # non-character code points
    stringprep.in_table_c5,  # surrogate code points
    stringprep.in_table_c6,  # inappropriate for plain text
    stringprep.in_table_c7,  # inappropriate for canonical representation
    stringprep.in_table_c8,  # change display properties or deprecated
    stringprep.in_table_c9,  # tagging characters
)


def saslprep(text: str, *, allow_unassigned: bool = True) -> str:
    """Return the SASLprep form of ``text``; raise ValueError if it holds a prohibited character."""
    mapped = "".join(
        " " if stringprep.in_table_c12(char) else char
        for char in text
        if not stringprep.in_table_b1(char)
    )
    normalized = unicodedata.ucd_3_2_0.normalize("NFKC", mapped)
    for char in normalized:
        if any(prohibited(char) for prohibited in _PROHIBITED):
            raise ValueError(f"prohibited character U+{ord(char):04X}")
        if not allow_unassigned and stringprep.in_table_a1(char):
            raise ValueError(f"unassigned code point U+{ord(char):04X}")
    _check_bidi(normalized)
    return normalized


def _check_bidi(text: str) -> None:
    if not any(stringprep.in_table_d1(char) for char in text):
        return
    if any(stringprep.in_table_d2(char) for char in text):
        raise ValueError("mixes right-to-left and left-to-right characters")
    if not (stringprep.in_table_d1(text[0]) and stringprep.in_table_d1(text[-1])):
        raise ValueError("right-to-left text must start and end with a right-to-left character")
