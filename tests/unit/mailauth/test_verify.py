"""DKIM verification and the whole verdict (SPF + DKIM + DMARC → action and field)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

import pytest

from postier.mailauth import dkim, dkim_verify
from postier.mailauth.verify import Action, InboundPolicy, Verdict, authenticate
from tests.unit.mailauth.zone import Zone

T = TypeVar("T")
MESSAGE = (b"From: Alice <alice@example.com>\r\nTo: bob@example.test\r\nSubject: hi\r\n"
           b"Date: Mon, 01 Jan 2024 10:00:00 +0000\r\nMessage-ID: <1@example.com>\r\n\r\n"
           b"Hello Bob.\r\n")


async def offload(function: Callable[[], T]) -> T:
    return await asyncio.to_thread(function)


@pytest.fixture(scope="module")
def key() -> bytes:
    return dkim.generate_key()


def signed(key: bytes, message: bytes = MESSAGE, domain: str = "example.com") -> bytes:
    return dkim.sign(message, domain=domain, selector="sel", private_key_pem=key) + message


def zone_with_key(key: bytes, domain: str = "example.com") -> Zone:
    return Zone().add(f"sel._domainkey.{domain}", "TXT", dkim.dns_record(key))


async def test_signature_passes_and_altered_body_fails(key: bytes) -> None:
    zone = zone_with_key(key)
    (good,) = await dkim_verify.verify(signed(key), zone, offload)
    assert (good.result, good.domain, good.selector) == ("pass", "example.com", "sel")
    altered = signed(key).replace(b"Hello Bob.", b"Hello Eve.")
    (bad,) = await dkim_verify.verify(altered, zone, offload)
    assert bad.result == "fail" and "body hash" in bad.reason


async def test_key_problems(key: bytes) -> None:
    zone = Zone()
    (missing,) = await dkim_verify.verify(signed(key), zone, offload)
    assert missing.result == "permerror"
    zone.failing.add("sel._domainkey.example.com")
    (temporary,) = await dkim_verify.verify(signed(key), zone, offload)
    assert temporary.result == "temperror"
    zone = Zone().add("sel._domainkey.example.com", "TXT", "v=DKIM1; k=rsa; p=")
    (revoked,) = await dkim_verify.verify(signed(key), zone, offload)
    assert revoked.result == "permerror"


async def test_every_signature_is_verified(key: bytes) -> None:
    other = dkim.generate_key()
    message = signed(other, signed(key), domain="list.example.org")
    zone = zone_with_key(key).add("sel._domainkey.list.example.org", "TXT",
                                  dkim.dns_record(other))
    outcomes = await dkim_verify.verify(message, zone, offload)
    assert [(o.domain, o.result) for o in outcomes] == [("list.example.org", "pass"),
                                                        ("example.com", "pass")]


async def verdict(message: bytes, zone: Zone, *, ip: str = "192.0.2.10",
                  mail_from: str = "bounce@example.com",
                  policy: InboundPolicy | None = None) -> Verdict:
    return await authenticate(message, client_ip=ip, helo="mta.example.com",
                              mail_from=mail_from, resolver=zone, offload=offload,
                              policy=policy or InboundPolicy())


def publishing(record: str) -> Zone:
    return (Zone().add("example.com", "TXT", "v=spf1 ip4:192.0.2.0/24 -all")
            .add("_dmarc.example.com", "TXT", record))


async def test_spf_pass_aligned_passes_dmarc() -> None:
    result = await verdict(MESSAGE, publishing("v=DMARC1; p=reject"))
    assert result.action is Action.DELIVER
    field = result.header_field("mx.example.test").decode()
    assert field.startswith("Authentication-Results: mx.example.test;\r\n\tspf=pass")
    assert "smtp.mailfrom=bounce@example.com" in field
    assert "dkim=none" in field
    assert "dmarc=pass (p=reject dis=none) header.from=example.com" in field


async def test_dmarc_reject_quarantine_and_none() -> None:
    forged = await verdict(MESSAGE, publishing("v=DMARC1; p=reject"), ip="198.51.100.7")
    assert forged.action is Action.REJECT and "example.com" in forged.reason
    lenient = await verdict(MESSAGE, publishing("v=DMARC1; p=reject"), ip="198.51.100.7",
                            policy=InboundPolicy(dmarc_reject=False))
    assert lenient.action is Action.QUARANTINE
    quarantine = await verdict(MESSAGE, publishing("v=DMARC1; p=quarantine"),
                               ip="198.51.100.7")
    assert quarantine.action is Action.QUARANTINE
    monitor = await verdict(MESSAGE, publishing("v=DMARC1; p=none"), ip="198.51.100.7")
    assert monitor.action is Action.DELIVER
    assert b"dmarc=fail (p=none dis=none)" in monitor.header_field("mx")


async def test_aligned_dkim_pass_wins_over_spf_fail(key: bytes) -> None:
    zone = publishing("v=DMARC1; p=reject")
    zone.records.update(zone_with_key(key).records)
    result = await verdict(signed(key), zone, ip="198.51.100.7",
                           policy=InboundPolicy(spf_fail_reject=True))
    assert result.action is Action.DELIVER
    assert b"spf=fail" in result.header_field("mx") and b"dkim=pass" in result.header_field("mx")


async def test_spf_fail_rejects_only_when_asked() -> None:
    zone = Zone().add("example.com", "TXT", "v=spf1 -all")
    assert (await verdict(MESSAGE, zone)).action is Action.DELIVER
    refused = await verdict(MESSAGE, zone, policy=InboundPolicy(spf_fail_reject=True))
    assert refused.action is Action.REJECT and refused.reason.startswith("SPF")


async def test_temporary_errors_defer_a_reject_and_otherwise_deliver(key: bytes) -> None:
    zone = publishing("v=DMARC1; p=reject")
    zone.failing.add("sel._domainkey.example.com")
    deferred = await verdict(signed(key), zone, ip="198.51.100.7")
    assert deferred.action is Action.DEFER
    zone = Zone().add("example.com", "TXT", "v=spf1 -all")
    zone.failing.add("_dmarc.example.com")
    delivered = await verdict(MESSAGE, zone)
    assert delivered.action is Action.DELIVER
    assert b"dmarc=temperror" in delivered.header_field("mx")


async def test_null_sender_checks_helo_and_two_authors_cannot_dodge_dmarc() -> None:
    zone = publishing("v=DMARC1; p=reject").add("mta.example.com", "TXT",
                                                "v=spf1 ip4:192.0.2.10 -all")
    bounce = await verdict(MESSAGE, zone, mail_from="")
    assert bounce.spf.result.value == "pass" and bounce.spf_property == ("smtp.helo",
                                                                         "mta.example.com")
    two = MESSAGE.replace(b"From: Alice <alice@example.com>",
                          b"From: x@example.net, Alice <alice@example.com>")
    forged = await verdict(two, zone, ip="198.51.100.7", mail_from="x@example.net")
    assert forged.action is Action.REJECT
