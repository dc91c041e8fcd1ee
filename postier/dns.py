"""DNS for mail: the Resolver Protocol, and a stub resolver built on dnspython's async resolver.

How this works: code that needs DNS (the outbound queue's MX lookup, later SPF/DKIM/DMARC
verification) takes a ``Resolver``; tests may pass their own. ``DnsResolver`` also answers
``ptr`` (reverse names), which only SPF's ``ptr`` mechanism needs. ``DnsResolver`` asks the servers
named in ``[dns] nameservers`` (each ``"address"`` or ``"address:port"``, IPv6 as ``"[::1]:53"``)
or, with none configured, the system's (``/etc/resolv.conf``).

Answers are reduced to what mail needs, and failures to two kinds, because that is the decision
a mail transfer agent makes (RFC 5321 §5.1, and the "Bad input" rule of the queue):

- ``DomainNotFound``: the name does not exist (NXDOMAIN). Mail to it can never be delivered.
- ``DnsTemporaryError``: SERVFAIL, REFUSED, a timeout, no reachable server. Try again later.

A name that exists but has no record of the asked type is an empty answer, not an error: "no MX"
means "use the address records" (RFC 5321 §5.1), which only the caller can decide.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Protocol

import dns.asyncresolver
import dns.exception
import dns.nameserver
import dns.rdatatype
import dns.resolver
import dns.reversename

__all__ = [
    "DnsError",
    "DnsResolver",
    "DnsTemporaryError",
    "DomainNotFound",
    "MxRecord",
    "Resolver",
    "parse_nameserver",
]


class DnsError(Exception):
    """Base class of resolver failures; the message is readable by an administrator."""


class DomainNotFound(DnsError):
    """NXDOMAIN: the name does not exist."""


class DnsTemporaryError(DnsError):
    """The question could not be answered now (SERVFAIL, timeout, unreachable server)."""


@dataclass(frozen=True, slots=True, order=True)
class MxRecord:
    preference: int
    exchange: str  # without the trailing dot; "" for the null MX "." (RFC 7505)


class Resolver(Protocol):
    async def mx(self, domain: str) -> list[MxRecord]:
        """MX records, lowest preference first; [] when the name has none."""
        ...

    async def addresses(self, host: str) -> list[str]:
        """IPv4 then IPv6 addresses of ``host``; [] when it has none."""
        ...

    async def txt(self, name: str) -> list[bytes]:
        """TXT records, each with its character-strings joined; [] when there are none."""
        ...


def parse_nameserver(entry: str) -> tuple[str, int]:
    """``"192.0.2.53"``, ``"127.0.0.1:5353"``, ``"::1"``, ``"[::1]:5353"`` → (address, port)."""
    text = entry.strip()
    match = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\](?::(\d+))?", text)
    if match:
        address, port = match.group(1), match.group(2)
    elif text.count(":") == 1:
        address, port = text.split(":")
    else:
        address, port = text, None
    try:
        ipaddress.ip_address(address)
    except ValueError as exc:
        raise ValueError(f"nameserver {entry!r} is not an IP address (optionally :port)") from exc
    number = int(port) if port is not None else 53
    if not 0 < number < 65536:
        raise ValueError(f"nameserver {entry!r}: port out of range")
    return address, number


class DnsResolver:
    """``Resolver`` over dnspython; ``nameservers`` empty means the system's configuration."""

    def __init__(self, nameservers: tuple[str, ...] = (), *, timeout: float = 10.0) -> None:
        if nameservers:
            resolver = dns.asyncresolver.Resolver(configure=False)
            resolver.nameservers = [dns.nameserver.Do53Nameserver(*parse_nameserver(entry))
                                    for entry in nameservers]
        else:
            try:
                resolver = dns.asyncresolver.Resolver()
            except dns.resolver.NoResolverConfiguration:
                # No /etc/resolv.conf (a minimal container): a local caching resolver is the
                # only sane guess; lookups fail as temporary errors if there is none.
                resolver = dns.asyncresolver.Resolver(configure=False)
                resolver.nameservers = ["127.0.0.1"]
        resolver.lifetime = timeout
        resolver.timeout = min(timeout, 3.0)
        # Mail domains are absolute names: never try them relative to a search list.
        resolver.search = []
        resolver.use_search_by_default = False
        self._resolver = resolver

    async def _query(self, name: str,
                     rdtype: dns.rdatatype.RdataType) -> dns.resolver.Answer | None:
        try:
            return await self._resolver.resolve(name, rdtype, search=False)
        except dns.resolver.NXDOMAIN as exc:
            raise DomainNotFound(f"{name}: no such domain (NXDOMAIN)") from exc
        except dns.resolver.NoAnswer:
            return None
        except dns.resolver.NoNameservers as exc:
            raise DnsTemporaryError(f"{name}: no DNS server answered ({rdtype.name}: "
                                    "SERVFAIL or refused)") from exc
        except dns.exception.Timeout as exc:
            raise DnsTemporaryError(f"{name}: DNS timeout ({rdtype.name})") from exc
        except dns.exception.DNSException as exc:
            raise DnsTemporaryError(f"{name}: DNS error ({rdtype.name}): {exc}") from exc

    async def mx(self, domain: str) -> list[MxRecord]:
        answer = await self._query(domain, dns.rdatatype.MX)
        if answer is None:
            return []
        records = [MxRecord(int(r.preference), r.exchange.to_text(omit_final_dot=True).lower())
                   for r in answer]
        # "." comes back as "" after omit_final_dot, or "@" relative to the root on some versions.
        records = [MxRecord(r.preference, "" if r.exchange in ("", "@", ".") else r.exchange)
                   for r in records]
        return sorted(records)

    async def addresses(self, host: str) -> list[str]:
        found: list[str] = []
        missing = 0
        for rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
            try:
                answer = await self._query(host, rdtype)
            except DomainNotFound:
                missing += 1
                continue
            except DnsTemporaryError:
                if not found:  # IPv4 addresses are enough to try; a failed AAAA is not fatal
                    raise
                continue
            if answer is not None:
                found.extend(r.address for r in answer)
        if missing == 2:
            raise DomainNotFound(f"{host}: no such host (NXDOMAIN)")
        return found

    async def txt(self, name: str) -> list[bytes]:
        answer = await self._query(name, dns.rdatatype.TXT)
        if answer is None:
            return []
        return [b"".join(r.strings) for r in answer]

    async def ptr(self, address: str) -> list[str]:
        """Reverse names of an IP address (SPF's ``ptr``), lower case, without the final dot."""
        try:
            name = dns.reversename.from_address(address)
        except (ValueError, dns.exception.SyntaxError) as exc:
            raise DomainNotFound(f"{address!r} is not an IP address") from exc
        answer = await self._query(name.to_text(), dns.rdatatype.PTR)
        if answer is None:
            return []
        return [r.target.to_text(omit_final_dot=True).lower() for r in answer]
