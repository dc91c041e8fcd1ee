"""IMAP command handlers, one module per command family; the session dispatches to them."""
