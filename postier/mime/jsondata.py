"""Typed reads from JSON-shaped data (what ``json.loads`` returns) for the ``from_json`` methods.

Every reader raises ValueError on a value of the wrong type, so a corrupt stored column fails
loudly in one recognisable way instead of producing a half-valid object.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = [
    "JsonObject",
    "read_int",
    "read_list",
    "read_object",
    "read_optional_str",
    "read_str",
    "read_str_map",
]

JsonObject = Mapping[str, object]


def read_object(value: object) -> JsonObject:
    if not isinstance(value, Mapping):
        raise ValueError(f"expected a JSON object, got {type(value).__name__}")
    return value


def read_int(data: JsonObject, key: str, default: int | None = None) -> int:
    value = data.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{key!r}: expected an integer")
    return value


def read_str(data: JsonObject, key: str, default: str | None = None) -> str:
    value = data.get(key, default)
    if not isinstance(value, str):
        raise ValueError(f"{key!r}: expected a string")
    return value


def read_optional_str(data: JsonObject, key: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{key!r}: expected a string or null")
    return value


def read_list(data: JsonObject, key: str) -> list[object]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise ValueError(f"{key!r}: expected a list")
    return value


def read_str_map(data: JsonObject, key: str) -> dict[str, str]:
    value = read_object(data.get(key, {}))
    if not all(isinstance(v, str) for v in value.values()):
        raise ValueError(f"{key!r}: expected string values")
    return {str(k): str(v) for k, v in value.items()}
