"""RFC 7489: record parsing, organizational domains, alignment, policy discovery, results."""

from __future__ import annotations

import pytest

from postier.mailauth.dmarc import (
    Alignment,
    Check,
    Disposition,
    DmarcResult,
    DmarcSyntaxError,
    FoundPolicy,
    Identifier,
    aligned,
    evaluate,
    find_policy,
    organizational_domain,
    parse_record,
)
from tests.unit.mailauth.zone import Zone


def test_parse_record() -> None:
    record = parse_record("v=DMARC1; p=reject; sp=quarantine; adkim=s; aspf=r; pct=50; "
                          "rua=mailto:d@example.com; unknown=1;")
    assert record.policy is Disposition.REJECT
    assert record.subdomain_policy is Disposition.QUARANTINE
    assert (record.adkim, record.aspf, record.percent) == (Alignment.STRICT,
                                                           Alignment.RELAXED, 50)


def test_bad_optional_values_take_defaults() -> None:
    record = parse_record("v=DMARC1;p=Quarantine;adkim=x;pct=abc;sp=maybe")
    assert record.policy is Disposition.QUARANTINE
    assert (record.adkim, record.percent, record.subdomain_policy) == (Alignment.RELAXED, 100,
                                                                       None)


def test_missing_policy_with_rua_is_none() -> None:
    assert parse_record("v=DMARC1; rua=mailto:x@example.com").policy is Disposition.NONE


@pytest.mark.parametrize("text", ["v=DMARC2; p=reject", "p=reject; v=DMARC1", "v=DMARC1",
                                  "v=DMARC1; p=drop", "v=DMARC1; p=reject; bad"])
def test_unusable_records(text: str) -> None:
    with pytest.raises(DmarcSyntaxError):
        parse_record(text)


@pytest.mark.parametrize(("domain", "organizational"), [
    ("example.com", "example.com"), ("mail.example.com", "example.com"),
    ("a.b.example.co.uk", "example.co.uk"), ("Example.COM.", "example.com"),
    ("sub.example.test", "example.test"), ("com", "com"),
])
def test_organizational_domain(domain: str, organizational: str) -> None:
    assert organizational_domain(domain) == organizational


def test_alignment() -> None:
    assert aligned("bounce.example.com", "example.com", Alignment.RELAXED)
    assert not aligned("bounce.example.com", "example.com", Alignment.STRICT)
    assert aligned("EXAMPLE.com.", "example.com", Alignment.STRICT)
    assert not aligned("example.net", "example.com", Alignment.RELAXED)
    assert not aligned("a.co.uk", "b.co.uk", Alignment.RELAXED)


async def test_policy_found_at_the_organizational_domain() -> None:
    zone = Zone().add("_dmarc.example.com", "TXT", "v=DMARC1; p=reject; sp=none")
    found = await find_policy(zone, "news.example.com")
    assert found.domain == "example.com" and found.record is not None
    assert ("_dmarc.news.example.com", "TXT") in zone.queries
    outcome = evaluate("news.example.com", found, [])
    assert (outcome.result, outcome.policy) == (DmarcResult.FAIL, Disposition.NONE)


async def test_policy_lookup_failures() -> None:
    zone = Zone().add("_dmarc.two.example", "TXT", "v=DMARC1; p=reject", "v=DMARC1; p=none")
    zone.failing.add("_dmarc.down.example")
    assert (await find_policy(zone, "two.example")).record is None
    assert (await find_policy(zone, "nothing.example")).record is None
    down = await find_policy(zone, "down.example")
    assert down.temporary_error
    assert evaluate("down.example", down, []).result is DmarcResult.TEMPERROR


REJECT = FoundPolicy(parse_record("v=DMARC1; p=reject; adkim=s"), "example.com")


def test_aligned_pass_passes() -> None:
    checks = [Check(Identifier.SPF, "bounce.example.com", True)]
    assert evaluate("example.com", REJECT, checks).result is DmarcResult.PASS


def test_unaligned_pass_fails_and_rejects() -> None:
    checks = [Check(Identifier.SPF, "example.net", True),
              Check(Identifier.DKIM, "mail.example.com", True)]  # adkim=s: not aligned
    outcome = evaluate("example.com", REJECT, checks)
    assert (outcome.result, outcome.disposition) == (DmarcResult.FAIL, Disposition.REJECT)


def test_aligned_temporary_error_is_temperror() -> None:
    checks = [Check(Identifier.DKIM, "example.com", False, temporary_error=True),
              Check(Identifier.SPF, "example.net", False, temporary_error=True)]
    assert evaluate("example.com", REJECT, checks).result is DmarcResult.TEMPERROR
    unaligned = [Check(Identifier.SPF, "example.net", False, temporary_error=True)]
    assert evaluate("example.com", REJECT, unaligned).result is DmarcResult.FAIL


def test_percent_sampling_softens_the_policy() -> None:
    found = FoundPolicy(parse_record("v=DMARC1; p=reject; pct=20"), "example.com")
    assert evaluate("example.com", found, [], sample=0.1).disposition is Disposition.REJECT
    assert evaluate("example.com", found, [], sample=0.5).disposition is Disposition.QUARANTINE
