"""DKIM verification (RFC 6376 §6) of every signature of a received message. No sockets.

How this works, in two steps so that DNS stays on Postier's async resolver and the CPU work
(canonicalising and hashing the body, the RSA check) can run off the event loop:

1. ``signatures`` reads the ``DKIM-Signature`` fields of the header (cheap) and ``fetch_keys``
   asks the resolver for the TXT record of each ``<s>._domainkey.<d>``;
2. ``verify_signatures`` (synchronous, meant for a worker thread) hands each signature to
   dkimpy with a ``dnsfunc`` that answers from those prefetched records, never from the network.

Each signature gets one RFC 8601 result: ``pass``; ``fail`` (bad signature or body hash);
``permerror`` (malformed signature, no key or a bad key: dkimpy would report all of these as
plain failure, so the key is checked here first); ``temperror`` (the key lookup failed
temporarily: the signature may be good, the caller must not reject for it). At most
``MAX_SIGNATURES`` are looked at, so a message cannot make us do unbounded DNS and RSA work.
"""

from __future__ import annotations

import binascii
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Protocol, TypeVar

import dkim  # type: ignore[import-untyped]  # dkimpy ships no type information

from postier.dns import DnsTemporaryError, DomainNotFound
from postier.mime.headers import header_fields

__all__ = ["MAX_SIGNATURES", "DkimOutcome", "KeyLookup", "Signature", "fetch_keys",
           "signatures", "verify", "verify_signatures"]

MAX_SIGNATURES = 8
_T = TypeVar("_T")
_NAME = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,251}[A-Za-z0-9])?")
# dkimpy logs verification problems at error level; they are results here, not server errors.
_DKIMPY_LOG = logging.getLogger("postier.mailauth.dkimpy")
_DKIMPY_LOG.setLevel(logging.CRITICAL)


class KeyResolver(Protocol):
    async def txt(self, name: str) -> list[bytes]: ...


class Offload(Protocol):
    def __call__(self, function: Callable[[], _T], /) -> Awaitable[_T]: ...


@dataclass(frozen=True, slots=True)
class Signature:
    """What the header says of one signature, before verification."""

    domain: str
    selector: str
    b_prefix: str  # the first 8 characters of b= (RFC 6008 header.b)

    @property
    def key_name(self) -> str | None:
        name = f"{self.selector}._domainkey.{self.domain}".lower()
        return name if _NAME.fullmatch(self.selector) and _NAME.fullmatch(self.domain) else None


@dataclass(frozen=True, slots=True)
class KeyLookup:
    records: tuple[bytes, ...] = ()
    temporary_error: bool = False


@dataclass(frozen=True, slots=True)
class DkimOutcome:
    result: str  # pass, fail, permerror, temperror (RFC 8601 §2.7.1)
    domain: str
    selector: str
    b_prefix: str
    reason: str = ""


def _tags(value: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    for part in value.split(";"):
        name, _, tag_value = part.partition("=")
        tags.setdefault(name.strip().lower(), "".join(tag_value.split()))
    return tags


def signatures(message: bytes) -> list[Signature]:
    """The DKIM-Signature fields of the header, top first, at most MAX_SIGNATURES."""
    found = []
    for field in header_fields(message):
        if field.name.lower() != "dkim-signature":
            continue
        tags = _tags(field.value)
        found.append(Signature(tags.get("d", "").rstrip(".").lower(), tags.get("s", ""),
                               tags.get("b", "")[:8]))
        if len(found) == MAX_SIGNATURES:
            break
    return found


async def fetch_keys(resolver: KeyResolver, found: list[Signature]) -> dict[str, KeyLookup]:
    keys: dict[str, KeyLookup] = {}
    for signature in found:
        name = signature.key_name
        if name is None or name in keys:
            continue
        try:
            keys[name] = KeyLookup(tuple(await resolver.txt(name)))
        except DomainNotFound:
            keys[name] = KeyLookup()
        except DnsTemporaryError:
            keys[name] = KeyLookup(temporary_error=True)
    return keys


def verify_signatures(message: bytes, found: list[Signature],
                      keys: Mapping[str, KeyLookup]) -> list[DkimOutcome]:
    """Verify each signature of ``found`` (same order as the header) with prefetched keys."""
    if not found:
        return []
    try:
        verifier = dkim.DKIM(message, logger=_DKIMPY_LOG, minkey=1024)
    except Exception as exc:  # dkimpy on a hostile message: no signature can be checked
        return [DkimOutcome("permerror", s.domain, s.selector, s.b_prefix,
                            f"unparsable message: {type(exc).__name__}") for s in found]
    return [_verify_one(verifier, index, signature, keys)
            for index, signature in enumerate(found)]


def _verify_one(verifier: dkim.DKIM, index: int, signature: Signature,
                keys: Mapping[str, KeyLookup]) -> DkimOutcome:
    def outcome(result: str, reason: str) -> DkimOutcome:
        return DkimOutcome(result, signature.domain, signature.selector, signature.b_prefix,
                           reason)

    name = signature.key_name
    if name is None:
        return outcome("permerror", "bad d= or s= tag")
    lookup = keys.get(name, KeyLookup())
    if lookup.temporary_error:
        return outcome("temperror", f"key lookup for {name} failed")
    if not lookup.records:
        return outcome("permerror", f"no key at {name}")
    record = lookup.records[0]
    try:
        dkim.evaluate_pk(name.encode("ascii"), record)
    except (dkim.DKIMException, binascii.Error, ValueError, IndexError, KeyError) as exc:
        return outcome("permerror", f"bad key: {_first_words(exc)}")

    def dnsfunc(_name: bytes, timeout: float = 5) -> bytes:
        return record

    try:
        prepared = verifier.verify_headerprep(index)
        if not prepared:
            return outcome("permerror", "signature not found")
        tags, include_headers, fields = prepared
        if f"{tags[b's'].decode()}._domainkey.{tags[b'd'].decode()}".lower() != name:
            return outcome("permerror", "signature tags do not match")
        good = verifier.verify_sig(tags, include_headers, fields[index], dnsfunc)
    except dkim.ValidationError as exc:
        result = "fail" if "body hash" in str(exc) else "permerror"
        return outcome(result, _first_words(exc))
    except dkim.DKIMException as exc:
        return outcome("permerror", _first_words(exc))
    except Exception as exc:  # dkimpy on hostile input: never let it take the message down
        return outcome("permerror", f"unverifiable ({type(exc).__name__})")
    return outcome("pass", "") if good else outcome("fail", "signature did not verify")


def _first_words(exc: BaseException) -> str:
    text = str(exc).split("(", 1)[0].strip()
    return text[:80] or type(exc).__name__


async def verify(message: bytes, resolver: KeyResolver, offload: Offload) -> list[DkimOutcome]:
    """Every signature's outcome: keys fetched here, the checks run through ``offload``
    (a worker thread in the server)."""
    found = signatures(message)
    if not found:
        return []
    keys = await fetch_keys(resolver, found)
    return await offload(lambda: verify_signatures(message, found, keys))
