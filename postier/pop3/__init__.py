"""POP3 (RFC 1939 with CAPA, STLS, SASL and UTF8): a pure machine plus a thin async session.

wire, commands, responses, events, protocol and maildrop are pure; session, storage, locks and
retention talk to the store. The listener handler is ``postier.pop3.session.pop3_handler``.
"""
