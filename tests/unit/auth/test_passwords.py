"""Argon2 hashes, SCRAM verifiers and SASLprep."""

from __future__ import annotations

import base64

import pytest

from postier.auth.passwords import (
    HashParameters,
    hash_password,
    needs_rehash,
    parse_scram_credentials,
    scram_credentials,
    verify_password,
)
from postier.auth.saslprep import saslprep
from postier.errors import InvalidArgument

CHEAP = HashParameters(time_cost=1, memory_cost_kib=8, parallelism=1)


def test_hash_then_verify() -> None:
    password_hash = hash_password("correct horse", CHEAP)
    assert password_hash.startswith("$argon2id$")
    assert verify_password(password_hash, "correct horse")
    assert not verify_password(password_hash, "correct horse!")


def test_verification_uses_the_saslprep_form() -> None:
    # U+00A0 (no-break space) maps to space, U+00AD (soft hyphen) to nothing, Ⅸ to IX.
    password_hash = hash_password("a\u00a0b\u00adc\u2168", CHEAP)
    assert verify_password(password_hash, "a bcIX")


@pytest.mark.parametrize(
    "bad_hash", ["", "garbage", "é", "$argon2id$v=19$m=8,t=1,p=1$", "$2b$12$abcdefghijklmnopqrstuv"]
)
def test_malformed_hash_never_verifies_and_never_raises(bad_hash: str) -> None:
    assert not verify_password(bad_hash, "anything")


def test_password_that_saslprep_refuses_does_not_verify() -> None:
    password_hash = hash_password("fine", CHEAP)
    assert not verify_password(password_hash, "bell\u0007")
    assert not verify_password(password_hash, "\udc80")


@pytest.mark.parametrize("password", ["", "\u00ad", "bell\u0007"])
def test_unusable_password_is_refused_when_hashing(password: str) -> None:
    with pytest.raises(InvalidArgument):
        hash_password(password, CHEAP)


def test_needs_rehash_when_costs_change_or_hash_is_foreign() -> None:
    password_hash = hash_password("pw", CHEAP)
    assert not needs_rehash(password_hash, CHEAP)
    assert needs_rehash(
        password_hash, HashParameters(time_cost=2, memory_cost_kib=8, parallelism=1)
    )
    assert needs_rehash("not a hash", CHEAP)


def test_scram_credentials_match_rfc7677() -> None:
    salt = base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ==")
    stored = scram_credentials("pencil", 4096, salt)
    iterations, salt_b64, _stored_key, _server_key = stored.split("$")
    assert (iterations, salt_b64) == ("4096", "W22ZaJ0SNY7soEsUEjb6gQ==")
    parsed = parse_scram_credentials(stored)
    assert parsed is not None
    assert parsed.encode() == stored
    assert parsed.salt == salt


def test_scram_credentials_draw_a_fresh_salt() -> None:
    assert scram_credentials("pencil") != scram_credentials("pencil")


def test_scram_iterations_below_the_rfc_minimum_are_refused() -> None:
    with pytest.raises(ValueError):
        scram_credentials("pencil", iterations=1000)


@pytest.mark.parametrize(
    "text",
    ["", "4096", "x$AA==$AA==$AA==", "4096$AA==$AA==$AA==", "0$AA==$" + "A" * 44 + "$" + "A" * 44],
)
def test_malformed_scram_verifier_parses_to_none(text: str) -> None:
    assert parse_scram_credentials(text) is None


@pytest.mark.parametrize(
    ("given", "expected"),
    [  # RFC 4013 §3
        ("I\u00adX", "IX"),
        ("user", "user"),
        ("USER", "USER"),
        ("\u00aa", "a"),
        ("\u2168", "IX"),
        ("\u0627\u0031\u0628", "\u0627\u0031\u0628"),
        ("\U0001f600", "\U0001f600"),  # unassigned in Unicode 3.2, allowed on purpose
    ],
)
def test_saslprep(given: str, expected: str) -> None:
    assert saslprep(given) == expected


@pytest.mark.parametrize("given", ["\u0007", "\u0627\u0031", "a\u0627", "\ue000"])
def test_saslprep_prohibited(given: str) -> None:
    with pytest.raises(ValueError):
        saslprep(given)


def test_saslprep_can_refuse_unassigned() -> None:
    with pytest.raises(ValueError):
        saslprep("\U0001f600", allow_unassigned=False)
