"""Address helpers policy relies on, and the purity of the machine's companion modules."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from postier.smtp.paths import is_address_literal, local_part_value, split_address

SMTP = Path(__file__).resolve().parents[3] / "postier" / "smtp"


@pytest.mark.parametrize(
    ("address", "local", "domain"),
    [
        ("user@example.org", "user", "example.org"),
        ('"user@remote"@local.example', '"user@remote"', "local.example"),
        ("Postmaster", "Postmaster", ""),
        ("user@[192.0.2.1]", "user", "[192.0.2.1]"),
        ('""@x.example', '""', "x.example"),
    ],
)
def test_split_address(address: str, local: str, domain: str) -> None:
    assert split_address(address) == (local, domain)


@pytest.mark.parametrize(
    ("local", "value"),
    [
        ("john.doe", "john.doe"),
        ('"john.doe"', "john.doe"),
        ('"user@remote"', "user@remote"),
        ('"a\\"b\\\\c"', 'a"b\\c'),
        ('"a b"', "a b"),
        ('""', ""),
    ],
)
def test_local_part_value_unquotes(local: str, value: str) -> None:
    assert local_part_value(local) == value


def test_address_literals() -> None:
    assert is_address_literal("[IPv6:2001:db8::1]") and is_address_literal("[192.0.2.1]")
    assert not is_address_literal("example.org")


@pytest.mark.parametrize("name", ["events.py", "paths.py", "errors.py"])
def test_pure_companions_import_no_io_and_no_store(name: str) -> None:
    tree = ast.parse((SMTP / name).read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    forbidden = {"asyncio", "socket", "ssl", "postier.store", "postier.auth.authenticator"}
    assert not {i for i in imported for f in forbidden if i == f or i.startswith(f + ".")}
