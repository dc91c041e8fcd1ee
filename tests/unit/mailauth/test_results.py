"""Authentication-Results rendering (RFC 8601): property values as tokens or quoted strings."""

from __future__ import annotations

from postier.mailauth.results import authentication_results


def test_header_b_with_a_slash_is_quoted_not_dropped() -> None:
    field = authentication_results("mail.example.org", [
        ("dkim", "pass", "", [("header.d", "example.com"), ("header.b", "ab/Cd+E=")])])
    assert field == (b"Authentication-Results: mail.example.org;\r\n"
                     b'\tdkim=pass header.d=example.com header.b="ab/Cd+E="\r\n')


def test_a_value_unsafe_even_when_quoted_is_left_out() -> None:
    field = authentication_results("mail.example.org", [
        ("dkim", "pass", "", [("header.b", 'a"b\\c')])])
    assert b"header.b" not in field
