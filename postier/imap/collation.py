"""How IMAP compares text: case folding for SEARCH/SORT and the base subject of RFC 5256 §2.1.

How this works
--------------
``fold`` approximates the i;unicode-casemap comparator (RFC 5051), which RFC 9051 §6.4.4 and
RFC 5256 §2.2 (I18NLEVEL=1, RFC 5255) ask servers to use: full Unicode case folding, then
compatibility decomposition (NFKD). ASCII text, by far the most common, takes a fast path where
both steps reduce to ``str.lower``. Two folded strings compare by code point, which is the order
of their UTF-8 octets, as the comparator specifies.

``subject_base`` implements the base-subject extraction of RFC 5256 §2.1 on a decoded subject
and also says whether the subject marked a reply or a forward (a "Re:"/"Fwd:" leader, a
"(fwd)" trailer or a "[fwd: ...]" wrapper), which the REFERENCES algorithm needs (§3,
step 5.B/5.C). Nothing here raises or depends on a locale.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["fold", "subject_base"]

_SPACES = re.compile(r"[ \t\r\n]+")
# RFC 5256 §5: subj-trailer = "(fwd)" / WSP; one match per loop turn so "(fwd)" is noticed.
_TRAILER = re.compile(r"(?:[ \t]|\(fwd\))\Z", re.IGNORECASE)
# BLOBCHAR = %x01-5a / %x5c / %x5e-ff: anything but NUL and square brackets.
_BLOB = r"\[[^\[\]\x00]*\][ \t]*"
# subj-leader = (*subj-blob subj-refwd) / WSP;  subj-refwd = ("re" / ("fw" ["d"])) *WSP
# [subj-blob] ":"
_REFWD_LEADER = re.compile(rf"(?:{_BLOB})*(?:re|fwd?)[ \t]*(?:{_BLOB})?:", re.IGNORECASE)
_SPACE_LEADER = re.compile(r"[ \t]+")
_BLOB_PREFIX = re.compile(_BLOB)
_FWD_HEADER = "[fwd:"


def fold(text: str) -> str:
    """The i;unicode-casemap key of ``text``: compare and search folded strings only."""
    if text.isascii():
        return text.lower()
    return unicodedata.normalize("NFKD", text.casefold())


def _strip_trailers(text: str) -> tuple[str, bool]:
    """Step 2: drop trailing "(fwd)" and whitespace; True when a "(fwd)" went."""
    forwarded = False
    while (match := _TRAILER.search(text)) is not None:
        if match.group() != " ":  # whitespace was normalized to single spaces in step 1
            forwarded = True
        text = text[:match.start()]
    return text, forwarded


def _strip_leaders(text: str) -> tuple[str, bool]:
    """Steps 3 to 5: leaders and removable blobs, until neither matches; True for "Re:"."""
    reply = False
    while True:
        changed = False
        while True:  # step 3: *subj-leader
            match = _REFWD_LEADER.match(text)
            if match is not None:
                reply, text, changed = True, text[match.end():], True
                continue
            match = _SPACE_LEADER.match(text)
            if match is not None:
                text, changed = text[match.end():], True
                continue
            break
        match = _BLOB_PREFIX.match(text)  # step 4: only when something remains after it
        if match is not None and text[match.end():].strip(" \t"):
            text, changed = text[match.end():], True
        if not changed:
            return text, reply


def subject_base(subject: str) -> tuple[str, bool]:
    """(folded base subject, subject marked a reply or forward) per RFC 5256 §2.1.

    ``subject`` is already RFC 2047-decoded (step 1 is the summary's work).
    """
    text = _SPACES.sub(" ", subject)
    marked = False
    while True:
        text, forwarded = _strip_trailers(text)  # step 2
        text, reply = _strip_leaders(text)  # steps 3-5
        marked = marked or forwarded or reply
        # Step 6: "[fwd: subject]" is a forward wrapping the original subject.
        if len(text) > len(_FWD_HEADER) and text[:len(_FWD_HEADER)].lower() == _FWD_HEADER \
                and text.endswith("]"):
            text, marked = text[len(_FWD_HEADER):-1], True
            continue
        return fold(text), marked
