"""Attachment names and types that are safe to hand to a browser (downloads) or to a message
(uploads), whatever a sender or a client put in them.

``safe_filename`` keeps only the last path component (both separators), removes control and
format characters and characters Windows refuses, strips leading dots (no hidden files, no
"..") and trailing dots and spaces, defuses reserved device names (CON, NUL, COM1...) and
limits the length while keeping the extension. ``content_disposition`` renders RFC 6266 with an
ASCII fallback and the exact name in ``filename*`` (RFC 8187). ``safe_media_type`` lets through
only a syntactically plain type/subtype; anything else is application/octet-stream.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

__all__ = ["content_disposition", "safe_filename", "safe_media_type"]

MAX_LENGTH = 150
_FORBIDDEN = re.compile(r'[<>:"|?*\x00-\x1f\x7f]')
_RESERVED = re.compile(r"(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?", re.IGNORECASE)
_MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}")


def safe_filename(name: str, fallback: str = "attachment") -> str:
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch) not in ("Cc", "Cf", "Zl", "Zp"))
    name = _FORBIDDEN.sub("_", name)
    name = " ".join(name.split())  # no tabs, no runs of spaces
    name = name.lstrip(". ").rstrip(". ")
    if _RESERVED.fullmatch(name):
        name = "_" + name
    if len(name) > MAX_LENGTH:
        stem, dot, extension = name.rpartition(".")
        if dot and 0 < len(extension) <= 16:
            name = stem[:MAX_LENGTH - len(extension) - 1] + "." + extension
        else:
            name = name[:MAX_LENGTH]
    return name or fallback


def content_disposition(name: str, disposition: str = "attachment") -> str:
    name = safe_filename(name)
    ascii_name = "".join(ch if 0x20 <= ord(ch) < 0x7F and ch not in '"\\%' else "_"
                         for ch in name)
    return f"{disposition}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


def safe_media_type(content_type: str) -> str:
    value = content_type.strip().lower()
    return value if _MEDIA_TYPE.fullmatch(value) else "application/octet-stream"
