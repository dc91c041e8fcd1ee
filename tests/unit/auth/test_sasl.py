"""The pure SASL machines: byte strings in, events out."""

from __future__ import annotations

import base64

import pytest

from postier.auth import sasl
from postier.auth.passwords import scram_credentials
from postier.auth.sasl import (
    Challenge,
    CheckPassword,
    Failure,
    NeedScramCredentials,
    Success,
    UnsupportedMechanism,
)

# RFC 7677 §3
CLIENT_NONCE = "rOprNGfwEbeRWgbNEkqO"
SERVER_NONCE = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
SALT = base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ==")
CLIENT_FIRST = b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
SERVER_FIRST = (
    b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
)
CLIENT_FINAL = (
    b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
    b"p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
)
SERVER_FINAL = b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
PENCIL = scram_credentials("pencil", 4096, SALT)


def plain(message: bytes) -> sasl.SaslEvent:
    return sasl.start("PLAIN", message).begin()


def test_plain_initial_response_asks_for_password_check() -> None:
    exchange = sasl.start("PLAIN", b"\x00tim\x00tanstaaftanstaaf")
    assert exchange.begin() == CheckPassword("tim", "tanstaaftanstaaf")
    assert exchange.password_checked(True) == Success("tim", None)
    assert exchange.done


def test_plain_without_initial_response_sends_empty_challenge() -> None:
    exchange = sasl.start("plain")
    assert exchange.begin() == Challenge(b"")
    assert exchange.step(b"\x00tim\x00secret") == CheckPassword("tim", "secret")


def test_plain_wrong_password_fails_generically() -> None:
    exchange = sasl.start("PLAIN", b"\x00tim\x00wrong")
    exchange.begin()
    assert exchange.password_checked(False) == Failure("invalid credentials")


def test_plain_authzid_equal_to_authcid_is_accepted() -> None:
    assert plain(b"Kurt@example.com\x00kurt@example.com\x00xipj3plmq") == CheckPassword(
        "kurt@example.com", "xipj3plmq"
    )


def test_plain_authzid_for_someone_else_is_refused() -> None:
    event = plain(b"Ursel\x00Kurt\x00xipj3plmq")
    assert isinstance(event, Failure)
    assert "authorization identity" in event.reason


@pytest.mark.parametrize(
    "message",
    [
        b"",
        b"tim",
        b"\x00tim",
        b"\x00\x00secret",  # empty user
        b"\x00tim\x00",  # empty password
        b"\x00tim\x00secret\x00extra",
        b"\x00\xfftim\x00secret",  # not UTF-8
    ],
)
def test_plain_malformed_messages_fail(message: bytes) -> None:
    assert isinstance(plain(message), Failure)


def test_login_flow() -> None:
    exchange = sasl.start("LOGIN")
    assert exchange.begin() == Challenge(b"Username:")
    assert exchange.step(b"tim") == Challenge(b"Password:")
    assert exchange.step(b"secret") == CheckPassword("tim", "secret")
    assert exchange.password_checked(True) == Success("tim", None)


def test_login_initial_response_is_the_username() -> None:
    exchange = sasl.start("LOGIN", b"tim")
    assert exchange.begin() == Challenge(b"Password:")
    assert exchange.step(b"secret") == CheckPassword("tim", "secret")


@pytest.mark.parametrize("username", [b"", b"a\x00b", b"\xc3"])
def test_login_malformed_username_fails(username: bytes) -> None:
    exchange = sasl.start("LOGIN")
    exchange.begin()
    assert isinstance(exchange.step(username), Failure)


def test_scram_rfc7677_vector() -> None:
    exchange = sasl.start("SCRAM-SHA-256", CLIENT_FIRST, server_nonce=SERVER_NONCE)
    assert exchange.begin() == NeedScramCredentials("user")
    assert exchange.provide_scram(PENCIL) == Challenge(SERVER_FIRST)
    assert exchange.step(CLIENT_FINAL) == Success("user", SERVER_FINAL)


def test_scram_without_initial_response_sends_empty_challenge() -> None:
    exchange = sasl.start("SCRAM-SHA-256", server_nonce=SERVER_NONCE)
    assert exchange.begin() == Challenge(b"")
    assert exchange.step(CLIENT_FIRST) == NeedScramCredentials("user")


def scram_to_final(client_first: bytes = CLIENT_FIRST) -> sasl.SaslExchange:
    exchange = sasl.start("SCRAM-SHA-256", client_first, server_nonce=SERVER_NONCE)
    assert isinstance(exchange.begin(), NeedScramCredentials)
    assert isinstance(exchange.provide_scram(PENCIL), Challenge)
    return exchange


def test_scram_wrong_proof_fails() -> None:
    wrong = CLIENT_FINAL[:-8] + b"AAAAAAA="
    assert scram_to_final().step(wrong) == Failure("invalid credentials")


def test_scram_unknown_user_fails_only_at_the_proof() -> None:
    exchange = sasl.start("SCRAM-SHA-256", CLIENT_FIRST, server_nonce=SERVER_NONCE)
    exchange.begin()
    challenge = exchange.provide_scram(None)
    assert isinstance(challenge, Challenge)
    assert challenge.data.endswith(b",i=4096")
    assert exchange.step(CLIENT_FINAL) == Failure("invalid credentials")


def test_scram_unknown_user_gets_the_same_salt_each_time() -> None:
    def salt() -> bytes:
        exchange = sasl.start("SCRAM-SHA-256", CLIENT_FIRST)
        exchange.begin()
        challenge = exchange.provide_scram(None)
        assert isinstance(challenge, Challenge)
        return challenge.data.split(b",")[1]

    assert salt() == salt()


def test_scram_malformed_stored_verifier_behaves_like_unknown_user() -> None:
    exchange = sasl.start("SCRAM-SHA-256", CLIENT_FIRST, server_nonce=SERVER_NONCE)
    exchange.begin()
    assert isinstance(exchange.provide_scram("garbage"), Challenge)
    assert exchange.step(CLIENT_FINAL) == Failure("invalid credentials")


def test_scram_channel_binding_request_is_refused_clearly() -> None:
    exchange = sasl.start("SCRAM-SHA-256", b"p=tls-unique,,n=user,r=abc")
    event = exchange.begin()
    assert isinstance(event, Failure)
    assert "channel binding is not supported" in event.reason


def test_scram_y_flag_is_accepted_and_must_be_echoed() -> None:
    exchange = sasl.start("SCRAM-SHA-256", b"y,,n=user,r=rOprNGfwEbeRWgbNEkqO")
    assert exchange.begin() == NeedScramCredentials("user")
    exchange.provide_scram(PENCIL)
    # The RFC's final message says c=biws ("n,,"), which no longer matches the header.
    event = exchange.step(CLIENT_FINAL)
    assert isinstance(event, Failure)
    assert "channel binding" in event.reason


def test_scram_nonce_must_match() -> None:
    tampered = CLIENT_FINAL.replace(b"k0,p=", b"k1,p=")
    assert scram_to_final().step(tampered) == Failure("nonce mismatch")


def test_scram_username_escapes_are_decoded() -> None:
    exchange = sasl.start("SCRAM-SHA-256", b"n,,n=a=2Cb=3Dc,r=abc")
    assert exchange.begin() == NeedScramCredentials("a,b=c")


@pytest.mark.parametrize(
    "client_first",
    [
        b"",
        b"n,,",
        b"x,,n=user,r=abc",
        b"n,,n=,r=abc",
        b"n,,n=us=er,r=abc",  # bad escape
        b"n,,m=ext,n=user,r=abc",  # mandatory extension
        b"n,,n=user,x=abc",
        b"n,a=other,n=user,r=abc",
        b"n,,n=user,r=ab\x7f",
        b"n,,n=\xff,r=abc",
    ],
)
def test_scram_malformed_client_first_fails(client_first: bytes) -> None:
    assert isinstance(sasl.start("SCRAM-SHA-256", client_first).begin(), Failure)


@pytest.mark.parametrize(
    "client_final",
    [b"", b"c=biws", b"c=biws,r=x,p=!!!", b"c=biws,r=x,p=AAAA", b"r=x,c=biws,p=AAAA"],
)
def test_scram_malformed_client_final_fails(client_final: bytes) -> None:
    assert isinstance(scram_to_final().step(client_final), Failure)


def test_unknown_mechanism_raises() -> None:
    with pytest.raises(UnsupportedMechanism):
        sasl.start("CRAM-MD5")


def test_cancel_ends_the_exchange() -> None:
    exchange = sasl.start("LOGIN")
    exchange.begin()
    assert exchange.cancel() == Failure("authentication cancelled")
    assert exchange.done
    assert isinstance(exchange.step(b"tim"), Failure)


def test_data_after_the_end_fails() -> None:
    exchange = sasl.start("PLAIN", b"\x00tim\x00secret")
    exchange.begin()
    exchange.password_checked(True)
    assert isinstance(exchange.step(b"more"), Failure)


def test_oversized_response_fails() -> None:
    assert isinstance(plain(b"\x00tim\x00" + b"x" * sasl.MAX_CLIENT_DATA), Failure)


def test_caller_out_of_turn_is_a_bug() -> None:
    exchange = sasl.start("PLAIN")
    exchange.begin()
    with pytest.raises(RuntimeError):
        exchange.password_checked(True)
    with pytest.raises(RuntimeError):
        exchange.provide_scram(None)


def test_password_repr_is_hidden() -> None:
    assert "hunter2" not in repr(CheckPassword("tim", "hunter2"))


def test_plaintext_mechanisms_need_tls() -> None:
    assert sasl.allowed_mechanisms(tls_active=False) == ("SCRAM-SHA-256",)
    assert sasl.allowed_mechanisms(tls_active=True) == sasl.MECHANISMS
    assert sasl.allowed_mechanisms(tls_active=False, allow_plaintext=True) == sasl.MECHANISMS


def test_injected_nonce_is_validated() -> None:
    with pytest.raises(ValueError):
        sasl.start("SCRAM-SHA-256", server_nonce="a,b")
