"""Who may send, which recipients are accepted, and where their mail goes.

How this works: one Policy per SMTP session (or local submission), in one of three modes. The
session asks ``check_sender`` for each MAIL and ``route_recipient`` for each RCPT; the answer is
a refusal Reply, or for RCPT a Route that says which local accounts and which remote addresses
the recipient stands for. Delivery (delivery.py) only ever sees Routes, so the same decisions
serve SMTP sessions and the local submission path (submit.py). The store is only read here.

Modes:

- MX (the ``smtp`` listener, mail from other servers): any sender, the null sender included
  (RFC 5321 §4.5.5). Recipients must be in a local domain and resolve (aliases, ``user+tag``,
  catch-all) through ``store.resolve_recipient``; an unknown user is 550 5.1.1, any other domain is
  550 5.7.1 (no relaying). MX never authenticates users: a user who wants to relay uses
  submission. Alias targets outside our domains are forwarded through the outbound queue.
- SUBMISSION (authenticated users, RFC 6409): the sender must be an address the user owns
  (``store.addresses_of``: own address and aliases; ``user+tag@`` of an owned address too),
  compared case-insensitively; the null sender is refused. Any recipient: local ones are
  delivered directly, remote ones go to the outbound queue.
- LOCAL (trusted callers inside the process, e.g. bounces): any sender, any recipient.

Forms that route mail somewhere else than the domain says are refused with 550 5.7.1 and never
treated as local nor relayed: ``user%remote@local`` and ``user!remote@local`` (the old
percent-hack and UUCP bang paths), quoted local parts hiding such an address
(``"user@remote"@local``), and on MX any source route (``@a:user@b``, RFC 5321 §3.6.1 and
Appendix C). Submission only refuses the first three for local domains: for a remote domain the
local part is that domain's business, and a source route is dropped (authenticated users may
relay anyway). ``<Postmaster>`` without a domain is accepted (RFC 5321 §4.5.1) and goes to
postmaster at our primary domain: the one the server's hostname is in, else the first by name.

Quota: a recipient whose every account is full is refused at RCPT with 452 4.2.2 (temporary:
the owner may make room, RFC 3463 §3.3), using the SIZE the client declared when there is one.
Refusing at RCPT keeps failures after DATA rare; delivery.py handles the rest.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from postier.addresses import SUBADDRESS_SEPARATOR, normalize_domain
from postier.errors import InvalidArgument
from postier.smtp import replies as r
from postier.smtp.commands import DsnNotify, MailFrom, RcptTo
from postier.smtp.paths import is_address_literal, local_part_value, split_address
from postier.smtp.replies import Reply
from postier.store.interface import OutboundRecipient, Recipient, Store
from postier.types import AccountId, Principal

__all__ = ["Mode", "Policy", "Route"]

# Characters that make a local part name another mailbox than the one in its domain.
_ROUTING_CHARACTERS = frozenset("@%!")


class Mode(enum.Enum):
    MX = "mx"
    SUBMISSION = "submission"
    LOCAL = "local"


@dataclass(frozen=True, slots=True)
class Route:
    """Where mail for one accepted RCPT goes."""

    rcpt: RcptTo
    accounts: tuple[AccountId, ...] = ()
    remote: tuple[OutboundRecipient, ...] = ()


class Policy:
    def __init__(self, store: Store, mode: Mode, hostname: str) -> None:
        self._store = store
        self._mode = mode
        self._hostname = hostname.lower()
        self._local_domains: dict[str, bool] = {}  # per session: domains change rarely

    @property
    def mode(self) -> Mode:
        return self._mode

    async def check_sender(self, mail: MailFrom, principal: Principal | None) -> Reply | None:
        """None when the reverse-path is acceptable, else the refusal."""
        if self._mode is not Mode.SUBMISSION:
            return None
        if principal is None:
            return r.AUTH_REQUIRED
        if not mail.address:
            return r.NULL_SENDER_REFUSED
        owned = {a.lower() for a in await self._store.addresses_of(principal.account_id)}
        if not owned.intersection(_sender_forms(mail.address)):
            return r.SENDER_NOT_OWNED
        return None

    async def route_recipient(
        self, rcpt: RcptTo, principal: Principal | None, declared_size: int | None = None
    ) -> Route | Reply:
        """The Route for an acceptable recipient, else the refusal."""
        if self._mode is Mode.SUBMISSION and principal is None:
            return r.AUTH_REQUIRED
        if rcpt.had_source_route and self._mode is Mode.MX:
            return r.ADDRESS_FORM_REFUSED
        local, domain = split_address(rcpt.address)
        if not domain:
            return await self._route_postmaster(rcpt)
        value = local_part_value(local)
        rerouting = bool(_ROUTING_CHARACTERS.intersection(value))
        if rerouting and self._mode is Mode.MX:
            return r.ADDRESS_FORM_REFUSED
        try:
            is_local = await self._is_local_domain(domain)
        except InvalidArgument:
            return r.BAD_RECIPIENT_ADDRESS  # e.g. a label over 63 octets
        if not is_local:
            if self._mode is Mode.MX:
                return r.RELAY_DENIED
            return Route(rcpt, remote=(_outbound(rcpt, rcpt.address),))
        if rerouting:
            return r.ADDRESS_FORM_REFUSED
        try:
            recipient = await self._store.resolve_recipient(f"{value}@{domain}")
        except InvalidArgument:
            return r.NO_SUCH_USER  # a local part no account can have (spaces, too long)
        return await self._route_local(rcpt, recipient, declared_size)

    async def _route_local(
        self, rcpt: RcptTo, recipient: Recipient, declared_size: int | None
    ) -> Route | Reply:
        if not recipient.exists:
            return r.NO_SUCH_USER
        if recipient.accounts and not recipient.remote:
            full = [a for a in recipient.accounts if await self._is_full(a, declared_size)]
            if len(full) == len(recipient.accounts):
                return r.OVER_QUOTA_TEMPORARY
        remote = tuple(_outbound(rcpt, target) for target in recipient.remote)
        return Route(rcpt, recipient.accounts, remote)

    async def _route_postmaster(self, rcpt: RcptTo) -> Route | Reply:
        domains = sorted(
            (d.name for d in await self._store.list_domains()),
            key=lambda name: not _within(self._hostname, name),  # stable: then by name
        )
        for domain in domains:
            recipient = await self._store.resolve_recipient(f"postmaster@{domain}")
            if recipient.exists:
                return await self._route_local(rcpt, recipient, None)
        return r.NO_SUCH_USER

    async def _is_local_domain(self, domain: str) -> bool:
        """Raises InvalidArgument for a name that cannot be a domain."""
        if is_address_literal(domain):
            return False  # mail for [192.0.2.1] is never ours to keep
        name = normalize_domain(domain)
        known = self._local_domains.get(name)
        if known is None:
            known = self._local_domains[name] = await self._store.get_domain(name) is not None
        return known

    async def _is_full(self, account: AccountId, declared_size: int | None) -> bool:
        quota = await self._store.quota(account)
        if quota.limit_bytes is None:
            return False
        needed = declared_size if declared_size is not None else 1
        return quota.used_bytes + needed > quota.limit_bytes


def _sender_forms(address: str) -> set[str]:
    """The sender as owned addresses are stored (lower case, IDNA domain), and without its
    ``+tag`` (RFC 5233 sub-addressing)."""
    local, domain = split_address(address)
    if not domain or is_address_literal(domain):
        return set()
    try:
        domain = normalize_domain(domain)
    except InvalidArgument:
        return set()
    value = local_part_value(local).lower()
    base, separator, _tag = value.partition(SUBADDRESS_SEPARATOR)
    forms = {f"{value}@{domain}"}
    if separator and base:
        forms.add(f"{base}@{domain}")
    return forms


def _outbound(rcpt: RcptTo, address: str) -> OutboundRecipient:
    """A remote recipient with the DSN requests of its RCPT (RFC 3461 §4). When an alias
    expanded to ``address``, ORCPT keeps the address the sender used (RFC 3461 §4.2)."""
    notify = rcpt.notify
    orcpt = rcpt.orcpt
    if orcpt is None and address != rcpt.address:
        orcpt = ("rfc822", rcpt.address)
    return OutboundRecipient(
        address,
        notify=tuple(n.value for n in DsnNotify if notify is not None and n in notify),
        orcpt=None if orcpt is None else f"{orcpt[0]};{orcpt[1]}",
    )


def _within(hostname: str, domain: str) -> bool:
    return hostname == domain or hostname.endswith("." + domain)
