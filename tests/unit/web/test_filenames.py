"""Attachment names and types handed to browsers and to outgoing messages."""

from __future__ import annotations

import pytest

from postier.web.filenames import content_disposition, safe_filename, safe_media_type


@pytest.mark.parametrize(("given", "expected"), [
    ("report.pdf", "report.pdf"),
    ("../../etc/passwd", "passwd"),
    ("..\\..\\Windows\\system32\\evil.dll", "evil.dll"),
    ("/absolute/path/x.txt", "x.txt"),
    ("C:\\Users\\me\\photo.jpg", "photo.jpg"),
    ("..", "attachment"),
    ("...hidden", "hidden"),
    (".bashrc", "bashrc"),
    ("", "attachment"),
    ("   ", "attachment"),
    ("name\x00.exe", "name.exe"),
    ("a\r\nContent-Type: text/html.txt", "html.txt"),
    ("a\r\nX-Header: 1.txt", "aX-Header_ 1.txt"),
    ("inv\u202eexe.pdf", "invexe.pdf"),  # right-to-left override hides the real extension
    ("CON", "_CON"),
    ("nul.txt", "_nul.txt"),
    ('quote"me<now>|?*.txt', "quote_me_now____.txt"),
    ("trailing dots...", "trailing dots"),
    ("résumé.pdf", "résumé.pdf"),
])
def test_safe_filename(given: str, expected: str) -> None:
    assert safe_filename(given) == expected


def test_long_names_keep_their_extension() -> None:
    name = safe_filename("x" * 500 + ".pdf")
    assert len(name) <= 150 and name.endswith(".pdf")


def test_content_disposition_is_one_safe_header_value() -> None:
    value = content_disposition('../évil"; filename="x.html\r\n.txt')
    assert value.startswith("attachment; filename=\"")
    assert "\r" not in value and "\n" not in value and ".." not in value
    assert "filename*=UTF-8''" in value
    ascii_part = value.split('filename="', 1)[1].split('"', 1)[0]
    assert ascii_part.isascii() and '"' not in ascii_part and "/" not in ascii_part


@pytest.mark.parametrize(("given", "expected"), [
    ("application/pdf", "application/pdf"),
    ("Image/PNG", "image/png"),
    ("text/html; charset=utf-8", "application/octet-stream"),
    ("text/html\r\nX-Injected: 1", "application/octet-stream"),
    ("nonsense", "application/octet-stream"),
    ("", "application/octet-stream"),
])
def test_safe_media_type(given: str, expected: str) -> None:
    assert safe_media_type(given) == expected
