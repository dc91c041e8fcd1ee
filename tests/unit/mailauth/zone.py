"""A DNS zone in a dict, answering the resolver Protocols of postier.mailauth (no sockets)."""

from __future__ import annotations

from postier.dns import DnsTemporaryError, DomainNotFound, MxRecord


class Zone:
    """``records[(name, type)]`` → values; names lower case without the final dot. A name with
    no records at all is NXDOMAIN; names in ``failing`` answer with a temporary error."""

    def __init__(self) -> None:
        self.records: dict[tuple[str, str], list[str]] = {}
        self.failing: set[str] = set()
        self.queries: list[tuple[str, str]] = []

    def add(self, name: str, rdtype: str, *values: str) -> Zone:
        self.records.setdefault((name.lower().rstrip("."), rdtype), []).extend(values)
        return self

    def _lookup(self, name: str, rdtype: str) -> list[str]:
        name = name.lower().rstrip(".")
        self.queries.append((name, rdtype))
        if name in self.failing:
            raise DnsTemporaryError(f"{name}: SERVFAIL")
        if not any(key[0] == name for key in self.records):
            raise DomainNotFound(f"{name}: NXDOMAIN")
        return self.records.get((name, rdtype), [])

    async def txt(self, name: str) -> list[bytes]:
        return [value.encode() for value in self._lookup(name, "TXT")]

    async def mx(self, domain: str) -> list[MxRecord]:
        records = []
        for value in self._lookup(domain, "MX"):
            preference, exchange = value.split()
            records.append(MxRecord(int(preference), exchange.rstrip(".")))
        return sorted(records)

    async def addresses(self, host: str) -> list[str]:
        name = host.lower().rstrip(".")
        found = []
        missing = 0
        for rdtype in ("A", "AAAA"):
            try:
                found += self._lookup(name, rdtype)
            except DomainNotFound:
                missing += 1
        if missing == 2:
            raise DomainNotFound(f"{name}: NXDOMAIN")
        return found

    async def ptr(self, address: str) -> list[str]:
        return self._lookup(f"ptr:{address}", "PTR")
