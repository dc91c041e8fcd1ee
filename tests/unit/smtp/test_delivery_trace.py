"""Trace fields (RFC 5321 §4.4, RFC 3848) built for every stored or queued copy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from postier.smtp.delivery import (
    ClientInfo,
    received_field,
    return_path_field,
    transmission_protocol,
)

NOW = datetime(2024, 2, 29, 23, 59, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("esmtp", "tls", "authenticated", "smtputf8", "name"),
    [
        (False, False, False, False, "SMTP"),
        (False, True, True, False, "SMTP"),
        (True, False, False, False, "ESMTP"),
        (True, True, False, False, "ESMTPS"),
        (True, False, True, False, "ESMTPA"),
        (True, True, True, False, "ESMTPSA"),
        (True, True, True, True, "UTF8SMTPSA"),
        (True, False, False, True, "UTF8SMTP"),
    ],
)
def test_transmission_protocol(esmtp: bool, tls: bool, authenticated: bool, smtputf8: bool,
                               name: str) -> None:
    assert transmission_protocol(esmtp=esmtp, tls=tls, authenticated=authenticated,
                                 smtputf8=smtputf8) == name


def test_received_field_for_one_recipient() -> None:
    client = ClientInfo("client.example", "192.0.2.1", "ESMTPS")
    assert received_field(client, "mx.example.org", "ID1", "bob@example.org", NOW) == (
        b"Received: from client.example ([192.0.2.1])\r\n"
        b"\tby mx.example.org with ESMTPS id ID1\r\n"
        b"\tfor <bob@example.org>; Thu, 29 Feb 2024 23:59:01 +0000\r\n")


def test_received_field_without_for_and_with_ipv6_in_local_time() -> None:
    client = ClientInfo("[IPv6:2001:db8::1]", "2001:db8::1", "ESMTP")
    local = NOW.astimezone(timezone(timedelta(hours=2)))
    assert received_field(client, "mx.example.org", "ID2", None, local) == (
        b"Received: from [IPv6:2001:db8::1] ([IPv6:2001:db8::1])\r\n"
        b"\tby mx.example.org with ESMTP id ID2; Thu, 29 Feb 2024 23:59:01 +0000\r\n")


@pytest.mark.parametrize("helo", ["bad;name", "a(b)", "", "caf\u00e9.example", None])
def test_unusable_helo_names_are_replaced_by_the_address(helo: str | None) -> None:
    client = ClientInfo(helo, "::ffff:192.0.2.9", "SMTP")
    field = received_field(client, "mx.example.org", "ID3", None, NOW)
    assert field.startswith(b"Received: from [192.0.2.9] ([192.0.2.9])\r\n")


def test_local_submission_has_no_from_clause() -> None:
    field = received_field(ClientInfo(None, None, None), "mx.example.org", "ID4", "a@b.example",
                           NOW)
    assert field == (b"Received: by mx.example.org (Postier, local submission) id ID4\r\n"
                     b"\tfor <a@b.example>; Thu, 29 Feb 2024 23:59:01 +0000\r\n")


def test_return_path() -> None:
    assert return_path_field("") == b"Return-Path: <>\r\n"
    assert return_path_field("a@b.example") == b"Return-Path: <a@b.example>\r\n"
