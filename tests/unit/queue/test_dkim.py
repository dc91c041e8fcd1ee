"""DKIM signing (mailauth/dkim.py and queue/signing.py): sign, then verify with dkimpy against
the record we tell users to publish."""

from __future__ import annotations

from pathlib import Path

import dkim
import pytest

from postier.errors import InvalidArgument
from postier.mailauth.dkim import dns_name, dns_record, generate_key, sign
from postier.queue.signing import DkimSigner, ensure_key

MESSAGE = (b"From: Alice <alice@example.test>\r\nTo: bob@example.org\r\nSubject: Hello\r\n"
           b"Date: Mon, 01 Jan 2024 10:00:00 +0000\r\nMessage-ID: <m1@example.test>\r\n"
           b"MIME-Version: 1.0\r\nContent-Type: text/plain\r\nX-Other: not signed\r\n\r\n"
           b"Hello Bob\r\n")


@pytest.fixture(scope="module")
def key() -> bytes:
    return generate_key()


def lookup(record: str, name: str = "sel._domainkey.example.test."):  # type: ignore[no-untyped-def]
    def dnsfunc(query: bytes, timeout: int = 5) -> bytes | None:
        return record.encode() if query.decode() == name else None
    return dnsfunc


def test_sign_then_verify(key: bytes) -> None:
    field = sign(MESSAGE, domain="example.test", selector="sel", private_key_pem=key)
    assert field.startswith(b"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;")
    assert field.endswith(b"\r\n")
    assert dkim.verify(field + MESSAGE, dnsfunc=lookup(dns_record(key)))
    tags = field.decode().replace("\r\n", "")
    assert "h=from : to : subject : date : message-id : mime-version : content-type;" in tags
    # relaxed/relaxed: refolding and trailing spaces do not matter; content does
    refolded = MESSAGE.replace(b"Subject: Hello", b"Subject:   Hello  ")
    assert dkim.verify(field + refolded, dnsfunc=lookup(dns_record(key)))
    assert not dkim.verify(field + MESSAGE.replace(b"Hello Bob", b"Hello Eve"),
                           dnsfunc=lookup(dns_record(key)))


def test_record_and_name(key: bytes) -> None:
    record = dns_record(key)
    assert record.startswith("v=DKIM1; k=rsa; p=MII")
    assert dns_name("example.test", "postier") == "postier._domainkey.example.test"
    with pytest.raises(InvalidArgument):
        dns_name("example.test", "bad selector")
    with pytest.raises(InvalidArgument):
        dns_record(b"not a key")


def test_no_from_no_signature(key: bytes) -> None:
    with pytest.raises(InvalidArgument):
        sign(b"Subject: x\r\n\r\nbody\r\n", domain="example.test", selector="s",
             private_key_pem=key)


def test_signer_picks_the_from_domain_with_a_key(tmp_path: Path) -> None:
    path, created = ensure_key(tmp_path, "example.test", "sel")
    assert created and ensure_key(tmp_path, "example.test", "sel") == (path, False)
    signer = DkimSigner(tmp_path, "sel")
    signed = signer.sign_blocking(MESSAGE, "bounces@other.test")
    assert dkim.verify(signed, dnsfunc=lookup(dns_record(path.read_bytes())))
    foreign = MESSAGE.replace(b"alice@example.test", b"alice@elsewhere.test")
    assert signer.sign_blocking(foreign, "nobody@nowhere.test") == foreign
    # a bounce (null sender) From the host name is signed only if that domain has a key
    assert signer.sign_blocking(foreign, "") == foreign
