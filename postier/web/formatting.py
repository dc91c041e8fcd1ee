"""Small display helpers for templates: dates, sizes, and links in plain text.

Dates are rendered in UTC on the server inside ``<time datetime=...>``; the page's script
rewrites them in the reader's own time zone and language.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

__all__ = ["file_size", "full_date", "linkify", "short_date"]

_URL = re.compile(r"\bhttps?://[^\s<>\"']+[^\s<>\"'.,;:!?)\]]")


def short_date(value: datetime, now: datetime | None = None) -> str:
    value = value.astimezone(UTC)
    now = (now or datetime.now(UTC)).astimezone(UTC)
    if value.date() == now.date():
        return value.strftime("%H:%M")
    if value.year == now.year:
        return value.strftime("%d %b").lstrip("0")
    return value.strftime("%Y-%m-%d")


def full_date(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%a, %d %b %Y %H:%M UTC")


def file_size(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def linkify(text: str) -> str:
    """Escape ``text`` and turn http(s) URLs into links that open in a new tab."""
    out: list[str] = []
    position = 0
    for match in _URL.finditer(text):
        out.append(html.escape(text[position:match.start()]))
        url = html.escape(match.group(0))
        out.append(f'<a href="{url}" target="_blank" rel="noopener noreferrer">{url}</a>')
        position = match.end()
    out.append(html.escape(text[position:]))
    return "".join(out)
