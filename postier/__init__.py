"""Postier: a complete mail server on one store."""

__version__ = "0.1.0"
