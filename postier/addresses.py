"""Mail address normalisation shared by accounts, SMTP policy and the CLI (pure).

Postier treats local parts case-insensitively (as nearly every mail system does in practice) and
stores every address as ``local@domain`` in lower case, domains in their IDNA (A-label) form.
"""

from __future__ import annotations

import re

from postier.errors import InvalidArgument

__all__ = ["SUBADDRESS_SEPARATOR", "normalize_address", "normalize_domain", "split_address"]

SUBADDRESS_SEPARATOR = "+"

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
# Dot-atom local part (RFC 5322 §3.2.3) plus UTF-8 (RFC 6531); quoted local parts are refused for
# accounts: they are legal on the wire but a source of confusion and relay tricks.
_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~\u0080-\U0010ffff-]+"
                    r"(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~\u0080-\U0010ffff-]+)*$")


def normalize_domain(domain: str) -> str:
    name = domain.strip().rstrip(".").lower()
    if not name:
        raise InvalidArgument("empty domain name")
    try:
        ascii_name = name.encode("idna").decode("ascii") if not name.isascii() else name
    except UnicodeError as exc:
        raise InvalidArgument(f"invalid domain name {domain!r}") from exc
    labels = ascii_name.split(".")
    if len(ascii_name) > 253 or not all(_LABEL.match(label) for label in labels):
        raise InvalidArgument(f"invalid domain name {domain!r}")
    return ascii_name


def split_address(address: str) -> tuple[str, str]:
    local, sep, domain = address.strip().rpartition("@")
    if not sep or not local:
        raise InvalidArgument(f"invalid address {address!r}: expected local@domain")
    return local, domain


def normalize_address(address: str) -> str:
    local, domain = split_address(address)
    if len(local) > 64 or not _LOCAL.match(local):
        raise InvalidArgument(f"invalid address {address!r}: bad local part")
    return f"{local.lower()}@{normalize_domain(domain)}"
