"""Mail authentication, pure modules over a resolver Protocol (no sockets, no store).

``dkim``: outbound DKIM signing. ``spf``, ``dkim_verify``, ``dmarc``: inbound checks (RFC 7208,
6376, 7489). ``verify``: the three together → a Verdict (action + Authentication-Results field,
rendered by ``results``), used by the SMTP MX session.
"""
