"""What the server advertises, by connection state (RFC 9051 §6.1.1, §7.2.2).

How this works
--------------
One function computes the list from the few facts that change it, so the greeting, the
CAPABILITY command and the ``[CAPABILITY ...]`` codes after STARTTLS and login always agree:

* before authentication: the revisions, the extensions a client needs to log in (SASL-IR,
  ID, ENABLE, LITERAL+), the SASL mechanisms this connection allows, ``STARTTLS`` while it is
  possible, and ``LOGINDISABLED`` while passwords may not cross in clear (RFC 9051 §6.2.3);
* after authentication: everything implemented, ``COMPRESS=DEFLATE`` until compression is on
  (RFC 4978 §3), ``APPENDLIMIT=n`` (RFC 7889) from ``[limits] max_message_size``, and
  CONDSTORE and QRESYNC (RFC 7162), NOTIFY (RFC 5465).

LITERAL+ (RFC 7888) rather than LITERAL-: the framer accepts non-synchronizing literals up to
the APPEND limit, so clients need not wait for ``+`` when uploading.
"""

from __future__ import annotations

__all__ = ["capabilities"]

_ALWAYS = ("IMAP4rev1", "IMAP4rev2", "SASL-IR", "LITERAL+", "ENABLE", "ID", "IDLE")

_AUTHENTICATED = (
    "NAMESPACE", "UNSELECT", "UIDPLUS", "MOVE", "CHILDREN", "LIST-EXTENDED", "LIST-STATUS",
    "SPECIAL-USE", "CREATE-SPECIAL-USE", "ESEARCH", "SEARCHRES", "SORT",
    "THREAD=ORDEREDSUBJECT", "THREAD=REFERENCES", "QUOTA", "QUOTA=RES-STORAGE",
    "QUOTA=RES-MESSAGE", "MULTIAPPEND", "BINARY", "UNAUTHENTICATE", "STATUS=SIZE", "PREVIEW",
    "WITHIN", "CONDSTORE", "QRESYNC", "NOTIFY",
)  # fmt: skip


def capabilities(
    *,
    authenticated: bool,
    tls_active: bool,
    starttls_available: bool,
    allow_plaintext: bool,
    mechanisms: tuple[str, ...],
    compression_active: bool,
    append_limit: int,
) -> tuple[str, ...]:
    names = list(_ALWAYS)
    if not authenticated:
        if starttls_available and not tls_active:
            names.append("STARTTLS")
        if not tls_active and not allow_plaintext:
            names.append("LOGINDISABLED")
        names.extend(f"AUTH={mechanism}" for mechanism in mechanisms)
        return tuple(names)
    names.extend(_AUTHENTICATED)
    names.append(f"APPENDLIMIT={append_limit}")
    if not compression_active:
        names.append("COMPRESS=DEFLATE")
    return tuple(names)
