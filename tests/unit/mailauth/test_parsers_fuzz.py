"""Hypothesis: the record parsers raise nothing but their own error types, whatever the text."""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st

from postier.mailauth import dkim_verify, dmarc, spf
from postier.mailauth.results import authentication_results
from tests.unit.mailauth.zone import Zone

SPF_ALPHABET = st.sampled_from(list("v=spf1 -+~?:/.%{}_ailmxptrdoshcv0123456789"
                                    "ncludeexistsredirectxyz,\x00é"))
SPF_WORDS = st.sampled_from(["v=spf1", " ", "ip4:", "ip6:", "a", "mx", "ptr", "include:",
                             "exists:", "redirect=", "exp=", "all", "-", "~", "/", "//", "24",
                             "%{i}", "%{d2r}", "%{l-}", "%%", "%", "{", "example.com", "::1",
                             "192.0.2.1", ":", ".", "=", "%{x}", "99999"])


@given(st.one_of(st.text(max_size=200), st.text(SPF_ALPHABET, max_size=120),
                 st.lists(SPF_WORDS, max_size=20).map("".join)))
def test_spf_parser_raises_only_its_error(text: str) -> None:
    try:
        spf.parse_record(text)
    except spf.SpfSyntaxError:
        pass


@given(st.lists(SPF_WORDS, max_size=16).map("".join), st.sampled_from(
    ["192.0.2.1", "2001:db8::1", "::ffff:192.0.2.1"]))
@settings(max_examples=200, deadline=None)
def test_spf_evaluation_always_gives_a_result(record: str, ip: str) -> None:
    zone = Zone().add("example.com", "TXT", "v=spf1 " + record).add("example.com", "A", "192.0.2.1")
    outcome = asyncio.run(spf.check_host(zone, ip, "example.com", "a@example.com", "helo"))
    assert isinstance(outcome.result, spf.SpfResult)


@given(st.one_of(st.text(max_size=200), st.lists(st.sampled_from(
    ["v=DMARC1", ";", " ", "p=", "sp=", "reject", "none", "quarantine", "pct=", "101", "-1",
     "adkim=", "s", "r", "=", "rua=mailto:x@y", "\x00", "é"]), max_size=20).map("".join)))
def test_dmarc_parser_raises_only_its_error(text: str) -> None:
    try:
        record = dmarc.parse_record(text)
    except dmarc.DmarcSyntaxError:
        return
    assert 0 <= record.percent <= 100


@given(st.text(max_size=80))
def test_organizational_domain_never_raises(name: str) -> None:
    assert isinstance(dmarc.organizational_domain(name), str)


@given(st.binary(max_size=600))
@settings(max_examples=200, deadline=None)
def test_dkim_verification_never_raises(header: bytes) -> None:
    message = b"DKIM-Signature: " + header + b"\r\nFrom: a@example.com\r\n\r\nbody\r\n"
    found = dkim_verify.signatures(message)
    outcomes = dkim_verify.verify_signatures(message, found, {})
    assert all(o.result in ("pass", "fail", "permerror", "temperror") for o in outcomes)


@given(st.text(max_size=60), st.text(max_size=60), st.text(max_size=60))
def test_authentication_results_is_always_one_ascii_field(authserv: str, comment: str,
                                                          value: str) -> None:
    field = authentication_results(authserv, [("spf", "pass", comment,
                                               [("smtp.mailfrom", value)])])
    assert field.isascii() and field.endswith(b"\r\n")
    assert b"\r\n" not in field[:-2].replace(b";\r\n\t", b"")
