"""SPF (RFC 7208): is the client's address allowed to send mail for a domain? No sockets.

How this works: ``check_host`` is the function of RFC 7208 §4. It reads the domain's
``v=spf1`` TXT record through the ``SpfResolver`` it is given, parses it (``parse_record``,
which raises only ``SpfSyntaxError``) and evaluates the terms from left to right, recursing for
``include:`` and ``redirect=``. The answer is an ``SpfOutcome``: one of the seven results of
§2.6 and a short reason for the Authentication-Results comment.

Written here rather than taken from pyspf: pyspf (last release 2020) is synchronous and does its
own DNS, so it would need a thread per check and could not use the configured resolver or its
errors; an evaluator over an async resolver is small, and the limits below stay visible.

Limits (§4.6.4), shared by the whole evaluation including includes and redirects:

- at most 10 terms that query DNS (``include``, ``a``, ``mx``, ``ptr``, ``exists``,
  ``redirect``); the 11th is a permerror;
- at most 2 "void" lookups (NXDOMAIN or an empty answer); the 3rd is a permerror;
- at most 10 MX names for one ``mx``, at most 10 PTR names for ``ptr`` (the rest are ignored).

DNS failures: a temporary failure of a query the result depends on is ``temperror``
(§4.4), except inside ``ptr``, which fails to match (§5.5). ``DomainNotFound`` for the checked
domain is ``none`` (§4.3). The ``exp=`` explanation is not fetched: it only matters to a server
that writes the explanation into its 550, and Postier's reply text is its own. The ``%{p}``
macro expands to "unknown" (allowed by §7.3, and ``ptr`` is "SHOULD NOT" use anyway).
"""

from __future__ import annotations

import enum
import ipaddress
import re
from dataclasses import dataclass, field
from typing import Protocol

from postier.dns import DnsTemporaryError, DomainNotFound, MxRecord

__all__ = [
    "MAX_DNS_TERMS",
    "MAX_VOID_LOOKUPS",
    "Mechanism",
    "Modifier",
    "SpfOutcome",
    "SpfResolver",
    "SpfResult",
    "SpfSyntaxError",
    "check_host",
    "expand_macro",
    "parse_record",
]

MAX_DNS_TERMS = 10
MAX_VOID_LOOKUPS = 2
_MAX_NAMES = 10  # MX or PTR names looked at for one mechanism (§4.6.4)


class SpfResult(enum.StrEnum):
    NONE = "none"
    NEUTRAL = "neutral"
    PASS = "pass"
    FAIL = "fail"
    SOFTFAIL = "softfail"
    TEMPERROR = "temperror"
    PERMERROR = "permerror"


class SpfSyntaxError(ValueError):
    """A record or macro that does not follow the grammar of RFC 7208 §12."""


class SpfResolver(Protocol):
    async def txt(self, name: str) -> list[bytes]: ...

    async def mx(self, domain: str) -> list[MxRecord]: ...

    async def addresses(self, host: str) -> list[str]: ...

    async def ptr(self, address: str) -> list[str]: ...


@dataclass(frozen=True, slots=True)
class SpfOutcome:
    result: SpfResult
    domain: str  # the domain whose policy was checked
    reason: str = ""


_QUALIFIERS = {"+": SpfResult.PASS, "-": SpfResult.FAIL, "~": SpfResult.SOFTFAIL,
               "?": SpfResult.NEUTRAL}
_MECHANISMS = frozenset({"all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists"})
_DNS_MECHANISMS = frozenset({"include", "a", "mx", "ptr", "exists"})


@dataclass(frozen=True, slots=True)
class Mechanism:
    qualifier: SpfResult
    name: str  # lower case: all, include, a, mx, ptr, ip4, ip6, exists
    domain_spec: str | None = None  # macro-string, unexpanded
    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None  # ip4 / ip6
    cidr4: int = 32
    cidr6: int = 128


@dataclass(frozen=True, slots=True)
class Modifier:
    name: str  # lower case
    value: str  # macro-string, unexpanded


@dataclass(frozen=True, slots=True)
class SpfRecord:
    mechanisms: tuple[Mechanism, ...]
    redirect: str | None = None
    explanation: str | None = None


_VERSION = re.compile(r"v=spf1(?: |$)", re.IGNORECASE)
_MODIFIER = re.compile(r"([A-Za-z][A-Za-z0-9_.-]*)=(.*)", re.DOTALL)
_MECHANISM = re.compile(r"([+?~-]?)([A-Za-z][A-Za-z0-9_.-]*)(.*)", re.DOTALL)
_DUAL_CIDR = re.compile(r"(?:/(\d{1,3}))?(?://(\d{1,3}))?")
_MACRO_LITERAL = re.compile(r"[\x21-\x24\x26-\x7e]")  # visible characters but "%"
_MACRO = re.compile(r"%\{([slodiphcrtvSLODIPHCRTV])(\d*)(r?)([.+,/_=-]*)\}", re.IGNORECASE)
_EXPLANATION_ONLY = frozenset("crt")


def is_spf_record(text: str) -> bool:
    """§4.5: the record starts with "v=spf1" followed by a space or its end."""
    return _VERSION.match(text) is not None


def parse_record(text: str) -> SpfRecord:
    """The terms of one ``v=spf1`` record (§4.6.1, §12). Raises SpfSyntaxError."""
    if not is_spf_record(text):
        raise SpfSyntaxError("not an SPF record (no v=spf1)")
    if not text.isascii():
        raise SpfSyntaxError("SPF records are ASCII (§3.1)")
    mechanisms: list[Mechanism] = []
    modifiers: dict[str, str] = {}
    for term in text.split(" ")[1:]:
        if not term:
            continue  # 1*SP between terms
        modifier = _MODIFIER.fullmatch(term)
        if modifier is not None and modifier.group(1).lower() not in _MECHANISMS:
            name, value = modifier.group(1).lower(), modifier.group(2)
            _check_macro_string(value, allow_explanation=False)
            if name in ("redirect", "exp"):
                if name in modifiers:
                    raise SpfSyntaxError(f"{name}= appears twice (§6)")
                if not value:
                    raise SpfSyntaxError(f"{name}= needs a domain")
                modifiers[name] = value
            continue  # unknown modifiers are ignored (§6)
        mechanisms.append(_parse_mechanism(term))
    return SpfRecord(tuple(mechanisms), modifiers.get("redirect"), modifiers.get("exp"))


def _parse_mechanism(term: str) -> Mechanism:
    match = _MECHANISM.fullmatch(term)
    if match is None:
        raise SpfSyntaxError(f"bad term {term[:64]!r}")
    qualifier = _QUALIFIERS.get(match.group(1), SpfResult.PASS)
    name, rest = match.group(2).lower(), match.group(3)
    if name not in _MECHANISMS:
        raise SpfSyntaxError(f"unknown mechanism {name[:32]!r}")
    if name == "all":
        if rest:
            raise SpfSyntaxError("'all' takes no argument")
        return Mechanism(qualifier, name)
    if name in ("ip4", "ip6"):
        return Mechanism(qualifier, name, network=_parse_network(name, rest))
    domain_spec: str | None = None
    cidr_text = rest
    if rest.startswith(":"):
        slash = rest.find("/")
        domain_spec, cidr_text = (rest[1:], "") if slash < 0 else (rest[1:slash], rest[slash:])
        if not domain_spec:
            raise SpfSyntaxError(f"{name}: empty domain")
        _check_macro_string(domain_spec, allow_explanation=False)
    elif name in ("include", "exists"):
        raise SpfSyntaxError(f"{name} needs a domain")
    if name in ("a", "mx"):
        cidr = _DUAL_CIDR.fullmatch(cidr_text)
        if cidr is None:
            raise SpfSyntaxError(f"{name}: bad prefix length {cidr_text[:32]!r}")
        cidr4 = int(cidr.group(1)) if cidr.group(1) is not None else 32
        cidr6 = int(cidr.group(2)) if cidr.group(2) is not None else 128
        if cidr4 > 32 or cidr6 > 128:
            raise SpfSyntaxError(f"{name}: prefix length out of range")
        return Mechanism(qualifier, name, domain_spec, cidr4=cidr4, cidr6=cidr6)
    if cidr_text:
        raise SpfSyntaxError(f"{name} takes no prefix length")
    return Mechanism(qualifier, name, domain_spec)


def _parse_network(name: str, rest: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    if not rest.startswith(":") or len(rest) > 64:
        raise SpfSyntaxError(f"{name} needs an address")
    text = rest[1:]
    address, _, prefix = text.partition("/")
    if prefix and not prefix.isdigit():
        raise SpfSyntaxError(f"{name}: bad prefix length")
    try:
        network = (ipaddress.IPv4Network if name == "ip4" else ipaddress.IPv6Network)(
            f"{address}/{prefix or (32 if name == 'ip4' else 128)}", strict=False)
    except ValueError as exc:
        raise SpfSyntaxError(f"{name}: {text[:64]!r} is not a network") from exc
    if prefix.startswith("0") and prefix != "0":
        raise SpfSyntaxError(f"{name}: leading zero in prefix length")  # §5.6: ip4-cidr-length
    return network


def _check_macro_string(text: str, *, allow_explanation: bool) -> None:
    pos = 0
    while pos < len(text):
        if text[pos] == "%":
            macro = _MACRO.match(text, pos)
            if macro is not None:
                if macro.group(1).lower() in _EXPLANATION_ONLY and not allow_explanation:
                    raise SpfSyntaxError(f"macro %{{{macro.group(1)}}} only in exp= (§7.2)")
                pos = macro.end()
            elif text[pos:pos + 2] in ("%%", "%_", "%-"):
                pos += 2
            else:
                raise SpfSyntaxError(f"bad macro at {text[pos:pos + 16]!r}")
        elif _MACRO_LITERAL.match(text, pos):
            pos += 1
        else:
            raise SpfSyntaxError(f"bad character in {text[:64]!r}")


@dataclass(frozen=True, slots=True)
class _Context:
    """The inputs of check_host that macros read (§7.3)."""

    ip: ipaddress.IPv4Address | ipaddress.IPv6Address
    sender: str  # local@domain, "postmaster@<helo>" for the null sender
    helo: str


def expand_macro(text: str, *, ip: str, sender: str, domain: str, helo: str) -> str:
    """Expand a macro-string (§7). Raises SpfSyntaxError for a malformed one."""
    _check_macro_string(text, allow_explanation=True)
    try:
        address = ipaddress.ip_address(ip)
    except ValueError as exc:
        raise SpfSyntaxError(f"bad client address {ip!r}") from exc
    return _expand(text, _Context(address, sender, helo), domain)


def _expand(text: str, context: _Context, domain: str) -> str:
    def letter_value(letter: str) -> str:
        local, _, sender_domain = context.sender.rpartition("@")
        ip = context.ip
        if letter == "s":
            return context.sender
        if letter == "l":
            return local or "postmaster"
        if letter == "o":
            return sender_domain
        if letter == "d":
            return domain
        if letter in ("i", "c"):
            if isinstance(ip, ipaddress.IPv6Address) and letter == "i":
                return ".".join(ip.exploded.replace(":", ""))
            return str(ip)
        if letter == "p":
            return "unknown"
        if letter == "v":
            return "ip6" if isinstance(ip, ipaddress.IPv6Address) else "in-addr"
        if letter == "h":
            return context.helo
        if letter == "r":
            return "unknown"
        return "0"  # "t": a timestamp; only in explanations, which are not fetched

    out: list[str] = []
    pos = 0
    while pos < len(text):
        if text[pos] != "%":
            out.append(text[pos])
            pos += 1
            continue
        escape = text[pos:pos + 2]
        if escape in ("%%", "%_", "%-"):
            out.append({"%%": "%", "%_": " ", "%-": "%20"}[escape])
            pos += 2
            continue
        macro = _MACRO.match(text, pos)
        if macro is None:
            raise SpfSyntaxError(f"bad macro at {text[pos:pos + 16]!r}")
        pos = macro.end()
        value = letter_value(macro.group(1).lower())
        delimiters = macro.group(4) or "."
        parts = re.split("[" + re.escape(delimiters) + "]", value)
        if macro.group(3):
            parts.reverse()
        if macro.group(2):
            keep = int(macro.group(2)[:4])
            if keep == 0:
                raise SpfSyntaxError("a macro cannot keep zero labels (§7.1)")
            parts = parts[-keep:]
        expanded = ".".join(parts)
        if macro.group(1).isupper():  # URL-escaped form (§7.3)
            expanded = re.sub(r"[^A-Za-z0-9\-._~]",
                              lambda m: "".join(f"%{b:02X}" for b in m.group().encode()),
                              expanded)
        out.append(expanded)
    return "".join(out)


def _truncate(name: str) -> str:
    """§7.3: an expanded name over 253 characters loses labels on the left."""
    name = name.rstrip(".")
    while len(name) > 253 and "." in name:
        name = name.split(".", 1)[1]
    return name


_LABEL = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)")


def _is_domain(name: str) -> bool:
    """§4.3: a fully qualified domain name: at least two labels, each 1-63 characters."""
    labels = name.rstrip(".").split(".")
    return (len(labels) >= 2 and len(name) <= 253
            and all(_LABEL.fullmatch(label) for label in labels))


class _PermError(Exception):
    pass


class _TempError(Exception):
    pass


@dataclass(slots=True)
class _Budget:
    dns_terms: int = 0
    void_lookups: int = 0
    visited: list[str] = field(default_factory=list)

    def spend_term(self) -> None:
        self.dns_terms += 1
        if self.dns_terms > MAX_DNS_TERMS:
            raise _PermError(f"more than {MAX_DNS_TERMS} DNS-querying terms")

    def void(self) -> None:
        self.void_lookups += 1
        if self.void_lookups > MAX_VOID_LOOKUPS:
            raise _PermError(f"more than {MAX_VOID_LOOKUPS} void DNS lookups")


async def check_host(resolver: SpfResolver, ip: str, domain: str, sender: str,
                     helo: str = "") -> SpfOutcome:
    """RFC 7208 §4: the SPF result for ``ip`` sending as ``sender`` (local@domain; for the
    null sender, ``postmaster@<helo>``) under ``domain``'s policy."""
    domain = domain.rstrip(".").lower()
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return SpfOutcome(SpfResult.NONE, domain, "no client address")
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if not _is_domain(domain):
        return SpfOutcome(SpfResult.NONE, domain, "not a domain name")
    context = _Context(address, sender, helo)
    budget = _Budget()
    try:
        result, reason = await _check(resolver, context, domain, budget)
    except _PermError as exc:
        return SpfOutcome(SpfResult.PERMERROR, domain, str(exc))
    except _TempError as exc:
        return SpfOutcome(SpfResult.TEMPERROR, domain, str(exc))
    return SpfOutcome(result, domain, reason)


async def _check(resolver: SpfResolver, context: _Context, domain: str,
                 budget: _Budget) -> tuple[SpfResult, str]:
    record = await _find_record(resolver, domain)
    if record is None:
        return SpfResult.NONE, f"no SPF record for {domain}"
    for mechanism in record.mechanisms:
        if await _matches(resolver, context, domain, mechanism, budget):
            return mechanism.qualifier, f"{_describe(mechanism)} matched {context.ip}"
    if record.redirect is not None:
        budget.spend_term()
        target = _target(record.redirect, context, domain)
        result, reason = await _check(resolver, context, target, budget)
        if result is SpfResult.NONE:
            raise _PermError(f"redirect to {target}, which has no SPF record")
        return result, reason
    return SpfResult.NEUTRAL, f"no mechanism of {domain} matched {context.ip}"


async def _find_record(resolver: SpfResolver, domain: str) -> SpfRecord | None:
    try:
        answers = await resolver.txt(domain)
    except DomainNotFound:
        return None
    except DnsTemporaryError as exc:
        raise _TempError(f"DNS lookup for {domain} failed") from exc
    texts = [answer.decode("latin-1") for answer in answers]
    records = [text for text in texts if is_spf_record(text)]
    if not records:
        return None
    if len(records) > 1:
        raise _PermError(f"{domain} publishes {len(records)} SPF records (§4.5)")
    try:
        return parse_record(records[0])
    except SpfSyntaxError as exc:
        raise _PermError(f"{domain}: {exc}") from exc


def _describe(mechanism: Mechanism) -> str:
    if mechanism.network is not None:
        return f"{mechanism.name}:{mechanism.network}"
    return mechanism.name + (f":{mechanism.domain_spec}" if mechanism.domain_spec else "")


def _target(spec: str | None, context: _Context, domain: str) -> str:
    if spec is None:
        return domain
    try:
        name = _truncate(_expand(spec, context, domain)).lower()
    except SpfSyntaxError as exc:
        raise _PermError(str(exc)) from exc
    if not _is_domain(name):
        raise _PermError(f"{name[:64]!r} is not a domain name")
    return name


async def _matches(resolver: SpfResolver, context: _Context, domain: str,
                   mechanism: Mechanism, budget: _Budget) -> bool:
    name = mechanism.name
    if name == "all":
        return True
    if mechanism.network is not None:
        return context.ip.version == mechanism.network.version and \
            context.ip in mechanism.network
    budget.spend_term()
    target = _target(mechanism.domain_spec, context, domain)
    if name == "include":
        return await _include(resolver, context, target, budget)
    if name == "a":
        return _in_prefix(context.ip, await _addresses(resolver, target, budget), mechanism)
    if name == "mx":
        exchanges = await _mx(resolver, target, budget)
        for exchange in exchanges[:_MAX_NAMES]:
            if _in_prefix(context.ip, await _addresses(resolver, exchange, budget), mechanism):
                return True
        return False
    if name == "exists":
        return bool(await _addresses(resolver, target, budget, ipv4_only=True))
    return await _ptr(resolver, context, target)


async def _include(resolver: SpfResolver, context: _Context, target: str,
                   budget: _Budget) -> bool:
    """§5.2: pass matches; fail, softfail and neutral do not; errors propagate; none is a
    permerror."""
    if target in budget.visited:
        raise _PermError(f"include loop through {target}")
    budget.visited.append(target)
    result, _reason = await _check(resolver, context, target, budget)
    budget.visited.pop()
    if result is SpfResult.NONE:
        raise _PermError(f"include:{target} has no SPF record")
    return result is SpfResult.PASS


async def _addresses(resolver: SpfResolver, host: str, budget: _Budget, *,
                     ipv4_only: bool = False) -> list[str]:
    try:
        found = await resolver.addresses(host)
    except DomainNotFound:
        found = []
    except DnsTemporaryError as exc:
        raise _TempError(f"DNS lookup for {host} failed") from exc
    if ipv4_only:  # "exists" asks for A records only (§5.7)
        found = [a for a in found if ":" not in a]
    if not found:
        budget.void()
    return found


async def _mx(resolver: SpfResolver, domain: str, budget: _Budget) -> list[str]:
    try:
        records = await resolver.mx(domain)
    except DomainNotFound:
        records = []
    except DnsTemporaryError as exc:
        raise _TempError(f"MX lookup for {domain} failed") from exc
    if not records:
        budget.void()
    if len(records) > _MAX_NAMES:
        raise _PermError(f"{domain} has more than {_MAX_NAMES} MX records (§4.6.4)")
    return [r.exchange for r in records if r.exchange]


def _in_prefix(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, addresses: list[str],
               mechanism: Mechanism) -> bool:
    prefix = mechanism.cidr4 if ip.version == 4 else mechanism.cidr6
    network = ipaddress.ip_network(f"{ip}/{prefix}", strict=False)
    for text in addresses:
        try:
            candidate = ipaddress.ip_address(text)
        except ValueError:
            continue
        if candidate.version == ip.version and candidate in network:
            return True
    return False


async def _ptr(resolver: SpfResolver, context: _Context, target: str) -> bool:
    """§5.5: a validated reverse name of the client in ``target`` or below it. DNS errors
    here only make the mechanism fail to match."""
    try:
        names = await resolver.ptr(str(context.ip))
    except (DomainNotFound, DnsTemporaryError):
        return False
    for name in names[:_MAX_NAMES]:
        name = name.rstrip(".").lower()
        if name != target and not name.endswith("." + target):
            continue
        try:
            if str(context.ip) in await resolver.addresses(name):
                return True
        except (DomainNotFound, DnsTemporaryError):
            continue
    return False
