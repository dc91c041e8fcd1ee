"""Hypothesis properties of the config loader (postier/config.py).

(a) any file content, TOML or not, gives a Config or a ConfigError, never another exception;
(b) structured but wrong values (every known key, values of every TOML type, including nan, inf,
    huge integers, NUL bytes and deep nesting) give a Config or a ConfigError naming the section;
(c) a Config that loads holds only usable numbers: finite, not negative.
"""

from __future__ import annotations

import dataclasses
import math
import tempfile
import typing
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from postier.config import Config, config_from_dict, load_config
from postier.errors import ConfigError
from tests.fuzz.budget import examples

SECTIONS = {name: typing.get_type_hints(hint)
            for name, hint in typing.get_type_hints(Config).items() if name != "path"}
KEYS = sorted({key for keys in SECTIONS.values() for key in keys})

_NASTY_NUMBERS = [math.nan, math.inf, -math.inf, 10**400, -(10**400), 2**63, -1, -0.0, 1e308]
_scalar = st.one_of(
    st.sampled_from(_NASTY_NUMBERS), st.sampled_from(_NASTY_NUMBERS), st.integers(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
    st.sampled_from(["", "0", "-1", "5m", "1h30m", "9" * 400 + "w", "50M", "1e400", "nan",
                     "127.0.0.1:25", "[::1]:143", "*:0", "host:99999", "~", "~nosuchuser/x",
                     "a\x00b", "/dev/null", ".", "starttls", "postgresql", "sqlite", "debug",
                     "\ud7ff", "\u202e", "x" * 5000]),
    st.text(max_size=20),
    st.dates(), st.times(), st.datetimes(timezones=st.sampled_from([None, UTC])),
)
toml_values = st.recursive(
    _scalar, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                     st.dictionaries(st.text(max_size=5), inner, max_size=3)),
    max_leaves=12)
section_tables = st.dictionaries(
    st.one_of(st.sampled_from(KEYS), st.text(max_size=8)), toml_values, max_size=6)
# Without TLS files, the listeners that need them must be off for a config to load at all.
_NO_TLS = {"listen": {"submissions": [], "imaps": [], "pop3s": [], "https": []}}


@st.composite
def raw_configs(draw: st.DrawFn) -> dict[str, Any]:
    """Mostly one wrong value in an otherwise loadable config; sometimes anything at all."""
    raw: dict[str, Any] = {name: dict(table) for name, table in _NO_TLS.items()}
    for _ in range(draw(st.integers(1, 4))):
        section = draw(st.sampled_from(sorted(SECTIONS)))
        key = draw(st.sampled_from(sorted(SECTIONS[section])))
        raw.setdefault(section, {})[key] = draw(toml_values)
    if draw(st.integers(0, 4)) == 0:
        raw.update(draw(st.dictionaries(st.text(max_size=8),
                                        st.one_of(section_tables, toml_values), max_size=2)))
    return raw


def _numbers(value: Any) -> list[float]:
    if isinstance(value, bool):
        return []
    if isinstance(value, int | float):
        return [value]
    if isinstance(value, tuple):
        return [n for item in value for n in _numbers(item)]
    return []


def check_usable(config: Config) -> None:
    for name in SECTIONS:
        section = getattr(config, name)
        for item in dataclasses.fields(section):
            for number in _numbers(getattr(section, item.name)):
                assert math.isfinite(number) and number >= 0, (name, item.name, number)


@settings(max_examples=examples(300))
@given(raw=raw_configs())
def test_structured_values_give_config_or_config_error(raw: dict[str, Any]) -> None:
    try:
        config = config_from_dict(raw, Path("/etc/postier/postier.toml"))
    except ConfigError as error:
        assert str(error).startswith("/etc/postier/postier.toml: ")
        return
    check_usable(config)


def toml_literal(value: Any) -> str:
    """The smallest TOML writer that covers what ``toml_values`` draws."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") \
            if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return '"' + "".join(c if c.isalnum() or c in " .:-*/~[]" else f"\\u{ord(c):04x}"
                             if ord(c) < 0x10000 else f"\\U{ord(c):08x}" for c in value) + '"'
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(toml_literal(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{toml_literal(k)} = {toml_literal(v)}"
                               for k, v in value.items()) + "}"
    raise AssertionError(value)


TOML_PIECES = [
    "[server]\n", "[limits]\n", "[queue]\n", "[listen]\n", "[tls]\n", "[[server]]\n", "[a.b]\n",
    "hostname = ", "max_errors = ", "retry_schedule = ", "smtp = ", "data_dir = ", "lease = ",
    '"x"', "'x'", '"""', "'''", "1", "-1", "nan", "+inf", "1e999", "0x7fffffffffffffff",
    "1979-05-27T07:32:00Z", "[", "]", "{", "}", ",", "=", ".", "#", "\n", "\r\n", "\r", "\x00",
    "\\", "\\u0000", "\\ud800", "\ufeff", "é", " ",
]
toml_like = st.lists(st.one_of(st.sampled_from(TOML_PIECES), st.text(max_size=6)),
                     max_size=40).map("".join)
_DIRECTORY = Path(tempfile.mkdtemp(prefix="postier-config-fuzz-"))


def load_text(content: bytes) -> Config | ConfigError:
    path = _DIRECTORY / "postier.toml"
    path.write_bytes(content)
    try:
        return load_config(path)
    except ConfigError as error:
        assert str(error).startswith(f"{path}: ")
        return error


@settings(max_examples=examples(300))
@given(content=st.one_of(toml_like.map(lambda t: t.encode("utf-8", "surrogatepass")),
                         st.binary(max_size=200)))
def test_any_file_gives_config_or_config_error(content: bytes) -> None:
    result = load_text(content)
    if isinstance(result, Config):
        check_usable(result)


@settings(max_examples=examples(200))
@given(raw=raw_configs())
def test_written_toml_gives_config_or_config_error(raw: dict[str, Any]) -> None:
    tables = {name: table for name, table in raw.items() if isinstance(table, dict)}
    text = "".join(f"{toml_literal(name)} = {toml_literal(value)}\n"
                   for name, value in raw.items() if name not in tables)
    text += "".join(f"[{toml_literal(name)}]\n" + "".join(
        f"{toml_literal(k)} = {toml_literal(v)}\n" for k, v in table.items())
        for name, table in tables.items())
    result = load_text(text.encode("utf-8", "surrogatepass"))
    if isinstance(result, Config):
        check_usable(result)
