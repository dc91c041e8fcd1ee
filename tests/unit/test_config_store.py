"""``[store] expunge_history``: a duration, 90 days unless set, 0 for "forever"."""

from __future__ import annotations

import pytest

from postier.config import Config, config_from_dict
from postier.errors import ConfigError

# No implicit-TLS listeners: no certificate needed.
NO_TLS = {"imaps": [], "pop3s": [], "submissions": [], "https": []}


def _config(store: dict[str, object]) -> Config:
    return config_from_dict({"listen": NO_TLS, "store": store})


def test_expunge_history_defaults_to_ninety_days() -> None:
    assert _config({}).store.expunge_history == 90 * 86400


@pytest.mark.parametrize(("value", "seconds"), [("30d", 30 * 86400), ("12h", 43200), ("0", 0),
                                                (0, 0), (3600, 3600)])
def test_expunge_history_is_a_duration(value: object, seconds: float) -> None:
    assert _config({"expunge_history": value}).store.expunge_history == seconds


def test_a_bad_expunge_history_names_the_key() -> None:
    with pytest.raises(ConfigError, match=r"\[store\] expunge_history"):
        _config({"expunge_history": "soon"})
