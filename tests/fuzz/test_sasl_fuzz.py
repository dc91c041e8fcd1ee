"""Hypothesis: whatever a client sends, at whatever step, a SASL exchange answers with an event."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from postier.auth import sasl
from postier.auth.passwords import scram_credentials

VERIFIER = scram_credentials("pencil")
EVENTS = (sasl.Challenge, sasl.CheckPassword, sasl.NeedScramCredentials, sasl.Success, sasl.Failure)

client_data = st.one_of(
    st.binary(max_size=600),
    st.text(max_size=200).map(str.encode),
    # Near-valid SCRAM messages reach the deeper checks more often than random bytes do.
    st.builds(
        lambda head, body: (head + body).encode(),
        st.sampled_from(["n,,n=user,r=", "y,,n=u,r=", "n,a=u,n=u,r=", "c=biws,r=", "p=x,,"]),
        st.text(max_size=80),
    ),
)
caller_answers = st.one_of(st.booleans(), st.none(), st.just(VERIFIER), st.text(max_size=40))


@given(
    mechanism=st.sampled_from(sasl.MECHANISMS),
    initial=st.none() | client_data,
    steps=st.lists(client_data, max_size=5),
    answers=st.lists(caller_answers, min_size=5, max_size=5),
)
def test_any_input_at_any_step_gives_an_event(
    mechanism: str,
    initial: bytes | None,
    steps: list[bytes],
    answers: list[bool | str | None],
) -> None:
    exchange = sasl.start(mechanism, initial)
    event = exchange.begin()
    for data, answer in zip(steps, answers, strict=False):
        match event:
            case sasl.CheckPassword():
                event = exchange.password_checked(bool(answer))
            case sasl.NeedScramCredentials():
                event = exchange.provide_scram(answer if isinstance(answer, str) else None)
            case _:
                event = exchange.step(data)
        assert isinstance(event, EVENTS)
        if isinstance(event, sasl.Success):
            # Only PLAIN and LOGIN can succeed here, and only on the caller's say-so.
            assert mechanism != sasl.SCRAM_SHA_256
        if isinstance(event, sasl.Failure | sasl.Success):
            assert exchange.done
    assert isinstance(exchange.step(b"late"), EVENTS)  # even out of turn: an event, no exception


@given(st.lists(client_data, min_size=1, max_size=4))
def test_scram_never_succeeds_without_the_password(steps: list[bytes]) -> None:
    exchange = sasl.start("SCRAM-SHA-256", b"n,,n=user,r=abc")
    assert isinstance(exchange.begin(), sasl.NeedScramCredentials)
    event: sasl.SaslEvent = exchange.provide_scram(VERIFIER)
    for data in steps:
        if exchange.done:
            break
        event = exchange.step(data)
    assert not isinstance(event, sasl.Success)
