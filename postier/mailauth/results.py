"""The ``Authentication-Results`` field (RFC 8601) for the results of one received message.

How this works: ``authentication_results`` renders one field, one method result per line:

    Authentication-Results: mail.example.org;
        spf=pass (192.0.2.1 matched ip4:192.0.2.0/24) smtp.mailfrom=sender@example.com;
        dkim=pass header.d=example.com header.s=sel header.b=AbCdEfGh;
        dmarc=pass (p=reject) header.from=example.com

The authserv-id is the server's hostname. Everything that came from the message or from DNS is
reduced to safe characters before it is written: property values to the ``pvalue`` grammar
(RFC 8601 §2.2; a value that does not fit is left out), comments to printable ASCII without
parentheses or backslashes. The field is always ASCII and ends with CRLF.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["MethodResult", "authentication_results"]

_TOKEN = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`{|}~-]+")
_ADDRESS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@[A-Za-z0-9_.-]{1,253}")
# A value that is no token but safe inside a quoted-string (base64 text: "/" and "=").
_QUOTABLE = re.compile(r"[A-Za-z0-9+/=._-]+")
_COMMENT_UNSAFE = re.compile(r"[^\x20-\x7e]|[()\\]")

MethodResult = tuple[str, str, str, Sequence[tuple[str, str]]]
"""(method, result, comment, [(property, value), ...]), e.g. ("spf", "pass", "...",
[("smtp.mailfrom", "a@example.com")])."""


def _pvalue(value: str) -> str | None:
    if _TOKEN.fullmatch(value) or _ADDRESS.fullmatch(value):
        return value
    if _QUOTABLE.fullmatch(value):  # e.g. a header.b prefix with "/" (RFC 2045 tspecial)
        return f'"{value}"'
    return None


def _comment(text: str) -> str:
    cleaned = " ".join(_COMMENT_UNSAFE.sub(" ", text).split())[:120]
    return f" ({cleaned})" if cleaned else ""


def authentication_results(authserv_id: str, results: Sequence[MethodResult]) -> bytes:
    """The whole field, folded one method per line, CRLF included."""
    lines = [f"Authentication-Results: {_pvalue(authserv_id) or 'localhost'}"]
    if not results:
        lines[0] += "; none"
    for method, result, comment, properties in results:
        text = f"{method}={result}{_comment(comment)}"
        for name, value in properties:
            safe = _pvalue(value)
            if safe is not None:
                text += f" {name}={safe}"
        lines.append(text)
    return (";\r\n\t".join(lines) + "\r\n").encode("ascii")
