"""RFC 7208 evaluation over a zone in a dict: results, limits, errors, macros."""

from __future__ import annotations

import pytest

from postier.mailauth.spf import (
    SpfResult,
    SpfSyntaxError,
    check_host,
    expand_macro,
    parse_record,
)
from tests.unit.mailauth.zone import Zone


async def result(zone: Zone, ip: str = "192.0.2.10", domain: str = "example.com",
                 sender: str = "alice@example.com") -> SpfResult:
    return (await check_host(zone, ip, domain, sender, "mta.example.net")).result


@pytest.mark.parametrize(("record", "expected"), [
    ("v=spf1 ip4:192.0.2.0/24 -all", SpfResult.PASS),
    ("v=spf1 ip4:198.51.100.1 -all", SpfResult.FAIL),
    ("v=spf1 ip4:198.51.100.1 ~all", SpfResult.SOFTFAIL),
    ("v=spf1 ip4:198.51.100.1 ?all", SpfResult.NEUTRAL),
    ("v=spf1 ip4:198.51.100.1", SpfResult.NEUTRAL),
    ("v=spf1 -ip4:192.0.2.10 +all", SpfResult.FAIL),
    ("V=SPF1 IP4:192.0.2.10 -ALL", SpfResult.PASS),
    ("v=spf1 ip6:2001:db8::/32 -all", SpfResult.FAIL),
    ("v=spf1 a -all", SpfResult.PASS),
    ("v=spf1 a:other.example.com/24 -all", SpfResult.PASS),
    ("v=spf1 mx -all", SpfResult.PASS),
    ("v=spf1 exists:%{ir}.allow.example.com -all", SpfResult.PASS),
    ("v=spf1 include:_spf.example.com -all", SpfResult.PASS),
    ("v=spf1 redirect=_spf.example.com", SpfResult.PASS),
    ("v=spf1 ptr -all", SpfResult.PASS),
    ("v=spf1 unknown-modifier=foo ip4:192.0.2.10 -all", SpfResult.PASS),
    ("v=spf1 foo:bar -all", SpfResult.PERMERROR),
    ("v=spf1 include:nospf.example.com -all", SpfResult.PERMERROR),
    ("v=spf1 redirect=nospf.example.com", SpfResult.PERMERROR),
    ("v=spf1 redirect=a.example.com redirect=b.example.com", SpfResult.PERMERROR),
    ("v=spf1 include:failing.example.com -all", SpfResult.TEMPERROR),
])
async def test_record_results(record: str, expected: SpfResult) -> None:
    zone = (Zone().add("example.com", "TXT", record)
            .add("example.com", "A", "192.0.2.10")
            .add("example.com", "MX", "10 mx.example.com")
            .add("mx.example.com", "A", "192.0.2.10")
            .add("other.example.com", "A", "192.0.2.99")
            .add("10.2.0.192.allow.example.com", "A", "127.0.0.2")
            .add("_spf.example.com", "TXT", "v=spf1 ip4:192.0.2.0/28 -all")
            .add("nospf.example.com", "TXT", "just text")
            .add("ptr:192.0.2.10", "PTR", "host.example.com")
            .add("host.example.com", "A", "192.0.2.10"))
    zone.failing.add("failing.example.com")
    assert await result(zone) is expected


async def test_no_record_nxdomain_and_temperror() -> None:
    zone = Zone().add("example.com", "TXT", "unrelated")
    zone.failing.add("down.example")
    assert await result(zone) is SpfResult.NONE
    assert await result(zone, domain="missing.example") is SpfResult.NONE
    assert await result(zone, domain="down.example") is SpfResult.TEMPERROR
    assert await result(zone, domain="not a domain") is SpfResult.NONE


async def test_two_records_are_a_permerror() -> None:
    zone = Zone().add("example.com", "TXT", "v=spf1 -all", "v=spf1 +all")
    assert await result(zone) is SpfResult.PERMERROR


async def test_more_than_ten_dns_terms_is_a_permerror() -> None:
    terms = " ".join(f"a:h{i}.example.com" for i in range(11))
    zone = Zone().add("example.com", "TXT", f"v=spf1 {terms} -all")
    for i in range(11):
        zone.add(f"h{i}.example.com", "A", "198.51.100.1")
    outcome = await check_host(zone, "192.0.2.10", "example.com", "a@example.com")
    assert outcome.result is SpfResult.PERMERROR and "10" in outcome.reason
    ten = " ".join(f"a:h{i}.example.com" for i in range(10))
    zone.records[("example.com", "TXT")] = [f"v=spf1 {ten} -all"]
    assert await result(zone) is SpfResult.FAIL


async def test_includes_count_towards_the_limit() -> None:
    zone = Zone().add("example.com", "TXT", "v=spf1 include:loop.example.com -all")
    zone.add("loop.example.com", "TXT", "v=spf1 include:example.com -all")
    assert await result(zone) is SpfResult.PERMERROR


async def test_third_void_lookup_is_a_permerror() -> None:
    zone = Zone().add("example.com", "TXT",
                      "v=spf1 a:v1.example.com a:v2.example.com a:v3.example.com -all")
    outcome = await check_host(zone, "192.0.2.10", "example.com", "a@example.com")
    assert outcome.result is SpfResult.PERMERROR and "void" in outcome.reason
    zone.records[("example.com", "TXT")] = ["v=spf1 a:v1.example.com a:v2.example.com -all"]
    assert await result(zone) is SpfResult.FAIL


async def test_ptr_dns_failure_does_not_match() -> None:
    zone = Zone().add("example.com", "TXT", "v=spf1 ptr ~all")
    zone.failing.add("ptr:192.0.2.10")
    assert await result(zone) is SpfResult.SOFTFAIL


async def test_ipv4_mapped_client_matches_ip4() -> None:
    zone = Zone().add("example.com", "TXT", "v=spf1 ip4:192.0.2.10 -all")
    assert await result(zone, ip="::ffff:192.0.2.10") is SpfResult.PASS


def test_macro_expansion_rfc_examples() -> None:
    """RFC 7208 §7.4, sender strong-bad@email.example.com, IP 192.0.2.3."""
    def expand(text: str, ip: str = "192.0.2.3") -> str:
        return expand_macro(text, ip=ip, sender="strong-bad@email.example.com",
                            domain="email.example.com", helo="mx.example.org")

    assert expand("%{s}") == "strong-bad@email.example.com"
    assert expand("%{o}") == "email.example.com"
    assert expand("%{d4}") == "email.example.com"
    assert expand("%{d2}") == "example.com"
    assert expand("%{dr}") == "com.example.email"
    assert expand("%{d2r}") == "example.email"
    assert expand("%{l}") == "strong-bad"
    assert expand("%{l-}") == "strong.bad"
    assert expand("%{lr-}") == "bad.strong"
    assert expand("%{l1r-}") == "strong"
    assert expand("%{ir}.%{v}._spf.%{d2}") == "3.2.0.192.in-addr._spf.example.com"
    assert expand("%{lr-}.lp._spf.%{d2}") == "bad.strong.lp._spf.example.com"
    assert expand("%{ir}.%{v}._spf.%{d2}", "2001:db8::cb01") == (
        "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com")
    assert expand("%%%_%-") == "% %20"
    with pytest.raises(SpfSyntaxError):
        expand("%{x}")


@pytest.mark.parametrize("record", [
    "v=spf1 ip4:300.1.1.1", "v=spf1 ip4:1.2.3.4/33", "v=spf1 ip6:zz::", "v=spf1 a/40",
    "v=spf1 include", "v=spf1 all:x", "v=spf1 exists:%{c}.example.com", "v=spf1 ptr/24",
    "v=spf1 a:%{z}.example.com", "v=spf10", "spf1",
])
def test_bad_records(record: str) -> None:
    with pytest.raises(SpfSyntaxError):
        parse_record(record)
