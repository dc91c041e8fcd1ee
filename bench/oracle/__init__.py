"""Differential testing of Postier's IMAP and POP3 answers against Dovecot's.

``python -m bench.oracle`` (or ``scripts/oracle-diff``) starts a private Dovecot (configured as
``bench/reference`` does, with Postier's default mailboxes and a quota) and a Postier, gives
both the same accounts and messages, replays scripted command sequences over raw sockets on
both, and prints the normalised differences.
"""
