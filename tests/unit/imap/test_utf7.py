"""Modified UTF-7 (RFC 3501 §5.1.3): known names, strict refusals, round trips."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postier.imap import utf7


@pytest.mark.parametrize(
    ("text", "encoded"),
    [
        ("INBOX", "INBOX"),
        ("~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"),  # RFC 3501 §5.1.3
        ("&", "&-"),
        ("Tom & Jerry", "Tom &- Jerry"),
        ("Entwürfe", "Entw&APw-rfe"),
        ("Отправленные", "&BB4EQgQ,BEAEMAQyBDsENQQ9BD0ESwQ1-"),
        ("😀", "&2D3eAA-"),  # a surrogate pair in one run
        ("a\tb", "a&AAk-b"),
        ("", ""),
    ],
)
def test_known_names(text: str, encoded: str) -> None:
    assert utf7.encode(text) == encoded
    assert utf7.decode(encoded) == text


@pytest.mark.parametrize(
    "name",
    [
        "Entwürfe",  # raw 8-bit
        "tab\there",  # raw control character
        "&U,BTFw",  # unterminated shift
        "&U/BTFw-",  # "/" is not in the modified alphabet
        "&U,BTFw=-",  # padding is not written
        "&AGE-",  # encoded printable ASCII ("a")
        "&ZeVnLIqe-&ZeVnLIqe-",  # two runs back to back
        "&ZeV-",  # cut UTF-16 unit
        "&ZQ-",  # one octet only
        "&2D0-",  # lone high surrogate
        "&APx-",  # non-zero padding bits (canonical is &APw-)
        "&A-",  # six bits
    ],
)
def test_decode_is_strict(name: str) -> None:
    with pytest.raises(ValueError):
        utf7.decode(name)


@given(st.text())
def test_encode_then_decode_round_trips(text: str) -> None:
    assert utf7.decode(utf7.encode(text)) == text


_MODIFIED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,"


@given(st.text(alphabet=st.sampled_from("&-&-/ÿ\x00" + _MODIFIED), max_size=30))
def test_decode_then_encode_round_trips(name: str) -> None:
    try:
        text = utf7.decode(name)
    except ValueError:
        return
    assert utf7.encode(text) == name


@given(st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E)))
def test_encoded_names_are_printable_ascii(text: str) -> None:
    assert all(0x20 <= ord(c) <= 0x7E for c in utf7.encode(text))
