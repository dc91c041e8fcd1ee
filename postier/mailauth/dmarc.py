"""DMARC (RFC 7489): the From domain's policy, identifier alignment, and the result. No sockets.

How this works: ``find_policy`` looks for a ``v=DMARC1`` TXT record at ``_dmarc.<From domain>``
and, when there is none, at ``_dmarc.<organizational domain>`` (§6.6.3). ``parse_record`` reads
one record (raising only ``DmarcSyntaxError``). ``evaluate`` then decides: DMARC passes when an
SPF pass or a DKIM pass is for a domain *aligned* with the From domain (§3.1: the same
organizational domain in relaxed mode, the same name in strict mode), and says what the policy
asks for the message: none, quarantine or reject (``sp=`` for subdomains, ``pct=`` sampling).

Organizational domain (§3.2): the public suffix plus one label, found with the Public Suffix
List bundled in the ``publicsuffixlist`` package (offline; updated with the package). A name
the list does not know falls under its default rule "*", so ``example.test`` is its own
organizational domain.

Temporary failures: a DNS failure fetching the policy is ``temperror``; so is a failed
evaluation where an *aligned* SPF or DKIM check failed temporarily, because that check could
have passed. The caller must then not reject permanently (see verify.py).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

from publicsuffixlist import PublicSuffixList

from postier.dns import DnsTemporaryError, DomainNotFound

__all__ = [
    "Alignment",
    "Check",
    "Disposition",
    "DmarcOutcome",
    "DmarcRecord",
    "DmarcResolver",
    "DmarcResult",
    "DmarcSyntaxError",
    "FoundPolicy",
    "Identifier",
    "aligned",
    "evaluate",
    "find_policy",
    "organizational_domain",
    "parse_record",
]


class DmarcSyntaxError(ValueError):
    """A record that is not a usable DMARC record (§6.3, §6.6.3)."""


class DmarcResolver(Protocol):
    async def txt(self, name: str) -> list[bytes]: ...


class Alignment(enum.StrEnum):
    RELAXED = "r"
    STRICT = "s"


class Disposition(enum.StrEnum):
    NONE = "none"
    QUARANTINE = "quarantine"
    REJECT = "reject"


class DmarcResult(enum.StrEnum):
    NONE = "none"  # no policy published
    PASS = "pass"
    FAIL = "fail"
    TEMPERROR = "temperror"
    PERMERROR = "permerror"


@dataclass(frozen=True, slots=True)
class DmarcRecord:
    policy: Disposition
    subdomain_policy: Disposition | None = None
    adkim: Alignment = Alignment.RELAXED
    aspf: Alignment = Alignment.RELAXED
    percent: int = 100


_POLICIES = {d.value: d for d in Disposition}
_ALIGNMENTS = {a.value: a for a in Alignment}


def parse_record(text: str) -> DmarcRecord:
    """One TXT record → DmarcRecord (§6.3). Unknown tags and bad optional values are ignored
    (§6.3: "MUST be ignored"); a missing or bad ``p=`` is ``none`` when ``rua=`` is present
    (§6.6.3), else the record is unusable."""
    tags: dict[str, str] = {}
    for index, part in enumerate(text.split(";")):
        name, equals, value = part.partition("=")
        name, value = name.strip().lower(), value.strip()
        if index == 0:
            if name != "v" or value != "DMARC1":
                raise DmarcSyntaxError("a DMARC record starts with v=DMARC1")
            continue
        if not name and not equals:
            continue  # an empty part, as after a final ";"
        if not equals or not name:
            raise DmarcSyntaxError(f"bad tag {part.strip()[:32]!r}")
        tags.setdefault(name, value)
    policy = _POLICIES.get(tags.get("p", "").lower())
    if policy is None:
        if "rua" not in tags:
            raise DmarcSyntaxError("no valid p= tag")
        policy = Disposition.NONE
    percent_text = tags.get("pct", "100")
    percent = int(percent_text) if percent_text.isdigit() and len(percent_text) <= 3 else 100
    return DmarcRecord(
        policy=policy,
        subdomain_policy=_POLICIES.get(tags.get("sp", "").lower()),
        adkim=_ALIGNMENTS.get(tags.get("adkim", "r").lower(), Alignment.RELAXED),
        aspf=_ALIGNMENTS.get(tags.get("aspf", "r").lower(), Alignment.RELAXED),
        percent=min(percent, 100),
    )


@lru_cache(maxsize=1)
def _suffix_list() -> PublicSuffixList:
    return PublicSuffixList()


def organizational_domain(domain: str) -> str:
    """§3.2: the registered domain (public suffix plus one label), lower case."""
    name = domain.rstrip(".").lower()
    try:
        found = _suffix_list().privatesuffix(name)
    except (ValueError, UnicodeError):  # an undecodable label: the name itself
        found = None
    return found or name


def aligned(identifier: str, from_domain: str, mode: Alignment) -> bool:
    a, b = identifier.rstrip(".").lower(), from_domain.rstrip(".").lower()
    if mode is Alignment.STRICT:
        return a == b
    return organizational_domain(a) == organizational_domain(b)


@dataclass(frozen=True, slots=True)
class FoundPolicy:
    record: DmarcRecord | None  # None: no policy (result "none")
    domain: str  # where it was found (the From domain or its organizational domain)
    temporary_error: bool = False


async def find_policy(resolver: DmarcResolver, from_domain: str) -> FoundPolicy:
    """§6.6.3: the From domain's record, else its organizational domain's."""
    domain = from_domain.rstrip(".").lower()
    organizational = organizational_domain(domain)
    for candidate in dict.fromkeys((domain, organizational)):
        try:
            answers = await resolver.txt(f"_dmarc.{candidate}")
        except DomainNotFound:
            continue
        except DnsTemporaryError:
            return FoundPolicy(None, candidate, temporary_error=True)
        records = []
        for answer in answers:
            text = answer.decode("latin-1")
            if not text.startswith("v=DMARC1"):
                continue
            try:
                records.append(parse_record(text))
            except DmarcSyntaxError:
                continue
        if len(records) == 1:
            return FoundPolicy(records[0], candidate)
        if len(records) > 1:
            return FoundPolicy(None, candidate)  # §6.6.3: several records, no policy
    return FoundPolicy(None, organizational)


class Identifier(enum.Enum):
    SPF = "spf"
    DKIM = "dkim"


@dataclass(frozen=True, slots=True)
class Check:
    """One authenticated identifier: SPF's MAIL FROM (or HELO) domain, or a DKIM d=."""

    kind: Identifier
    domain: str
    passed: bool
    temporary_error: bool = False


@dataclass(frozen=True, slots=True)
class DmarcOutcome:
    result: DmarcResult
    from_domain: str
    policy: Disposition = Disposition.NONE  # what the published policy asks (before pct)
    disposition: Disposition = Disposition.NONE  # what applies to this message (after pct)
    reason: str = ""


def evaluate(from_domain: str, found: FoundPolicy, checks: list[Check],
             sample: float = 0.0) -> DmarcOutcome:
    """The DMARC result for a From domain given the policy and the SPF/DKIM checks.
    ``sample`` in [0, 1) decides ``pct=`` sampling (§6.6.4)."""
    domain = from_domain.rstrip(".").lower()
    if found.temporary_error:
        return DmarcOutcome(DmarcResult.TEMPERROR, domain, reason="policy lookup failed")
    record = found.record
    if record is None:
        return DmarcOutcome(DmarcResult.NONE, domain, reason="no policy")
    policy = record.policy
    if found.domain != domain and record.subdomain_policy is not None:
        policy = record.subdomain_policy
    candidates = [c for c in checks
                  if aligned(c.domain, domain,
                             record.aspf if c.kind is Identifier.SPF else record.adkim)]
    for check in candidates:
        if check.passed:
            return DmarcOutcome(DmarcResult.PASS, domain, policy,
                                reason=f"aligned {check.kind.value} pass for {check.domain}")
    if any(c.temporary_error for c in candidates):
        return DmarcOutcome(DmarcResult.TEMPERROR, domain, policy,
                            reason="an aligned check failed temporarily")
    disposition = policy
    if record.percent < 100 and sample * 100 >= record.percent:
        # §6.6.4: outside the sample, apply the next less severe policy.
        disposition = {Disposition.REJECT: Disposition.QUARANTINE,
                       Disposition.QUARANTINE: Disposition.NONE,
                       Disposition.NONE: Disposition.NONE}[policy]
    return DmarcOutcome(DmarcResult.FAIL, domain, policy, disposition,
                        reason="no aligned pass")
