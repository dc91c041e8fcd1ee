"""Where mail for a domain goes: the smarthost, or the domain's MX hosts (RFC 5321 §5.1).

How this works: ``find_route`` returns the hosts to try, in order, or raises ``RouteError``:

- a smarthost (``[relay] smarthost``) is the only host, whatever the domain;
- an address literal (``user@[192.0.2.1]``) is its own host;
- otherwise the MX records, lowest preference first, hosts of equal preference in random order
  (RFC 5321 §5.1, to spread the load);
- no MX records: the domain itself is the host ("implicit MX", RFC 5321 §5.1), when it has an
  address; with neither, mail to it cannot be delivered (permanent, 5.1.2);
- a null MX (a single ``0 .``, RFC 7505 §3) says the domain takes no mail: permanent, 5.1.10;
- NXDOMAIN: permanent, 5.1.2 ("bad destination system address", RFC 3463 §3.2);
- SERVFAIL, timeouts and other DNS trouble: temporary, 4.4.3 (RFC 3463 §3.5).

MX host addresses are looked up when the host is tried (``addresses_of``), so a dead first host
costs no lookups for the others. Smarthost names are left to the operating system's resolver
(``/etc/hosts`` included), like any client program's.
"""

from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass

from postier.dns import DnsError, DnsTemporaryError, DomainNotFound, Resolver

__all__ = ["Destination", "RouteError", "addresses_of", "find_route"]


@dataclass(frozen=True, slots=True)
class Destination:
    host: str  # a name, or an IP address
    port: int
    resolve: bool = True  # look the addresses up with our resolver (MX); else leave it to the OS


class RouteError(Exception):
    def __init__(self, message: str, *, status: str) -> None:
        super().__init__(message)
        self.status = status

    @property
    def permanent(self) -> bool:
        return self.status.startswith("5")


async def find_route(resolver: Resolver, domain: str, *, port: int,
                     smarthost: Destination | None = None) -> list[Destination]:
    if smarthost is not None:
        return [smarthost]
    if domain.startswith("[") and domain.endswith("]"):
        literal = domain[1:-1]
        if literal.lower().startswith("ipv6:"):
            literal = literal[5:]
        try:
            ipaddress.ip_address(literal)
        except ValueError as exc:
            raise RouteError(f"{domain} is not an address literal", status="5.1.2") from exc
        return [Destination(literal, port, resolve=False)]
    try:
        records = await resolver.mx(domain)
    except DomainNotFound as exc:
        raise RouteError(f"{domain}: no such domain", status="5.1.2") from exc
    except DnsError as exc:
        raise RouteError(f"MX lookup for {domain} failed: {exc}", status="4.4.3") from exc
    if any(record.exchange == "" for record in records):
        raise RouteError(f"{domain} does not accept mail (null MX, RFC 7505)", status="5.1.10")
    if not records:
        try:
            found = await resolver.addresses(domain)
        except DomainNotFound as exc:
            raise RouteError(f"{domain}: no such domain", status="5.1.2") from exc
        except DnsError as exc:
            raise RouteError(f"address lookup for {domain} failed: {exc}",
                             status="4.4.3") from exc
        if not found:
            raise RouteError(f"{domain} has neither MX nor address records", status="5.1.2")
        return [Destination(domain, port)]
    by_preference: dict[int, list[str]] = {}
    for record in records:
        by_preference.setdefault(record.preference, []).append(record.exchange)
    hosts: list[str] = []
    for preference in sorted(by_preference):
        group = list(dict.fromkeys(by_preference[preference]))
        random.shuffle(group)
        hosts += group
    return [Destination(host, port) for host in hosts]


async def addresses_of(resolver: Resolver, destination: Destination) -> list[str]:
    """The addresses to connect to; raises DnsError with a readable message."""
    if not destination.resolve:
        return [destination.host]
    try:
        ipaddress.ip_address(destination.host)
    except ValueError:
        pass
    else:
        return [destination.host]
    try:
        found = await resolver.addresses(destination.host)
    except DomainNotFound as exc:
        raise DomainNotFound(f"MX host {destination.host} does not exist") from exc
    if not found:
        raise DnsTemporaryError(f"MX host {destination.host} has no address")
    return found
