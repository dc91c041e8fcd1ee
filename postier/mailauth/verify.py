"""Inbound authentication of one message: SPF, DKIM, DMARC, and what to do with it.

How this works: ``authenticate`` runs the three checks in order over a ``MailAuthResolver``
(Postier's async DNS resolver in the server) and returns a ``Verdict``: the results, rendered as
an ``Authentication-Results`` field by ``Verdict.header_field``, and an ``Action``:

- DELIVER: to the INBOX;
- QUARANTINE: to the account's Junk folder (DMARC fail under ``p=quarantine``, or ``p=reject``
  when rejecting is turned off);
- REJECT: refuse permanently (DMARC fail under ``p=reject``; SPF fail when
  ``spf_fail_reject`` is on and DMARC did not pass: RFC 7489 §10.1 advises against rejecting
  on SPF alone before DMARC had its say);
- DEFER: refuse temporarily. Only when a ``p=reject`` policy would reject but an aligned SPF or
  DKIM check failed with a DNS temperror: it might have passed, so the sender keeps the
  message and retries (RFC 7489 §6.6.2 leaves temporary failures to the receiver).

Every other DNS temporary failure (no policy could be fetched, SPF of a domain that publishes
no DMARC policy, ...) delivers the message with ``temperror`` in the field: a failed lookup
never makes Postier lose or permanently refuse mail.

SPF checks the MAIL FROM domain, or the HELO name when MAIL FROM is null (RFC 7208 §2.4); DMARC
uses that same identity (RFC 7489 §3.1.2). DMARC is evaluated for every domain of every From
field (at most ``_MAX_FROM_DOMAINS``): a message cannot escape a strict policy by listing two
authors or two From fields (RFC 7489 §6.6.1); the most severe action wins.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from postier.addresses import normalize_domain
from postier.dns import MxRecord
from postier.errors import InvalidArgument
from postier.mailauth import dkim_verify, dmarc, spf
from postier.mailauth.dkim_verify import DkimOutcome, Offload
from postier.mailauth.dmarc import Disposition, DmarcOutcome, DmarcResult
from postier.mailauth.results import MethodResult, authentication_results
from postier.mailauth.spf import SpfOutcome, SpfResult
from postier.mime.address_list import RawMailbox, parse_address_list
from postier.mime.headers import header_fields

__all__ = ["Action", "InboundPolicy", "MailAuthResolver", "Verdict", "authenticate",
           "unavailable"]

_MAX_FROM_DOMAINS = 4


class MailAuthResolver(Protocol):
    async def txt(self, name: str) -> list[bytes]: ...

    async def mx(self, domain: str) -> list[MxRecord]: ...

    async def addresses(self, host: str) -> list[str]: ...

    async def ptr(self, address: str) -> list[str]: ...


class Action(enum.IntEnum):
    """What to do with the message; a larger value is more severe."""

    DELIVER = 0
    QUARANTINE = 1
    DEFER = 2
    REJECT = 3


@dataclass(frozen=True, slots=True)
class InboundPolicy:
    dmarc_reject: bool = True
    spf_fail_reject: bool = False


@dataclass(frozen=True, slots=True)
class Verdict:
    action: Action
    reason: str  # why, for the log and the reply text; "" when delivered normally
    spf: SpfOutcome
    spf_property: tuple[str, str]  # ("smtp.mailfrom", address) or ("smtp.helo", name)
    dkim: tuple[DkimOutcome, ...] = ()
    dmarc: tuple[DmarcOutcome, ...] = ()

    def header_field(self, authserv_id: str) -> bytes:
        results: list[MethodResult] = [
            ("spf", self.spf.result.value, self.spf.reason, [self.spf_property])]
        for signature in self.dkim:
            results.append(("dkim", signature.result, signature.reason,
                            [("header.d", signature.domain), ("header.s", signature.selector),
                             ("header.b", signature.b_prefix)]))
        if not self.dkim:
            results.append(("dkim", "none", "", []))
        for outcome in self.dmarc:
            comment = outcome.reason
            if outcome.result in (DmarcResult.FAIL, DmarcResult.PASS, DmarcResult.TEMPERROR):
                comment = f"p={outcome.policy.value} dis={outcome.disposition.value}"
            results.append(("dmarc", outcome.result.value, comment,
                            [("header.from", outcome.from_domain)]))
        if not self.dmarc:
            results.append(("dmarc", "none", "no From domain", []))
        return authentication_results(authserv_id, results)


def _spf_identity(mail_from: str, helo: str | None) -> tuple[str, str, tuple[str, str]]:
    """(domain, sender, A-R property) of the identity SPF checks."""
    if mail_from:
        domain = mail_from.rpartition("@")[2]
        return domain, mail_from, ("smtp.mailfrom", mail_from)
    name = helo or ""
    return name, f"postmaster@{name}", ("smtp.helo", name)


def _ascii_domain(domain: str) -> str | None:
    try:
        return normalize_domain(domain)
    except InvalidArgument:
        return None


def from_domains(message: bytes) -> list[str]:
    """The domains of every mailbox of every From field, in order, without repeats."""
    domains: list[str] = []
    for field in header_fields(message):
        if field.name.lower() != "from":
            continue
        for item in parse_address_list(field.value):
            if isinstance(item, RawMailbox) and item.domain:
                domain = _ascii_domain(item.domain)
                if domain is not None and domain not in domains:
                    domains.append(domain)
    return domains[:_MAX_FROM_DOMAINS]


async def authenticate(message: bytes, *, client_ip: str, helo: str | None, mail_from: str,
                       resolver: MailAuthResolver, offload: Offload,
                       policy: InboundPolicy = InboundPolicy(),
                       sample: float = 0.0) -> Verdict:
    """SPF, DKIM and DMARC for a message received from ``client_ip``. ``sample`` in [0, 1)
    decides DMARC ``pct=`` sampling. Raises nothing for DNS trouble: it becomes temperror."""
    spf_domain, sender, spf_property = _spf_identity(mail_from, helo)
    ascii_domain = _ascii_domain(spf_domain) if spf_domain else None
    if ascii_domain is None:
        spf_outcome = SpfOutcome(SpfResult.NONE, spf_domain, "no domain to check")
    else:
        spf_outcome = await spf.check_host(resolver, client_ip, ascii_domain, sender,
                                           helo or "")
    signatures = await dkim_verify.verify(message, resolver, offload)
    checks = [dmarc.Check(dmarc.Identifier.SPF, spf_outcome.domain,
                          spf_outcome.result is SpfResult.PASS,
                          spf_outcome.result is SpfResult.TEMPERROR)]
    checks += [dmarc.Check(dmarc.Identifier.DKIM, s.domain, s.result == "pass",
                           s.result == "temperror") for s in signatures]
    outcomes = []
    for domain in from_domains(message):
        found = await dmarc.find_policy(resolver, domain)
        outcomes.append(dmarc.evaluate(domain, found, checks, sample))
    action, reason = _decide(spf_outcome, outcomes, policy)
    return Verdict(action, reason, spf_outcome, spf_property, tuple(signatures),
                   tuple(outcomes))


def _decide(spf_outcome: SpfOutcome, outcomes: Sequence[DmarcOutcome],
            policy: InboundPolicy) -> tuple[Action, str]:
    action, reason = Action.DELIVER, ""

    def worse(candidate: Action, why: str) -> None:
        nonlocal action, reason
        if candidate > action:
            action, reason = candidate, why

    for outcome in outcomes:
        domain = outcome.from_domain
        if outcome.result is DmarcResult.FAIL:
            if outcome.disposition is Disposition.REJECT:
                if policy.dmarc_reject:
                    worse(Action.REJECT, f"DMARC policy of {domain} rejects this message")
                else:
                    worse(Action.QUARANTINE, f"DMARC policy of {domain}: reject (quarantined)")
            elif outcome.disposition is Disposition.QUARANTINE:
                worse(Action.QUARANTINE, f"DMARC policy of {domain}: quarantine")
        elif (outcome.result is DmarcResult.TEMPERROR and outcome.policy is Disposition.REJECT
              and policy.dmarc_reject):
            worse(Action.DEFER, f"DMARC check of {domain} failed temporarily")
    dmarc_passed = any(o.result is DmarcResult.PASS for o in outcomes)
    if policy.spf_fail_reject and spf_outcome.result is SpfResult.FAIL and not dmarc_passed:
        worse(Action.REJECT, f"SPF of {spf_outcome.domain} does not allow this sender")
    return action, reason


def unavailable(mail_from: str, helo: str | None, reason: str) -> Verdict:
    """The verdict when the checks could not finish (the overall time limit): deliver, and
    say temperror."""
    domain, _sender, spf_property = _spf_identity(mail_from, helo)
    return Verdict(Action.DELIVER, "", SpfOutcome(SpfResult.TEMPERROR, domain, reason),
                   spf_property,
                   dmarc=(DmarcOutcome(DmarcResult.TEMPERROR, "", reason=reason),))
